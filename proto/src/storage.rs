//! The single-table layout, generated from the `astro.storage.v1.entity`
//! options on the stored messages.
//!
//! Each stored message implements [`StoredEntity`]: its `PK`, its `SK` and
//! its values in the global secondary indexes. Key builders for reading by key
//! live in one module per entity (`storage::prospect::pk(id)`).

use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Attribute name of the table's partition key.
pub const PK: &str = "PK";
/// Attribute name of the table's sort key.
pub const SK: &str = "SK";

/// A global secondary index of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    pub name: &'static str,
    pub partition_attribute: &'static str,
    /// `SK` when the index is sorted by the item's own sort key.
    pub sort_attribute: &'static str,
    /// Whether reads of this index return the highest sort key first.
    pub newest_first: bool,
}

/// An item's key values in one index; `None` keeps the item out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexValue {
    pub index: &'static IndexDef,
    pub partition: Option<String>,
    pub sort: Option<String>,
}

impl IndexValue {
    /// Whether the item appears in the index (both key attributes present).
    pub fn is_present(&self) -> bool {
        self.partition.is_some() && self.sort.is_some()
    }
}

/// A message kept in the single table.
pub trait StoredEntity: ItemMap {
    /// The message name.
    const ENTITY: &'static str;
    fn pk(&self) -> String;
    fn sk(&self) -> String;
    fn index_values(&self) -> Vec<IndexValue>;
    /// Unix seconds after which the item may be deleted, for an entity that
    /// declares a `ttl`; written as the [`TTL`] attribute.
    fn expires(&self) -> Option<i64> {
        None
    }

    /// The whole item: the message's attributes with its `PK` and `SK` (and
    /// [`TTL`] when it expires).
    fn to_item(&self) -> Item {
        let mut item = self.to_attributes();
        item.insert(PK.to_owned(), Attr::S(self.pk()));
        item.insert(SK.to_owned(), Attr::S(self.sk()));
        if let Some(at) = self.expires() {
            item.insert(TTL.to_owned(), Attr::N(at.to_string()));
        }
        item
    }
}

/// The table definition generated from the entities: a DynamoDB
/// `CreateTable` input. Committed as `infra/dynamodb/table.json`.
pub const TABLE_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/table.json"));
/// The same table as a CloudFormation resource. Committed as
/// `infra/dynamodb/table.yaml`.
pub const TABLE_YAML: &str = include_str!(concat!(env!("OUT_DIR"), "/table.yaml"));
/// The table's time to live: a DynamoDB `UpdateTimeToLive` input. Committed
/// as `infra/dynamodb/ttl.json`.
pub const TTL_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/ttl.json"));

/// An attribute value, typed as DynamoDB types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    S(String),
    /// A number, in its decimal text form.
    N(String),
    Bool(bool),
    M(Item),
    L(Vec<Attr>),
}

/// A stored item: attribute name → value. Fields at their default value are
/// not written, so index attributes of unset fields are absent (sparse indexes).
pub type Item = std::collections::BTreeMap<String, Attr>;

/// An item that does not map back onto its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored attribute {attribute}: {problem}")]
pub struct ItemError {
    pub attribute: String,
    pub problem: String,
}

impl ItemError {
    pub fn new(attribute: &str, problem: &str) -> Self {
        Self { attribute: attribute.to_owned(), problem: problem.to_owned() }
    }
}

impl Attr {
    pub fn as_s(&self, name: &str) -> Result<&str, ItemError> {
        match self {
            Attr::S(s) => Ok(s),
            _ => Err(ItemError::new(name, "expected a string")),
        }
    }
    pub fn as_n(&self, name: &str) -> Result<&str, ItemError> {
        match self {
            Attr::N(n) => Ok(n),
            _ => Err(ItemError::new(name, "expected a number")),
        }
    }
    pub fn as_bool(&self, name: &str) -> Result<bool, ItemError> {
        match self {
            Attr::Bool(b) => Ok(*b),
            _ => Err(ItemError::new(name, "expected a boolean")),
        }
    }
    pub fn as_m(&self, name: &str) -> Result<&Item, ItemError> {
        match self {
            Attr::M(m) => Ok(m),
            _ => Err(ItemError::new(name, "expected a map")),
        }
    }
    pub fn as_l(&self, name: &str) -> Result<&[Attr], ItemError> {
        match self {
            Attr::L(l) => Ok(l),
            _ => Err(ItemError::new(name, "expected a list")),
        }
    }
}

/// A message ↔ item attributes, generated for every stored message and the
/// messages its fields hold. Attribute names are the fields' JSON names.
pub trait ItemMap: Sized {
    fn to_attributes(&self) -> Item;
    fn from_attributes(item: &Item) -> Result<Self, ItemError>;
}

