//! The DynamoDB store: the production adapter of the single table.
//!
//! Items, keys, index names and attribute names all come from the layout
//! generated from `proto/` (`astro_proto::storage`). Cost per call:
//! a column page is one `Query` on `StatusIndex`; the board's counts one
//! `Query` on the counter partition, at most once a second per instance (see
//! [`COUNTS_FRESH`]); a create one `TransactWriteItems`; a move or an edit
//! one `TransactWriteItems`; a card with its history one `Query` on its
//! partition. No `Scan`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use astro_proto::{
    storage::{
        self, ItemMap, KeyText, StoredEntity,
        dynamodb::{Av, av, av_item, key as key_of},
        timestamp_key,
    },
    v1::{
        BoardChange, CreateProspectRecord, Erasure, Form, FormVersion, Import, ImportFile, ImportRow, Invitation,
        Notification, NotificationState, PipelineWeek, Prospect, ProspectEvent, ProspectStatus, ProspectStatusCount,
        ProspectStatusCounter, Rescore, ScoringRules, ScoringRulesRevision, SecurityEvent, SignInFailures,
        SpentCaptcha, TeamSettings, User,
    },
};
use async_trait::async_trait;
use aws_sdk_dynamodb::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::{
        AttributeValue, Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest, TransactWriteItem, Update,
        WriteRequest,
    },
};

use super::{
    Column, ColumnPosition, CreateOutcome, MEMBER_PARTITION, NewProspect, ProspectChange, SEARCH_PARTITION, SearchKey,
    Store, StoreError, StoreResult, SubjectItems, add_counts, board_hours, counter_shard, dump::AnyEntity, expired,
    sum_counters,
};

/// Tries of a transaction cancelled by a concurrent one.
const TRANSACTION_ATTEMPTS: u32 = 8;

/// Items one `TransactWriteItems` may hold.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// How long the board's counts, once read, answer column pages without
/// another read: a column page is then one request. The page itself comes
/// from `StatusIndex`, a global secondary index, itself eventually
/// consistent (typically well under a second); this instance's own writes
/// are applied to the counts as they commit, so only other instances' moves
/// can show up to this late.
pub const COUNTS_FRESH: Duration = Duration::from_secs(1);

/// The board's counts as last read (and when), with this instance's writes since.
type ReadCounts = Arc<Mutex<Option<(Instant, Vec<ProspectStatusCount>)>>>;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    counts: ReadCounts,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), counts: Arc::default() }
    }

    /// Applies a committed write's column changes to the counts as read.
    fn counted(&self, changes: &[(ProspectStatus, i64)]) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, counts)) = counts.as_mut() {
            add_counts(counts, changes.iter().map(|&(status, delta)| (status as i32, delta)));
        }
    }

    async fn get<E: ItemMap>(&self, pk: String, sk: String) -> StoreResult<Option<E>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(storage::PK, AttributeValue::S(pk))
            .key(storage::SK, AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.as_ref().map(decode).transpose()
    }

    /// Runs one transaction. A failed condition comes back as the index of
    /// its item. Transactions that touch the same item at the same time (the
    /// column counters) cancel each other with `TransactionConflict`: those
    /// are retried with jittered backoff, then reported as `Unavailable`.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactionFailure> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        let mut attempt = 0u32;
        loop {
            let error = match self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let reasons: Vec<String> = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect()
                }
                _ => Vec::new(),
            };
            if let Some(index) = reasons.iter().position(|r| r == "ConditionalCheckFailed") {
                return Err(TransactionFailure::Condition(index));
            }
            let conflict = reasons.iter().any(|r| r == "TransactionConflict")
                || error.as_service_error().is_some_and(|e| e.code() == Some("TransactionConflictException"));
            if !conflict {
                return Err(TransactionFailure::Other(sdk_error(error)));
            }
            attempt += 1;
            if attempt >= TRANSACTION_ATTEMPTS {
                return Err(TransactionFailure::Other(StoreError::Unavailable(
                    "write contention: the transaction kept conflicting".into(),
                )));
            }
            let base = 5u64 << attempt;
            let jitter = rand::random::<u64>() % base;
            tokio::time::sleep(std::time::Duration::from_millis(base + jitter)).await;
        }
    }

    /// Writes `entity` if its stored version (attribute `version`) is still
    /// `expected` — 0: if it does not exist yet. On a failed condition, a
    /// fresh read says which: `NotFound`, or stale at the version found.
    async fn put_versioned<E: StoredEntity>(
        &self,
        what: &str,
        id: &str,
        entity: &E,
        version: &str,
        expected: i64,
        version_of: fn(&E) -> i64,
    ) -> StoreResult<()> {
        let put = match expected {
            0 => with_condition(self.put(entity, None), "attribute_not_exists(#pk)", &[("#pk", storage::PK)], vec![]),
            v => with_condition(
                self.put(entity, None),
                VERSION_CONDITION,
                &[("#version", version)],
                vec![(":version", AttributeValue::N(v.to_string()))],
            ),
        };
        match self.transact(vec![put]).await {
            Ok(()) => Ok(()),
            Err(TransactionFailure::Condition(_)) => match self.get::<E>(entity.pk(), entity.sk()).await? {
                None => Err(StoreError::NotFound),
                Some(stored) => Err(StoreError::stale(what, id, version_of(&stored), expected)),
            },
            Err(TransactionFailure::Other(e)) => Err(e),
        }
    }

    /// A page of `index`'s `partition` in the index's order, its sort key
    /// (`#s`) meeting `condition` on the value `:s` when given, strictly
    /// after `after`: one `Query`.
    async fn index_page(
        &self,
        index: &'static storage::IndexDef,
        partition: String,
        condition: Option<(&str, String)>,
        after: Option<ColumnPosition>,
        limit: usize,
    ) -> StoreResult<Vec<Prospect>> {
        let start = after.map(|p| {
            HashMap::from([
                (storage::PK.to_owned(), AttributeValue::S(storage::prospect::pk(&p.id))),
                (storage::SK.to_owned(), AttributeValue::S(storage::prospect::sk())),
                (index.partition_attribute.to_owned(), AttributeValue::S(partition.clone())),
                (index.sort_attribute.to_owned(), AttributeValue::S(p.sort)),
            ])
        });
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .expression_attribute_names("#p", index.partition_attribute)
            .expression_attribute_values(":p", AttributeValue::S(partition));
        let query = match condition {
            Some((condition, value)) => query
                .key_condition_expression(format!("#p = :p AND {condition}"))
                .expression_attribute_names("#s", index.sort_attribute)
                .expression_attribute_values(":s", AttributeValue::S(value)),
            None => query.key_condition_expression("#p = :p"),
        };
        let out = query
            .scan_index_forward(!index.newest_first)
            .limit(limit.min(i32::MAX as usize) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        out.items.unwrap_or_default().iter().map(decode).collect()
    }

    /// The write of the one item of its kind (settings, rules), conditioned
    /// on its stored `version` attribute being `expected`: 0 means none
    /// stored yet (a stored version is never 0).
    fn put_single<E: StoredEntity>(&self, entity: &E, version: &str, expected: i64) -> TransactWriteItem {
        let condition = match expected {
            0 => "attribute_not_exists(#version) OR #version = :version",
            _ => VERSION_CONDITION,
        };
        with_condition(
            self.put(entity, None),
            condition,
            &[("#version", version)],
            vec![(":version", AttributeValue::N(expected.to_string()))],
        )
    }

    fn put<E: StoredEntity>(&self, entity: &E, condition: Option<&str>) -> TransactWriteItem {
        let put = Put::builder().table_name(&self.table).set_item(Some(av_item(&entity.to_item())));
        let put = match condition {
            Some(c) => put.condition_expression(c),
            None => put,
        };
        TransactWriteItem::builder().put(put.build().expect("table and item are set")).build()
    }

    /// Adds `delta` to a random shard of a column's counter.
    fn bump(&self, status: ProspectStatus, delta: i64) -> TransactWriteItem {
        use storage::prospect_status_counter::{attribute, pk, sk};
        let shard = counter_shard();
        let update = Update::builder()
            .table_name(&self.table)
            .key(storage::PK, AttributeValue::S(pk()))
            .key(storage::SK, AttributeValue::S(sk(status, &shard)))
            .update_expression("SET #s = :s, #shard = :shard ADD #c :d")
            .expression_attribute_names("#s", attribute::STATUS)
            .expression_attribute_names("#shard", attribute::SHARD)
            .expression_attribute_names("#c", attribute::COUNT)
            .expression_attribute_values(":s", AttributeValue::S(status.key_text().to_owned()))
            .expression_attribute_values(":shard", AttributeValue::S(shard))
            .expression_attribute_values(":d", AttributeValue::N(delta.to_string()))
            .build()
            .expect("table, key and expression are set");
        TransactWriteItem::builder().update(update).build()
    }

    /// Adds a delta to its week's aggregate: `ADD` for the counts,
    /// `list_append` for the times — no read, and concurrent writes to one
    /// shard all count.
    fn add_to_week(&self, d: &PipelineWeek) -> TransactWriteItem {
        use storage::pipeline_week::attribute as a;
        let mut sets = vec!["#dimension = :dimension", "#week = :week", "#value = :value", "#shard = :shard"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        let mut adds = Vec::new();
        let mut names: Vec<(String, &str)> = vec![
            ("#dimension".into(), a::DIMENSION),
            ("#week".into(), a::WEEK),
            ("#value".into(), a::VALUE),
            ("#shard".into(), a::SHARD),
        ];
        let mut values: Vec<(String, AttributeValue)> = vec![
            (":dimension".into(), AttributeValue::S(d.dimension.clone())),
            (":week".into(), AttributeValue::S(d.week.clone())),
            (":value".into(), AttributeValue::S(d.value.clone())),
            (":shard".into(), AttributeValue::S(d.shard.clone())),
        ];
        for (i, (attribute, count)) in [
            (a::CREATED, d.created),
            (a::CONTACTED, d.contacted),
            (a::QUALIFIED, d.qualified),
            (a::WON, d.won),
            (a::LOST, d.lost),
        ]
        .into_iter()
        .enumerate()
        .filter(|(_, (_, n))| *n != 0)
        {
            adds.push(format!("#c{i} :c{i}"));
            names.push((format!("#c{i}"), attribute));
            values.push((format!(":c{i}"), AttributeValue::N(count.to_string())));
        }
        for (i, (attribute, list)) in [
            (a::FIRST_CONTACT_SECONDS, &d.first_contact_seconds),
            (a::NEW_SECONDS, &d.new_seconds),
            (a::CONTACTED_SECONDS, &d.contacted_seconds),
            (a::QUALIFIED_SECONDS, &d.qualified_seconds),
            (a::WON_SECONDS, &d.won_seconds),
            (a::LOST_SECONDS, &d.lost_seconds),
        ]
        .into_iter()
        .enumerate()
        .filter(|(_, (_, l))| !l.is_empty())
        {
            sets.push(format!("#l{i} = list_append(if_not_exists(#l{i}, :empty), :l{i})"));
            names.push((format!("#l{i}"), attribute));
            values.push((
                format!(":l{i}"),
                AttributeValue::L(list.iter().map(|n| AttributeValue::N(n.to_string())).collect()),
            ));
            if !values.iter().any(|(k, _)| k == ":empty") {
                values.push((":empty".into(), AttributeValue::L(Vec::new())));
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !adds.is_empty() {
            expression.push_str(&format!(" ADD {}", adds.join(", ")));
        }
        let update = Update::builder()
            .table_name(&self.table)
            .key(storage::PK, AttributeValue::S(d.pk()))
            .key(storage::SK, AttributeValue::S(d.sk()))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names.into_iter().map(|(k, v)| (k, v.to_owned())).collect()))
            .set_expression_attribute_values(Some(values.into_iter().collect()))
            .build()
            .expect("table, key and expression are set");
        TransactWriteItem::builder().update(update).build()
    }

    /// Every item of a partition, in key order (one `Query`, paged if large).
    async fn partition(&self, pk: &str) -> StoreResult<Vec<Av>> {
        let mut items = Vec::new();
        let mut start: Option<Av> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", storage::PK)
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// Prospects of `EmailIndex` for `email`, in index order from `start`.
    async fn email_page(
        &self,
        email: &str,
        start: Option<Av>,
        limit: Option<i32>,
    ) -> StoreResult<(Vec<Prospect>, Option<Av>)> {
        let index = &storage::EMAIL_INDEX;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#p = :p AND #s = :s")
            .expression_attribute_names("#p", index.partition_attribute)
            .expression_attribute_names("#s", index.sort_attribute)
            .expression_attribute_values(":p", AttributeValue::S(email.to_owned()))
            .expression_attribute_values(":s", AttributeValue::S(storage::prospect::sk()))
            .scan_index_forward(!index.newest_first)
            .set_limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let prospects = out.items.unwrap_or_default().iter().map(decode).collect::<StoreResult<Vec<Prospect>>>()?;
        Ok((prospects, out.last_evaluated_key.filter(|k| !k.is_empty())))
    }
}

impl DynamoStore {
    /// The id of the first card created with this address, if any (ids are
    /// time-ordered: the smallest of the address's cards).
    async fn first_with_email(&self, email: &str) -> StoreResult<Option<String>> {
        let (page, _) = self.email_page(email, None, Some(100)).await?;
        Ok(page.into_iter().map(|p| p.id).min())
    }

    /// BatchWriteItem: 25 requests a call; what DynamoDB leaves unprocessed
    /// (throttling) is sent again after a pause.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> StoreResult<()> {
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            for attempt in 0..TRANSACTION_ATTEMPTS {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                pending = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable("DynamoDB kept writes unprocessed: retry".into()));
            }
        }
        Ok(())
    }

    /// A page of partition `pk`, newest (highest sort key) first, strictly
    /// before the sort key `before`: one `Query`.
    async fn newest_first<E: ItemMap>(&self, pk: String, before: Option<String>, limit: usize) -> StoreResult<Vec<E>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#pk", storage::PK)
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .scan_index_forward(false)
            .limit(limit.min(i32::MAX as usize) as i32);
        let query = match before {
            Some(before) => query
                .key_condition_expression("#pk = :pk AND #sk < :before")
                .expression_attribute_names("#sk", storage::SK)
                .expression_attribute_values(":before", AttributeValue::S(before)),
            None => query.key_condition_expression("#pk = :pk"),
        };
        let out = query.send().await.map_err(sdk_error)?;
        out.items.unwrap_or_default().iter().map(decode).collect()
    }

    /// Deletes the items with these keys (batches of 25).
    async fn delete_keys(&self, keys: Vec<(String, String)>) -> StoreResult<()> {
        let requests: Vec<WriteRequest> = keys
            .into_iter()
            .map(|(pk, sk)| {
                let delete = DeleteRequest::builder()
                    .set_key(Some(key_of(pk, sk)))
                    .build()
                    .map_err(|e| StoreError::Internal(e.to_string()))?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<StoreResult<_>>()?;
        self.batch_write(requests).await
    }

    /// Writes these items as they are (batches of 25).
    async fn put_items(&self, items: impl IntoIterator<Item = storage::Item>) -> StoreResult<()> {
        let requests: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(av_item(&item)))
                    .build()
                    .map_err(|e| StoreError::Internal(e.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<StoreResult<_>>()?;
        self.batch_write(requests).await
    }

    /// The items of partition `pk` whose sort key is above `above` and
    /// below `below`, in key order, up to `limit` (pages of the `Query`
    /// followed until then).
    async fn sort_range<E: ItemMap>(
        &self,
        pk: String,
        above: String,
        below: &str,
        limit: usize,
    ) -> StoreResult<Vec<E>> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :above AND :below")
                .expression_attribute_names("#pk", storage::PK)
                .expression_attribute_names("#sk", storage::SK)
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .expression_attribute_values(":above", AttributeValue::S(above.clone()))
                .expression_attribute_values(":below", AttributeValue::S(below.to_owned()))
                .consistent_read(true)
                .limit((limit - found.len()).min(i32::MAX as usize) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                // BETWEEN includes its bounds: `above` is a position already read.
                if item.get(storage::SK).and_then(|v| v.as_s().ok()) != Some(&above) {
                    found.push(decode(&item)?);
                }
            }
            match out.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(key) if found.len() < limit => start = Some(key),
                _ => return Ok(found),
            }
        }
    }

    /// One queue of the outbox (`OutboxIndex`), soonest due first, up to `until`.
    async fn outbox(&self, queue: &str, until: Option<String>, limit: usize) -> StoreResult<Vec<Notification>> {
        let index = &storage::OUTBOX_INDEX;
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .expression_attribute_names("#q", index.partition_attribute)
            .expression_attribute_values(":q", AttributeValue::S(queue.to_owned()))
            .scan_index_forward(true)
            .limit(limit.min(1000) as i32);
        query = match until {
            Some(until) => query
                .key_condition_expression("#q = :q AND #d <= :until")
                .expression_attribute_names("#d", index.sort_attribute)
                .expression_attribute_values(":until", AttributeValue::S(until)),
            None => query.key_condition_expression("#q = :q"),
        };
        let out = query.send().await.map_err(sdk_error)?;
        out.items.unwrap_or_default().iter().map(decode).collect()
    }
}