/// How an enum value is written inside a key.
pub trait KeyText: Sized {
    fn key_text(self) -> &'static str;
    fn from_key_text(text: &str) -> Option<Self>;
}

/// Timestamps in keys are RFC 3339 in UTC with exactly six fractional digits,
/// so that their text order is their time order.
pub fn timestamp_key(ts: &prost_types::Timestamp) -> String {
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let micros = at.microsecond();
    let whole = at.replace_nanosecond(0).unwrap_or(at);
    let text = whole.format(&Rfc3339).unwrap_or_default();
    // `text` ends in `Z` with no fraction for a whole second.
    format!("{}.{micros:06}Z", text.trim_end_matches('Z'))
}

/// Parses a key timestamp written by [`timestamp_key`].
pub fn parse_timestamp_key(text: &str) -> Option<prost_types::Timestamp> {
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some(prost_types::Timestamp { seconds: at.unix_timestamp(), nanos: at.nanosecond() as i32 })
}

/// Items as the DynamoDB SDK types them.
#[cfg(feature = "dynamodb")]
pub mod dynamodb {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::types::AttributeValue;

    use super::{Attr, Item, ItemError, ItemMap};

    /// A whole item as the SDK writes it.
    pub type Av = HashMap<String, AttributeValue>;

    pub fn av(attr: &Attr) -> AttributeValue {
        match attr {
            Attr::S(s) => AttributeValue::S(s.clone()),
            Attr::N(n) => AttributeValue::N(n.clone()),
            Attr::Bool(b) => AttributeValue::Bool(*b),
            Attr::M(m) => AttributeValue::M(av_item(m)),
            Attr::L(l) => AttributeValue::L(l.iter().map(av).collect()),
        }
    }

    pub fn av_item(item: &Item) -> Av {
        item.iter().map(|(k, v)| (k.clone(), av(v))).collect()
    }

    /// The attribute, unless of a type the layout never writes.
    pub fn attr(value: &AttributeValue) -> Option<Attr> {
        Some(match value {
            AttributeValue::S(s) => Attr::S(s.clone()),
            AttributeValue::N(n) => Attr::N(n.clone()),
            AttributeValue::Bool(b) => Attr::Bool(*b),
            AttributeValue::M(m) => Attr::M(m.iter().filter_map(|(k, v)| Some((k.clone(), attr(v)?))).collect()),
            AttributeValue::L(l) => Attr::L(l.iter().filter_map(attr).collect()),
            _ => return None,
        })
    }

    /// The message an SDK item holds.
    pub fn decode<E: ItemMap>(item: &Av) -> Result<E, ItemError> {
        let item: Item = item.iter().filter_map(|(k, v)| Some((k.clone(), attr(v)?))).collect();
        E::from_attributes(&item)
    }

    /// The table key of an item.
    pub fn key(pk: String, sk: String) -> Av {
        HashMap::from([(super::PK.to_owned(), AttributeValue::S(pk)), (super::SK.to_owned(), AttributeValue::S(sk))])
    }
}