enum TransactionFailure {
    /// The condition of the transaction's item at this index failed.
    Condition(usize),
    Other(StoreError),
}

fn decode<E: ItemMap>(item: &Av) -> StoreResult<E> {
    storage::dynamodb::decode(item).map_err(|e| StoreError::Internal(format!("corrupt item: {e}")))
}

fn sk_of(item: &Av) -> &str {
    match item.get(storage::SK) {
        Some(AttributeValue::S(s)) => s,
        _ => "",
    }
}

/// Maps an SDK error: throttling and transient faults may be retried
/// (`Unavailable`), a failed condition is a `Conflict`, the rest `Internal`.
fn sdk_error<E: ProvideErrorMetadata + std::fmt::Debug>(
    error: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> StoreError {
    match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            StoreError::Unavailable(format!("DynamoDB unreachable: {error:?}"))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown");
            let message = service.err().message().unwrap_or_default().to_owned();
            let status = service.raw().status().as_u16();
            match code {
                _ if status >= 500 => StoreError::Unavailable(format!("DynamoDB {code} (HTTP {status}): {message}")),
                "ConditionalCheckFailedException" => StoreError::Conflict(message),
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TransactionConflictException"
                | "InternalServerError"
                | "ServiceUnavailable" => StoreError::Unavailable(format!("{code}: {message}")),
                _ => StoreError::Internal(format!("DynamoDB {code}: {message}")),
            }
        }
        _ => StoreError::Internal(format!("DynamoDB: {error:?}")),
    }
}

/// Adds a condition to a transaction's put, with its attribute names and values.
fn with_condition(
    mut item: TransactWriteItem,
    expression: &str,
    names: &[(&str, &str)],
    values: Vec<(&str, AttributeValue)>,
) -> TransactWriteItem {
    if let Some(put) = item.put.as_mut() {
        put.condition_expression = Some(expression.to_owned());
        put.expression_attribute_names = Some(names.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        // DynamoDB refuses an empty map of values.
        put.expression_attribute_values =
            (!values.is_empty()).then(|| values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    }
    item
}

const VERSION_CONDITION: &str = "#version = :version";

#[async_trait]
impl Store for DynamoStore {
    async fn get_user(&self, email: &str) -> StoreResult<Option<User>> {
        self.get(storage::user::pk(email), storage::user::sk()).await
    }

    async fn create_user(&self, user: User) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(av_item(&user.to_item())))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn save_invitation(&self, invitation: &Invitation, expected_version: i64) -> StoreResult<()> {
        let version = storage::invitation::attribute::VERSION;
        self.put_versioned("invitation", &invitation.id, invitation, version, expected_version, |i| i.version).await
    }

    async fn get_invitation(&self, id: &str) -> StoreResult<Option<Invitation>> {
        self.get(storage::invitation::pk(), storage::invitation::sk(id)).await
    }

    async fn invitations(&self) -> StoreResult<Vec<Invitation>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", storage::PK)
            .expression_attribute_values(":pk", AttributeValue::S(storage::invitation::pk()))
            .send()
            .await
            .map_err(sdk_error)?;
        out.items.unwrap_or_default().iter().map(decode).collect()
    }

    async fn record_security_event(&self, event: &SecurityEvent) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(av_item(&event.to_item())))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn security_events(
        &self,
        month: &str,
        before: Option<String>,
        limit: usize,
    ) -> StoreResult<Vec<SecurityEvent>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#pk", storage::PK)
            .expression_attribute_names("#sk", storage::SK)
            .expression_attribute_values(":pk", AttributeValue::S(storage::security_event::pk(month)))
            .scan_index_forward(false)
            .limit(limit.min(i32::MAX as usize) as i32);
        let query = match before {
            Some(before) => query
                .key_condition_expression("#pk = :pk AND #sk < :before")
                .expression_attribute_values(":before", AttributeValue::S(before)),
            None => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S(storage::security_event::SK_PREFIX.into())),
        };
        let out = query.send().await.map_err(sdk_error)?;
        out.items.unwrap_or_default().iter().map(decode).collect()
    }

    async fn get_team_settings(&self) -> StoreResult<Option<TeamSettings>> {
        self.get(storage::team_settings::pk(), storage::team_settings::sk()).await
    }

    async fn save_team_settings(&self, settings: &TeamSettings, expected_version: i64) -> StoreResult<()> {
        let put = self.put_single(settings, storage::team_settings::attribute::VERSION, expected_version);
        match self.transact(vec![put]).await {
            Ok(()) => Ok(()),
            Err(TransactionFailure::Condition(_)) => {
                let stored = self.get_team_settings().await?.map_or(0, |s| s.version);
                Err(StoreError::stale("team settings", "TEAM", stored, expected_version))
            }
            Err(TransactionFailure::Other(e)) => Err(e),
        }
    }

    async fn get_scoring_rules(&self) -> StoreResult<Option<ScoringRules>> {
        self.get(storage::scoring_rules::pk(), storage::scoring_rules::sk()).await
    }

    async fn save_scoring_rules(&self, rules: &ScoringRules, expected_version: i64) -> StoreResult<()> {
        let put = self.put_single(rules, storage::scoring_rules::attribute::VERSION, expected_version);
        let revision = ScoringRulesRevision { updated_at: rules.updated_at, rules: Some(rules.clone()) };
        match self.transact(vec![put, self.put(&revision, Some("attribute_not_exists(PK)"))]).await {
            Ok(()) => Ok(()),
            Err(TransactionFailure::Condition(_)) => {
                let stored = self.get_scoring_rules().await?.map_or(0, |s| s.version);
                Err(StoreError::stale("scoring rules", "CURRENT", stored, expected_version))
            }
            Err(TransactionFailure::Other(e)) => Err(e),
        }
    }

    async fn scoring_revisions(&self, before: Option<String>, limit: usize) -> StoreResult<Vec<ScoringRulesRevision>> {
        let prefix = storage::scoring_rules_revision::SK_PREFIX;
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#pk", storage::PK)
            .expression_attribute_names("#sk", storage::SK)
            .expression_attribute_values(":pk", AttributeValue::S(storage::scoring_rules_revision::pk()))
            .scan_index_forward(false)
            .limit(limit.min(i32::MAX as usize) as i32);
        let query = match before {
            Some(before) => query
                .key_condition_expression("#pk = :pk AND #sk < :before")
                .expression_attribute_values(":before", AttributeValue::S(format!("{prefix}{before}"))),
            None => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.into())),
        };
        let out = query.send().await.map_err(sdk_error)?;
        out.items.unwrap_or_default().iter().map(decode).collect()
    }

    async fn pipeline_weeks(&self, dimension: &str, from_week: &str, to_week: &str) -> StoreResult<Vec<PipelineWeek>> {
        let mut out = Vec::new();
        let mut start: Option<Av> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", storage::PK)
                .expression_attribute_names("#sk", storage::SK)
                .expression_attribute_values(":pk", AttributeValue::S(storage::pipeline_week::pk(dimension)))
                .expression_attribute_values(":from", AttributeValue::S(format!("{from_week}#")))
                // "$" follows "#": every key of the last week is below it.
                .expression_attribute_values(":to", AttributeValue::S(format!("{to_week}$")))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in page.items.unwrap_or_default() {
                out.push(decode(&item)?);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(out),
            }
        }
    }

    async fn get_rescore(&self) -> StoreResult<Option<Rescore>> {
        self.get(storage::rescore::pk(), storage::rescore::sk()).await
    }

    async fn save_rescore(&self, job: &Rescore, expected_version: i64) -> StoreResult<()> {
        let version = storage::rescore::attribute::VERSION;
        self.put_versioned("rescore", "JOB", job, version, expected_version, |j| j.version).await
    }

    async fn next_assignment(&self) -> StoreResult<i64> {
        // ADD is atomic: concurrent assignments on any instance each get
        // their own number.
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(storage::assignment_counter::pk(), storage::assignment_counter::sk())))
            .update_expression("ADD #count :one")
            .expression_attribute_names("#count", storage::assignment_counter::attribute::COUNT)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(sdk_error)?;
        let count = out.attributes.as_ref().and_then(|a| a.get(storage::assignment_counter::attribute::COUNT));
        match count {
            Some(AttributeValue::N(n)) => n.parse().map_err(|_| StoreError::Internal(format!("counter {n:?}"))),
            _ => Err(StoreError::Internal("the assignment counter came back without its count".into())),
        }
    }

    async fn list_members(&self, after: Option<String>, limit: usize) -> StoreResult<Vec<User>> {
        let index = &storage::MEMBER_INDEX;
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .expression_attribute_names("#p", index.partition_attribute)
            .expression_attribute_values(":p", AttributeValue::S(MEMBER_PARTITION.to_owned()))
            .limit(limit.min(i32::MAX as usize) as i32);
        query = match after {
            Some(after) => query
                .key_condition_expression("#p = :p AND #s > :after")
                .expression_attribute_names("#s", index.sort_attribute)
                .expression_attribute_values(":after", AttributeValue::S(after)),
            None => query.key_condition_expression("#p = :p"),
        };
        let out = query.send().await.map_err(sdk_error)?;
        out.items.unwrap_or_default().iter().map(decode).collect()
    }

    async fn save_user(&self, user: &User, expected_version: i64, keep: Option<&User>) -> StoreResult<()> {
        let version = storage::user::attribute::VERSION;
        // Items written before users had versions have none: version 0.
        let unchanged =
            "attribute_exists(#pk) AND (#version = :version OR (:version = :zero AND attribute_not_exists(#version)))";
        let put = with_condition(
            self.put(user, None),
            unchanged,
            &[("#pk", storage::PK), ("#version", version)],
            vec![
                (":version", AttributeValue::N(expected_version.to_string())),
                (":zero", AttributeValue::N("0".into())),
            ],
        );
        let mut items = vec![put];
        if let Some(keep) = keep {
            let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keep.pk(), keep.sk())))
                .condition_expression(unchanged)
                .expression_attribute_names("#pk", storage::PK)
                .expression_attribute_names("#version", version)
                .expression_attribute_values(":version", AttributeValue::N(keep.version.to_string()))
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .build()
                .expect("table, key and condition are set");
            items.push(TransactWriteItem::builder().condition_check(check).build());
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactionFailure::Condition(0)) => match self.get_user(&user.email).await? {
                None => Err(StoreError::NotFound),
                Some(stored) => Err(StoreError::stale("member", &user.email, stored.version, expected_version)),
            },
            Err(TransactionFailure::Condition(_)) => Err(StoreError::Conflict(format!(
                "member {} changed meanwhile",
                keep.map(|k| k.email.as_str()).unwrap_or_default()
            ))),
            Err(TransactionFailure::Other(e)) => Err(e),
        }
    }

    async fn create_prospect(&self, mut new: NewProspect) -> StoreResult<CreateOutcome> {
        if let Some(first) = self.first_with_email(&new.prospect.email).await? {
            new.link_duplicate(first);
        }
        let mut items = Vec::new();
        let status = ProspectStatus::try_from(new.prospect.status).unwrap_or_default();
        if let Some(request) = &new.request {
            // Taken unless absent or expired; the loser of a race sees the winner's record.
            let now = timestamp_key(&prost_types::Timestamp::from(std::time::SystemTime::now()));
            items.push(with_condition(
                self.put(request, None),
                "attribute_not_exists(PK) OR #expires < :now",
                &[("#expires", storage::create_prospect_record::attribute::EXPIRES_AT)],
                vec![(":now", AttributeValue::S(now))],
            ));
        }
        items.push(self.put(&new.prospect, Some("attribute_not_exists(PK)")));
        items.push(self.put(&new.created, Some("attribute_not_exists(PK)")));
        items.push(self.put(&new.change, None));
        items.extend(new.insights.iter().map(|d| self.add_to_week(d)));
        for notification in &new.notifications {
            items.push(self.put(notification, Some("attribute_not_exists(PK)")));
        }
        items.push(self.bump(status, 1));
        match self.transact(items).await {
            Ok(()) => {
                self.counted(&[(status, 1)]);
                Ok(CreateOutcome::Created(Box::new(new.prospect)))
            }
            Err(TransactionFailure::Condition(0)) if new.request.is_some() => {
                let request = new.request.as_ref().expect("checked");
                let earlier: CreateProspectRecord = self
                    .get(request.pk(), request.sk())
                    .await?
                    .ok_or_else(|| StoreError::Unavailable("request record vanished".into()))?;
                Ok(CreateOutcome::Replayed(earlier.prospect_id))
            }
            Err(TransactionFailure::Condition(_)) => Err(StoreError::Conflict("prospect already exists".into())),
            Err(TransactionFailure::Other(e)) => Err(e),
        }
    }

    async fn get_prospect(&self, id: &str, with_events: bool) -> StoreResult<Option<Prospect>> {
        if !with_events {
            return self.get(storage::prospect::pk(id), storage::prospect::sk()).await;
        }
        let mut card: Option<Prospect> = None;
        let mut events = Vec::new();
        for item in self.partition(&storage::prospect::pk(id)).await? {
            let sk = sk_of(&item);
            if sk == storage::prospect::sk() {
                card = Some(decode(&item)?);
            } else if sk.starts_with(storage::prospect_event::SK_PREFIX) {
                events.push(decode::<ProspectEvent>(&item)?);
            }
        }
        Ok(card.map(|mut p| {
            p.events = events;
            p
        }))
    }

    async fn update_prospect(&self, change: ProspectChange) -> StoreResult<()> {
        let after = ProspectStatus::try_from(change.prospect.status).unwrap_or_default();
        let card = with_condition(
            self.put(&change.prospect, None),
            VERSION_CONDITION,
            &[("#version", storage::prospect::attribute::VERSION)],
            vec![(":version", AttributeValue::N(change.expected_version.to_string()))],
        );
        let mut items = vec![card];
        for event in &change.events {
            items.push(self.put(event, Some("attribute_not_exists(PK)")));
        }
        items.push(self.put(&change.board, None));
        items.extend(change.insights.iter().map(|d| self.add_to_week(d)));
        for notification in &change.notifications {
            items.push(self.put(notification, Some("attribute_not_exists(PK)")));
        }
        let moves = match change.previous_status != after {
            true => vec![(change.previous_status, -1), (after, 1)],
            false => Vec::new(),
        };
        items.extend(moves.iter().map(|&(status, delta)| self.bump(status, delta)));
        match self.transact(items).await {
            Ok(()) => {
                self.counted(&moves);
                Ok(())
            }
            Err(TransactionFailure::Condition(0)) => {
                match self.get::<Prospect>(change.prospect.pk(), change.prospect.sk()).await? {
                    None => Err(StoreError::NotFound),
                    Some(stored) => {
                        Err(StoreError::stale("prospect", &stored.id, stored.version, change.expected_version))
                    }
                }
            }
            Err(TransactionFailure::Condition(_)) => Err(StoreError::Conflict("event already exists".into())),
            Err(TransactionFailure::Other(e)) => Err(e),
        }
    }

    async fn delete_prospect(
        &self,
        id: &str,
        expected_version: Option<i64>,
        mut change: BoardChange,
    ) -> StoreResult<Prospect> {
        let items = self.partition(&storage::prospect::pk(id)).await?;
        let card_item = items.iter().find(|i| sk_of(i) == storage::prospect::sk()).ok_or(StoreError::NotFound)?;
        let stored: Prospect = decode(card_item)?;
        if let Some(expected) = expected_version.filter(|v| *v != stored.version) {
            return Err(StoreError::stale("prospect", &stored.id, stored.version, expected));
        }
        let key = |sk: &str| {
            HashMap::from([
                (storage::PK.to_owned(), AttributeValue::S(stored.pk())),
                (storage::SK.to_owned(), AttributeValue::S(sk.to_owned())),
            ])
        };
        // The card (only if unchanged since read), its counter, and as many
        // events as fit go in one transaction; the rest follow it.
        let card = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(&storage::prospect::sk())))
            .condition_expression(VERSION_CONDITION)
            .expression_attribute_names("#version", storage::prospect::attribute::VERSION)
            .expression_attribute_values(":version", AttributeValue::N(stored.version.to_string()))
            .build()
            .expect("table and key are set");
        change.version = stored.version + 1;
        change.from_status = stored.status;
        let column = ProspectStatus::try_from(stored.status).unwrap_or_default();
        let mut transaction =
            vec![TransactWriteItem::builder().delete(card).build(), self.bump(column, -1), self.put(&change, None)];
        let event_keys: Vec<&str> = items.iter().map(sk_of).filter(|sk| *sk != storage::prospect::sk()).collect();
        let (now, later) = event_keys.split_at(event_keys.len().min(MAX_TRANSACTION_ITEMS - transaction.len()));
        for sk in now {
            let delete = Delete::builder().table_name(&self.table).set_key(Some(key(sk))).build().expect("key is set");
            transaction.push(TransactWriteItem::builder().delete(delete).build());
        }
        match self.transact(transaction).await {
            Ok(()) => self.counted(&[(column, -1)]),
            Err(TransactionFailure::Condition(_)) => {
                return Err(StoreError::Conflict(format!("prospect {} changed while being deleted", stored.id)));
            }
            Err(TransactionFailure::Other(e)) => return Err(e),
        }
        for sk in later {
            self.client.delete_item().table_name(&self.table).set_key(Some(key(sk))).send().await.map_err(sdk_error)?;
        }
        Ok(stored)
    }

    async fn list_column(
        &self,
        column: &Column,
        after: Option<ColumnPosition>,
        limit: usize,
    ) -> StoreResult<Vec<Prospect>> {
        let condition = column.prefix().map(|prefix| ("begins_with(#s, :s)", prefix.to_owned()));
        self.index_page(column.index(), column.partition(), condition, after, limit).await
    }

    async fn list_before(
        &self,
        index: &'static storage::IndexDef,
        partition: &str,
        before: &str,
        after: Option<ColumnPosition>,
        limit: usize,
    ) -> StoreResult<Vec<Prospect>> {
        self.index_page(index, partition.to_owned(), Some(("#s < :s", before.to_owned())), after, limit).await
    }

    async fn list_by_email(&self, email: &str, after: Option<String>, limit: usize) -> StoreResult<Vec<Prospect>> {
        // One email has few prospects: read them all, then order and cut like
        // the embedded store (ids are UUIDv7, so id order is creation order).
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self.email_page(email, start, None).await?;
            all.extend(page);
            match next {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        all.sort_by(|a, b| b.id.cmp(&a.id));
        if let Some(after) = after {
            all.retain(|p| p.id < after);
        }
        all.truncate(limit);
        Ok(all)
    }

    async fn board_changes(&self, since: &prost_types::Timestamp, limit: usize) -> StoreResult<Vec<BoardChange>> {
        let now = prost_types::Timestamp::from(std::time::SystemTime::now());
        let from = format!("{}{}", storage::board_change::SK_PREFIX, timestamp_key(since));
        let mut out = Vec::new();
        for hour in board_hours(since, &now) {
            let mut start: Option<Av> = None;
            loop {
                let left = limit.saturating_sub(out.len());
                if left == 0 {
                    return Ok(out);
                }
                let page = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("#pk = :pk AND #sk >= :from")
                    .expression_attribute_names("#pk", storage::PK)
                    .expression_attribute_names("#sk", storage::SK)
                    .expression_attribute_values(":pk", AttributeValue::S(storage::board_change::pk(&hour)))
                    .expression_attribute_values(":from", AttributeValue::S(from.clone()))
                    .scan_index_forward(true)
                    .limit(left.min(1000) as i32)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                for item in page.items.unwrap_or_default() {
                    let change: BoardChange = decode(&item)?;
                    if !expired(&change, &now) {
                        out.push(change);
                    }
                }
                match page.last_evaluated_key.filter(|k| !k.is_empty()) {
                    Some(key) => start = Some(key),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    async fn due_notifications(&self, now: &prost_types::Timestamp, limit: usize) -> StoreResult<Vec<Notification>> {
        self.outbox(super::queue_of(NotificationState::Pending), Some(timestamp_key(now)), limit).await
    }

    async fn notifications(&self, state: NotificationState, limit: usize) -> StoreResult<Vec<Notification>> {
        self.outbox(super::queue_of(state), None, limit).await
    }

    async fn get_notification(&self, id: &str) -> StoreResult<Option<Notification>> {
        self.get(storage::notification::pk(id), storage::notification::sk()).await
    }

    async fn save_notification(&self, n: &Notification, expected_version: i64) -> StoreResult<()> {
        let version = storage::notification::attribute::VERSION;
        self.put_versioned("notification", &n.id, n, version, expected_version, |n| n.version).await
    }

    async fn search(&self, key: SearchKey, prefix: &str, limit: usize) -> StoreResult<Vec<Prospect>> {
        let index = key.index();
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#p = :p AND begins_with(#s, :prefix)")
            .expression_attribute_names("#p", index.partition_attribute)
            .expression_attribute_names("#s", index.sort_attribute)
            .expression_attribute_values(":p", AttributeValue::S(SEARCH_PARTITION.to_owned()))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            .limit(limit.min(i32::MAX as usize) as i32)
            .send()
            .await
            .map_err(sdk_error)?;
        out.items.unwrap_or_default().iter().map(decode).collect()
    }

    async fn status_counts(&self) -> StoreResult<Vec<ProspectStatusCount>> {
        if let Some((read, counts)) = self.counts.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && read.elapsed() < COUNTS_FRESH
        {
            return Ok(counts.clone());
        }
        let read = Instant::now();
        let shards = self
            .partition(&storage::prospect_status_counter::pk())
            .await?
            .iter()
            .map(decode::<ProspectStatusCounter>)
            .collect::<StoreResult<Vec<_>>>()?;
        let counts = sum_counters(shards);
        *self.counts.lock().unwrap_or_else(|p| p.into_inner()) = Some((read, counts.clone()));
        Ok(counts)
    }

    async fn sign_in_failures(&self, windows: &[SignInFailures]) -> StoreResult<Vec<i64>> {
        // One BatchGetItem for all the windows (again for any it left unprocessed).
        let mut found: HashMap<(String, String), i64> = HashMap::new();
        let keys: Vec<Av> = windows.iter().map(|w| key_of(w.pk(), w.sk())).collect();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Internal(format!("BatchGetItem keys: {e}")))?,
        );
        let mut attempt = 0u32;
        while let Some(request) = pending.take() {
            let out =
                self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(sdk_error)?;
            for item in out.responses.unwrap_or_default().remove(&self.table).unwrap_or_default() {
                let window: SignInFailures = decode(&item)?;
                found.insert((window.pk(), window.sk()), window.count);
            }
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
            attempt += 1;
            if pending.is_some() {
                if attempt >= TRANSACTION_ATTEMPTS {
                    return Err(StoreError::Unavailable("BatchGetItem kept leaving keys unprocessed".into()));
                }
                tokio::time::sleep(std::time::Duration::from_millis(5 << attempt)).await;
            }
        }
        Ok(windows.iter().map(|w| found.get(&(w.pk(), w.sk())).copied().unwrap_or(0)).collect())
    }

    async fn add_sign_in_failure(&self, windows: &[SignInFailures]) -> StoreResult<()> {
        // One UpdateItem per window, at once: `ADD` is atomic, so concurrent
        // failures on any instance all count, and never conflict.
        let mut updates = tokio::task::JoinSet::new();
        for window in windows {
            let mut names = HashMap::new();
            let mut values = HashMap::new();
            let mut set = Vec::new();
            for (i, (name, value)) in window.to_item().iter().enumerate() {
                if name == storage::PK || name == storage::SK || name == storage::sign_in_failures::attribute::COUNT {
                    continue;
                }
                names.insert(format!("#a{i}"), name.clone());
                values.insert(format!(":v{i}"), av(value));
                set.push(format!("#a{i} = :v{i}"));
            }
            names.insert("#count".to_owned(), storage::sign_in_failures::attribute::COUNT.to_owned());
            values.insert(":one".to_owned(), AttributeValue::N("1".into()));
            let request = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_of(window.pk(), window.sk())))
                .update_expression(format!("SET {} ADD #count :one", set.join(", ")))
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values));
            updates.spawn(async move { request.send().await.map(|_| ()).map_err(sdk_error) });
        }
        while let Some(done) = updates.join_next().await {
            done.map_err(|e| StoreError::Internal(format!("update task: {e}")))??;
        }
        Ok(())
    }

    async fn spend_captcha(&self, spent: SpentCaptcha) -> StoreResult<Option<String>> {
        // Taken unless absent or expired (DynamoDB's TTL deletes lazily).
        let now = timestamp_key(&prost_types::Timestamp::from(std::time::SystemTime::now()));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(av_item(&spent.to_item())))
            .condition_expression("attribute_not_exists(PK) OR #expires < :now")
            .expression_attribute_names("#expires", storage::spent_captcha::attribute::EXPIRES_AT)
            .expression_attribute_values(":now", AttributeValue::S(now))
            .send()
            .await;
        match put.map_err(sdk_error) {
            Ok(_) => Ok(None),
            Err(StoreError::Conflict(_)) => {
                let earlier: SpentCaptcha = self
                    .get(spent.pk(), spent.sk())
                    .await?
                    .ok_or_else(|| StoreError::Unavailable("spent captcha record vanished".into()))?;
                Ok(Some(earlier.idempotency_key))
            }
            Err(e) => Err(e),
        }
    }

    async fn dump_page(&self, after: Option<String>, limit: usize) -> StoreResult<(Vec<AnyEntity>, Option<String>)> {
        // The position is the last item's key, as JSON [PK, SK].
        let start = match after {
            Some(text) => {
                let (pk, sk): (String, String) = serde_json::from_str(&text)
                    .map_err(|_| StoreError::Internal("a dump position that is not ours".into()))?;
                Some(key_of(pk, sk))
            }
            None => None,
        };
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .limit(limit.min(1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut items = Vec::new();
        for av in out.items.unwrap_or_default() {
            let item: storage::Item =
                av.iter().filter_map(|(k, v)| Some((k.clone(), storage::dynamodb::attr(v)?))).collect();
            items.push(AnyEntity::from_item(&item).map_err(|e| StoreError::Internal(format!("corrupt item: {e}")))?);
        }
        let next = match out.last_evaluated_key.filter(|k| !k.is_empty()) {
            Some(key) => {
                let text = |name: &str| key.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                Some(
                    serde_json::to_string(&(text(storage::PK), text(storage::SK)))
                        .map_err(|e| StoreError::Internal(e.to_string()))?,
                )
            }
            None => None,
        };
        Ok((items, next))
    }

    async fn load(&self, items: Vec<AnyEntity>) -> StoreResult<()> {
        self.put_items(items.iter().map(AnyEntity::to_item)).await
    }

    async fn load_done(&self, cards_per_status: &[(i32, i64)], counters_loaded: bool) -> StoreResult<()> {
        if counters_loaded {
            return Ok(());
        }
        // A dump from the embedded store has no counters: one shard per column.
        let counters: Vec<AnyEntity> = cards_per_status
            .iter()
            .map(|&(status, count)| {
                AnyEntity::ProspectStatusCounter(ProspectStatusCounter { status, shard: "00".into(), count })
            })
            .collect();
        self.load(counters).await?;
        *self.counts.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    async fn subject_items(&self, subject: &str) -> StoreResult<SubjectItems> {
        let index = &storage::SUBJECT_INDEX;
        let mut items = SubjectItems::default();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index.name)
                .key_condition_expression("#p = :p")
                .expression_attribute_names("#p", index.partition_attribute)
                .expression_attribute_values(":p", AttributeValue::S(subject.to_owned()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                let pk = item.get(storage::PK).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                if pk.starts_with(storage::notification::PK_PREFIX) {
                    items.notifications.push(decode(&item)?);
                } else if pk.starts_with(storage::board_change::PK_PREFIX) {
                    items.changes.push(decode(&item)?);
                } else if pk.starts_with(storage::import_row::PK_PREFIX) {
                    items.import_rows.push(decode(&item)?);
                } else {
                    return Err(StoreError::Internal(format!("{pk} in SubjectIndex")));
                }
            }
            match out.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(key) => start = Some(key),
                None => return Ok(items),
            }
        }
    }

    async fn erase_items(&self, items: &SubjectItems) -> StoreResult<()> {
        self.delete_keys(items.keys()).await
    }

    async fn save_erasure(&self, erasure: &Erasure) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(av_item(&erasure.to_item())))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn erasures(&self, before: Option<String>, limit: usize) -> StoreResult<Vec<Erasure>> {
        self.newest_first(storage::erasure::pk(), before, limit).await
    }

    async fn get_form(&self, name: &str) -> StoreResult<Option<Form>> {
        self.get(storage::form::pk(), storage::form::sk(name)).await
    }

    async fn save_form(&self, form: &Form, expected_version: i64, published: Option<&FormVersion>) -> StoreResult<()> {
        let version = storage::form::attribute::VERSION;
        let Some(published) = published else {
            return self.put_versioned("form", &form.name, form, version, expected_version, |f| f.version).await;
        };
        let put_form = match expected_version {
            0 => with_condition(self.put(form, None), "attribute_not_exists(#pk)", &[("#pk", storage::PK)], vec![]),
            v => with_condition(
                self.put(form, None),
                VERSION_CONDITION,
                &[("#version", version)],
                vec![(":version", AttributeValue::N(v.to_string()))],
            ),
        };
        let put_version =
            with_condition(self.put(published, None), "attribute_not_exists(#pk)", &[("#pk", storage::PK)], vec![]);
        match self.transact(vec![put_form, put_version]).await {
            Ok(()) => Ok(()),
            Err(TransactionFailure::Condition(_)) => {
                Err(StoreError::Conflict(format!("form {} changed, or its version was published", form.name)))
            }
            Err(TransactionFailure::Other(e)) => Err(e),
        }
    }

    async fn forms(&self, limit: usize) -> StoreResult<Vec<Form>> {
        // Names start with a letter or digit: all between "!" and "~".
        self.sort_range(storage::form::pk(), "!".into(), "~", limit).await
    }

    async fn get_form_version(&self, name: &str, number: &str) -> StoreResult<Option<FormVersion>> {
        self.get(storage::form_version::pk(name), storage::form_version::sk(number)).await
    }

    async fn get_import(&self, id: &str) -> StoreResult<Option<Import>> {
        self.get(storage::import::pk(), storage::import::sk(id)).await
    }

    async fn save_import(&self, import: &Import, expected_version: i64) -> StoreResult<()> {
        let version = storage::import::attribute::VERSION;
        self.put_versioned("import", &import.id, import, version, expected_version, |i| i.version).await
    }

    async fn imports(&self, before: Option<String>, limit: usize) -> StoreResult<Vec<Import>> {
        self.newest_first(storage::import::pk(), before, limit).await
    }

    async fn put_import_items(&self, parts: Vec<ImportFile>, rows: Vec<ImportRow>) -> StoreResult<()> {
        self.put_items(parts.iter().map(StoredEntity::to_item).chain(rows.iter().map(StoredEntity::to_item))).await
    }

    async fn import_file(&self, import_id: &str) -> StoreResult<Vec<ImportFile>> {
        self.sort_range(storage::import_file::pk(import_id), "FILE#".into(), "FILE$", usize::MAX).await
    }

    async fn import_rows(&self, import_id: &str, after: Option<String>, limit: usize) -> StoreResult<Vec<ImportRow>> {
        let above = format!("ROW#{}", after.unwrap_or_default());
        self.sort_range(storage::import_row::pk(import_id), above, "ROW$", limit).await
    }

    async fn delete_import_file(&self, parts: &[ImportFile]) -> StoreResult<()> {
        self.delete_keys(parts.iter().map(|p| (p.pk(), p.sk())).collect()).await
    }

    async fn clear_sign_in_failures(&self, window: &SignInFailures) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(window.pk(), window.sk())))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