#[allow(clippy::all, clippy::pedantic)]
mod generated {
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/astro_storage.rs"));
}
pub use generated::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{Prospect, ProspectEvent, ProspectStatus, ProspectStatusCounter, User};

    fn ts(seconds: i64, nanos: i32) -> prost_types::Timestamp {
        prost_types::Timestamp { seconds, nanos }
    }

    #[test]
    fn prospect_keys_follow_the_declared_templates() {
        let p = Prospect {
            id: "0b9f".into(),
            email: "ada@example.com".into(),
            status: ProspectStatus::Qualified as i32,
            created_at: Some(ts(1_706_400_000, 5_000)),
            ..Default::default()
        };
        assert_eq!(p.pk(), "PROSPECT#0b9f");
        assert_eq!(p.sk(), "METADATA");
        assert_eq!(prospect::pk("0b9f"), "PROSPECT#0b9f");
        let values = p.index_values();
        let status = values.iter().find(|v| v.index.name == "StatusIndex").unwrap();
        assert_eq!(status.partition.as_deref(), Some("QUALIFIED"));
        assert_eq!(status.sort.as_deref(), Some("2024-01-28T00:00:00.000005Z"));
        let email = values.iter().find(|v| v.index.name == "EmailIndex").unwrap();
        assert_eq!(email.partition.as_deref(), Some("ada@example.com"));
        assert_eq!(email.sort.as_deref(), Some("METADATA"));
    }

    #[test]
    fn indexes_carry_the_seed_attribute_names() {
        let status = IndexDef {
            name: "StatusIndex",
            partition_attribute: "status",
            sort_attribute: "createdAt",
            newest_first: true,
        };
        assert_eq!(STATUS_INDEX, status, "a column reads newest first");
        assert_eq!(EMAIL_INDEX.partition_attribute, "email");
        assert_eq!(EMAIL_INDEX.sort_attribute, "SK");
        assert_eq!(INDEXES.len(), 14);
        assert_eq!((FORM_INDEX.partition_attribute, FORM_INDEX.sort_attribute), ("formColumn", "createdAt"));
        assert_eq!((SUBJECT_INDEX.partition_attribute, SUBJECT_INDEX.sort_attribute), ("subject", "SK"));
        assert_eq!((OWNER_INDEX.partition_attribute, OWNER_INDEX.sort_attribute), ("ownerColumn", "createdAt"));
        assert_eq!((SCORE_INDEX.partition_attribute, SCORE_INDEX.sort_attribute), ("status", "scoreKey"));
        assert_eq!(
            (OWNER_SCORE_INDEX.partition_attribute, OWNER_SCORE_INDEX.sort_attribute),
            ("ownerColumn", "scoreKey")
        );
        const { assert!(SCORE_INDEX.newest_first && OWNER_SCORE_INDEX.newest_first, "best fit first") };
        assert_eq!((MEMBER_INDEX.partition_attribute, MEMBER_INDEX.sort_attribute), ("memberPartition", "email"));
        assert_eq!((OUTBOX_INDEX.partition_attribute, OUTBOX_INDEX.sort_attribute), ("queue", "dueAt"));
        for search in [FIRST_NAME_INDEX, LAST_NAME_INDEX, COMPANY_INDEX] {
            assert_eq!(search.partition_attribute, "searchPartition");
            assert!(!search.newest_first);
        }
        assert_eq!(LAST_NAME_INDEX.sort_attribute, "searchLastName");
    }

    #[test]
    fn events_and_users_and_counters_have_their_keys() {
        let e = ProspectEvent {
            id: "e1".into(),
            prospect_id: "p1".into(),
            created_at: Some(ts(0, 0)),
            ..Default::default()
        };
        assert_eq!(e.pk(), "PROSPECT#p1");
        assert_eq!(e.sk(), "EVENT#1970-01-01T00:00:00.000000Z#e1");
        assert_eq!(prospect_event::SK_PREFIX, "EVENT#");
        assert!(e.index_values().is_empty());
        let u = User { email: "a@b.c".into(), ..Default::default() };
        assert_eq!((u.pk(), u.sk()), ("USER#a@b.c".to_owned(), "PROFILE".to_owned()));
        let c = ProspectStatusCounter { status: ProspectStatus::Won as i32, shard: "07".into(), count: 3 };
        assert_eq!((c.pk(), c.sk()), ("COUNTER#PROSPECT_STATUS".to_owned(), "WON#07".to_owned()));
    }

    #[test]
    fn unset_index_attributes_keep_items_out_of_the_index() {
        let p = Prospect { id: "x".into(), ..Default::default() };
        assert!(p.index_values().iter().all(|v| !v.is_present()));
    }

    #[test]
    fn items_carry_the_seed_attributes_and_map_back() {
        use crate::v1::{Budget, Consent, Source};
        let p = Prospect {
            id: "0b9f".into(),
            first_name: "Ada".into(),
            email: "ada@example.com".into(),
            budget: Budget::Budget5kTo20k as i32,
            consent: Some(Consent {
                given: true,
                given_at: Some(ts(5, 0)),
                text_version: "2026-11".into(),
                language: "fr".into(),
            }),
            source: Some(Source { utm_source: "news".into(), ..Default::default() }),
            status: ProspectStatus::Won as i32,
            created_at: Some(ts(1_706_400_000, 0)),
            version: 3,
            events: vec![ProspectEvent { id: "e".into(), ..Default::default() }],
            ..Default::default()
        };
        let item = p.to_item();
        assert_eq!(item["PK"], Attr::S("PROSPECT#0b9f".into()));
        assert_eq!(item["SK"], Attr::S("METADATA".into()));
        assert_eq!(item["firstName"], Attr::S("Ada".into()));
        assert_eq!(item["status"], Attr::S("WON".into()));
        assert_eq!(item["createdAt"], Attr::S("2024-01-28T00:00:00.000000Z".into()));
        assert_eq!(item["version"], Attr::N("3".into()));
        assert_eq!(item["budget"], Attr::S("5K_TO_20K".into()));
        assert!(!item.contains_key("phone"), "default values are not written");
        assert!(!item.contains_key("events"), "events are items of their own");
        let back = Prospect::from_attributes(&item).unwrap();
        assert_eq!(back, Prospect { events: vec![], ..p });

        let e = ProspectEvent { changed_fields: vec!["email".into(), "phone".into()], ..Default::default() };
        assert_eq!(ProspectEvent::from_attributes(&e.to_attributes()).unwrap(), e);
        let bad: Item = [("status".to_owned(), Attr::S("MAYBE".into()))].into();
        assert_eq!(Prospect::from_attributes(&bad).unwrap_err().attribute, "status");
    }

    const TEMPLATE_BEGIN: &str =
        "  # --- generated from proto/ by `make generate` (infra/dynamodb/table.yaml): do not edit ---";
    const TEMPLATE_END: &str = "  # --- end of the generated table ---";

    #[test]
    fn the_committed_table_files_are_what_proto_generates() {
        // `make generate` (ASTRO_BLESS=1) rewrites them from the build's output.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/dynamodb");
        for (file, generated) in [("table.json", TABLE_JSON), ("table.yaml", TABLE_YAML), ("ttl.json", TTL_JSON)] {
            let path = dir.join(file);
            if std::env::var_os("ASTRO_BLESS").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, generated).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(committed == generated, "{} is stale: run `make generate` and commit it", path.display());
        }
        // The stack (infra/template.yaml) holds the same resource between two markers.
        let template_path = dir.join("../template.yaml");
        let template = std::fs::read_to_string(&template_path).unwrap();
        let (begin, end) = (TEMPLATE_BEGIN, TEMPLATE_END);
        let (head, rest) = template.split_once(begin).expect("the template's generated-table marker");
        let (_, tail) = rest.split_once(end).expect("the template's end marker");
        let resource: String = TABLE_YAML.lines().filter(|l| !l.starts_with('#')).map(|l| format!("  {l}\n")).collect();
        let expected = format!("{head}{begin}\n{resource}{end}{tail}");
        if std::env::var_os("ASTRO_BLESS").is_some() {
            std::fs::write(&template_path, &expected).unwrap();
        }
        assert!(
            std::fs::read_to_string(&template_path).unwrap() == expected,
            "{}: the table is stale: run `make generate` and commit it",
            template_path.display()
        );

        let table: serde_json::Value = serde_json::from_str(TABLE_JSON).unwrap();
        assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
        let names: Vec<&str> = table["GlobalSecondaryIndexes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["IndexName"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "ColumnAgeIndex",
                "CompanyIndex",
                "DeadlineIndex",
                "EmailIndex",
                "FirstNameIndex",
                "FormIndex",
                "LastNameIndex",
                "MemberIndex",
                "OutboxIndex",
                "OwnerIndex",
                "OwnerScoreIndex",
                "ScoreIndex",
                "StatusIndex",
                "SubjectIndex"
            ]
        );
        let ttl: serde_json::Value = serde_json::from_str(TTL_JSON).unwrap();
        assert_eq!(ttl["TimeToLiveSpecification"]["AttributeName"], TTL);
        assert!(TABLE_YAML.contains("TimeToLiveSpecification:\n      AttributeName: ttl\n      Enabled: true"));
    }

    #[test]
    fn expiring_items_carry_their_ttl_in_unix_seconds() {
        use crate::v1::{CreateProspectRecord, SignInFailures, SignInSubjectKind};
        let f = SignInFailures {
            kind: SignInSubjectKind::Account as i32,
            subject: "ada@example.com".into(),
            window_start: Some(ts(1_706_400_000, 0)),
            count: 2,
            expires_at: Some(ts(1_706_400_900, 0)),
        };
        assert_eq!(f.pk(), "SIGNIN#ACCOUNT#ada@example.com");
        assert_eq!(f.sk(), "WINDOW#2024-01-28T00:00:00.000000Z");
        let item = f.to_item();
        assert_eq!(item[TTL], Attr::N("1706400900".into()));
        assert_eq!(SignInFailures::from_attributes(&item).unwrap(), f);
        let r = CreateProspectRecord { expires_at: Some(ts(42, 0)), ..Default::default() };
        assert_eq!(r.to_item()[TTL], Attr::N("42".into()));
        assert!(!User::default().to_item().contains_key(TTL), "users never expire");
    }

    #[test]
    fn timestamp_keys_sort_as_time_and_round_trip() {
        let a = timestamp_key(&ts(1_706_400_000, 999_000));
        let b = timestamp_key(&ts(1_706_400_001, 0));
        assert!(a < b, "{a} < {b}");
        assert_eq!(parse_timestamp_key(&b), Some(ts(1_706_400_001, 0)));
        assert_eq!(ProspectStatus::from_key_text("LOST"), Some(ProspectStatus::Lost));
        assert_eq!(ProspectStatus::New.key_text(), "NEW");
    }
}