/// Creates the table from the definition generated from `proto/`
/// (`infra/dynamodb/table.json`), under the name `table`.
pub async fn create_table(client: &Client, table: &str) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType,
    };
    let definition: serde_json::Value = serde_json::from_str(storage::TABLE_JSON)?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let keys = |v: &serde_json::Value| -> anyhow::Result<Vec<KeySchemaElement>> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|k| {
                Ok(KeySchemaElement::builder()
                    .attribute_name(text(&k["AttributeName"]))
                    .key_type(KeyType::from(text(&k["KeyType"]).as_str()))
                    .build()?)
            })
            .collect()
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::from(text(&definition["BillingMode"]).as_str()))
        .set_key_schema(Some(keys(&definition["KeySchema"])?));
    for a in definition["AttributeDefinitions"].as_array().into_iter().flatten() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(&a["AttributeName"]))
                .attribute_type(ScalarAttributeType::from(text(&a["AttributeType"]).as_str()))
                .build()?,
        );
    }
    for g in definition["GlobalSecondaryIndexes"].as_array().into_iter().flatten() {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(&g["IndexName"]))
                .set_key_schema(Some(keys(&g["KeySchema"])?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(text(&g["Projection"]["ProjectionType"]).as_str()))
                        .build(),
                )
                .build()?,
        );
    }
    request.send().await.map_err(|e| anyhow::anyhow!("creating table {table}: {}", sdk_error(e)))?;

    // Expiring items (`infra/dynamodb/ttl.json`): DynamoDB deletes them by itself.
    let ttl: serde_json::Value = serde_json::from_str(storage::TTL_JSON)?;
    let spec = &ttl["TimeToLiveSpecification"];
    if let Some(attribute) = spec["AttributeName"].as_str() {
        use aws_sdk_dynamodb::types::TimeToLiveSpecification;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(spec["Enabled"].as_bool().unwrap_or(true))
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("enabling time to live on {table}: {}", sdk_error(e)))?;
    }
    Ok(())
}
