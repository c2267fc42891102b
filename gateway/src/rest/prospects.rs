//! `/prospects`: the public form's submission, and the cards for REST clients
//! holding a member's token (the contract's permission table says which roles).

use std::{net::SocketAddr, sync::Arc};

use astro_authorizer::Role;
use astro_proto::v1 as pb;
use axum::{
    Json,
    extract::{ConnectInfo, Path, State},
    response::{IntoResponse, Response},
};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use tonic::Code;
use utoipa::{IntoParams, ToSchema};

use super::{Caller, JsonBody, QueryParams, call, captcha::captcha_problem, model::*, problem_from_status};
use crate::{
    Gateway,
    openapi::responses::{AdminErrors, BodyErrors, CommonErrors},
    problem::{Problem, kind},
};

/// The identity the gateway calls `CreateProspect` with; it is the actor of
/// the `created` event of every card from the public form.
pub const FORM_IDENTITY: &str = "public-form@gateway.astro-qualif";

const MAX_IDEMPOTENCY_KEY: usize = 128;

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Problem::field(
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters (a UUID, say)"),
        ));
    }
    Ok(Some(key.to_owned()))
}

/// Submit the public form.
///
/// The captcha token travels in the body (`captchaToken`) and is checked
/// before anything else. An `Idempotency-Key` header makes a retried
/// submission return the first one's prospect instead of a second one. An
/// email seen before creates a card linked to the first (`duplicateOf`).
#[utoipa::path(
    post,
    path = "/prospects",
    tag = "prospects",
    request_body = ProspectSubmission,
    params(("Idempotency-Key" = Option<String>, Header, description = "A key of yours (a UUID) naming this submission: retries with it create nothing more")),
    responses(
        (status = 201, description = "Stored", body = SubmissionReceipt,
            headers(("Location" = String, description = "The new prospect"))),
        BodyErrors,
        CommonErrors,
    )
)]
pub async fn submit(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ProspectSubmission>,
) -> Result<Response, Problem> {
    let ip = gateway.limits.client_ip(peer, &headers);
    let key = idempotency_key(&headers)?;
    gateway
        .captcha
        .verify(&body.captcha_token, ip, key.as_deref())
        .await
        .map_err(|e| captcha_problem(e, "captchaToken"))?;
    if !body.website.trim().is_empty() {
        return Err(Problem::field("website", "must be left empty"));
    }
    crate::embedding::check_submission(&gateway, &headers, body.form.as_deref().unwrap_or_default()).await?;

    let token =
        gateway.keys.issuer().reusable(FORM_IDENTITY, Role::Service, astro_authorizer::unix_now()).map_err(|e| {
            tracing::error!(error = %e, "could not sign the gateway's service token");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        })?;
    let request = pb::CreateProspectRequest { prospect: Some(body.to_proto()), request_id: key.unwrap_or_default() };
    let created = gateway
        .prospects
        .clone()
        .create_prospect(call(request, Some(&token), &headers))
        .await
        .map_err(|s| problem_from_status(&s, &headers))?
        .into_inner();
    let location = HeaderValue::try_from(format!("/prospects/{}", created.id)).ok();
    let mut response = (StatusCode::CREATED, Json(SubmissionReceipt { id: created.id })).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// One column of the Kanban.
    status: Option<Status>,
    /// Every prospect with this email.
    #[param(format = Email)]
    email: Option<String>,
    /// Search: an email address, or words that start the first name, last
    /// name or company (case and accents ignored); one page of at most
    /// `pageSize`, newest first. Not with `email` or `pageToken`.
    #[param(max_length = 100)]
    q: Option<String>,
    /// Cards per page (1–100, 50 by default).
    #[param(minimum = 1, maximum = 100)]
    page_size: Option<i32>,
    /// `nextPageToken` of the previous page.
    page_token: Option<String>,
    /// One owner's cards: `me`, or a member's email. Not with `email` or `q`.
    owner: Option<String>,
    /// `createdAt desc` (the default: newest first) or `score desc` (best
    /// fit first: grade, then score, then newest).
    order_by: Option<OrderBy>,
    /// Only the cards of this grade, best first.
    grade: Option<Grade>,
    /// Only the `new` cards past their first-contact deadline, most overdue
    /// first. Not with the other filters.
    overdue: Option<bool>,
    /// Only the cards of `status` in it longer than the team's days for
    /// it, longest first. Not with the other filters.
    stale: Option<bool>,
    /// Only the cards of this form (its name), newest first. Not with
    /// `email`, `q`, `owner`, `grade`, `overdue`, `stale` nor `orderBy`.
    #[param(max_length = 40)]
    form: Option<String>,
}

/// An `email` parameter, when present, is an address: empty is refused
/// (the service would take it for "everyone").
fn email_given(email: &Option<String>) -> Result<(), Problem> {
    match email.as_deref().is_some_and(|e| e.trim().is_empty()) {
        true => Err(Problem::field("email", "must be an email address (leave the parameter out for everyone)")),
        false => Ok(()),
    }
}

impl ListParams {
    fn into_proto(self) -> pb::ListProspectsRequest {
        pb::ListProspectsRequest {
            page_size: self.page_size.unwrap_or_default(),
            page_token: self.page_token.unwrap_or_default(),
            status: self.status.map(Status::to_proto).unwrap_or_default(),
            email: self.email.unwrap_or_default(),
            query: self.q.unwrap_or_default(),
            owner: self.owner.unwrap_or_default(),
            order_by: match self.order_by {
                None | Some(OrderBy::Newest) => String::new(),
                Some(OrderBy::Score) => "score desc".into(),
            },
            grade: self.grade.map(Grade::to_proto).unwrap_or_default(),
            overdue: self.overdue.unwrap_or_default(),
            stale: self.stale.unwrap_or_default(),
            form: self.form.unwrap_or_default(),
        }
    }
}

/// The order of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum OrderBy {
    #[serde(rename = "createdAt desc")]
    Newest,
    #[serde(rename = "score desc")]
    Score,
}

/// List prospects, newest first.
#[utoipa::path(
    get,
    path = "/prospects",
    tag = "prospects",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page", body = ProspectPage),
        (status = 400, description = "Invalid parameter", body = Problem, content_type = "application/problem+json"),
        AdminErrors,
        CommonErrors,
    )
)]
pub async fn list(
    State(gateway): State<Arc<Gateway>>,
    caller: Caller,
    headers: HeaderMap,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<ProspectPage>, Problem> {
    let token = caller.token;
    // REST states its bounds (the contract's 0 = "the default" is not offered).
    if params.page_size.is_some_and(|n| !(1..=100).contains(&n)) {
        return Err(Problem::field("pageSize", "must be from 1 to 100"));
    }
    email_given(&params.email)?;
    let request = params.into_proto();
    let page = gateway
        .prospects
        .clone()
        .list_prospects(call(request, Some(&token), &headers))
        .await
        .map_err(|s| problem_from_status(&s, &headers))?
        .into_inner();
    Ok(Json(ProspectPage {
        prospects: page.prospects.into_iter().map(|p| Prospect::from_proto(p, false)).collect(),
        next_page_token: Some(page.next_page_token).filter(|t| !t.is_empty()),
        status_counts: page
            .status_counts
            .into_iter()
            .map(|c| StatusCount { status: Status::from_proto(c.status), count: c.count })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// One column of the Kanban; without it, and without `q` and `email`,
    /// every column in board order.
    status: Option<Status>,
    /// Every prospect with this email.
    #[param(format = Email)]
    email: Option<String>,
    /// A search, as in `GET /prospects`: the cards it finds (at most 200).
    #[param(max_length = 100)]
    q: Option<String>,
    /// One owner's cards: `me`, or a member's email.
    owner: Option<String>,
    /// `createdAt desc` (the default) or `score desc`.
    order_by: Option<OrderBy>,
    /// Only the cards of this grade, best first.
    grade: Option<Grade>,
    /// Only the `new` cards past their first-contact deadline.
    overdue: Option<bool>,
    /// Only the cards of `status` in it longer than the team's days for it.
    stale: Option<bool>,
    /// Only the cards of this form (its name).
    #[param(max_length = 40)]
    form: Option<String>,
    /// The cell separator: `,` (the default) or `;` (for spreadsheets in French).
    #[param(value_type = Option<String>, pattern = "^[,;]$")]
    separator: Option<String>,
    /// Start the file with a UTF-8 byte order mark (Excel needs it for accents).
    bom: Option<bool>,
    /// The language of the header row and of the words: `en` (the default) or `fr`.
    lang: Option<Lang>,
}

/// A language of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Fr,
}

/// Export prospects as CSV.
///
/// The cards a listing selects (the filters of `GET /prospects`), as a CSV
/// file (RFC 4180) for a spreadsheet, streamed as it is read: a header row,
/// then one row per card; dates in ISO 8601 (UTC); statuses and choices as
/// words; every cell quoted, and a cell that would start with `=`, `+`, `-`,
/// `@`, a tab or a carriage return prefixed with `'` (CSV injection).
#[utoipa::path(
    get,
    path = "/prospects/export",
    tag = "prospects",
    params(ExportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The file, streamed", content_type = "text/csv",
            headers(("Content-Disposition" = String, description = "attachment; filename=\"prospects-<date>.csv\""))),
        (status = 400, description = "Invalid parameter", body = Problem, content_type = "application/problem+json"),
        AdminErrors,
        CommonErrors,
    )
)]
pub async fn export(
    State(gateway): State<Arc<Gateway>>,
    caller: Caller,
    headers: HeaderMap,
    QueryParams(params): QueryParams<ExportParams>,
) -> Result<Response, Problem> {
    use tokio_stream::StreamExt as _;
    // Present means chosen: an empty value is no separator (the service
    // would take it for the default).
    if params.separator.as_deref().is_some_and(|s| s != "," && s != ";") {
        return Err(Problem::field("separator", "\",\" (the default) or \";\""));
    }
    email_given(&params.email)?;
    let filter = ListParams {
        status: params.status,
        email: params.email,
        q: params.q,
        page_size: None,
        page_token: None,
        owner: params.owner,
        order_by: params.order_by,
        grade: params.grade,
        overdue: params.overdue,
        stale: params.stale,
        form: params.form,
    };
    let request = pb::ExportProspectsRequest {
        filter: Some(filter.into_proto()),
        separator: params.separator.unwrap_or_default(),
        byte_order_mark: params.bom.unwrap_or_default(),
        language: match params.lang {
            None | Some(Lang::En) => "en".into(),
            Some(Lang::Fr) => "fr".into(),
        },
    };
    let mut request = call(request, Some(&caller.token), &headers);
    // The file streams for as long as it takes (API Gateway's streamed
    // routes allow 15 minutes).
    request.set_timeout(EXPORT_TIMEOUT);
    let chunks = gateway
        .prospects
        .clone()
        .export_prospects(request)
        .await
        .map_err(|s| problem_from_status(&s, &headers))?
        .into_inner();
    // A failure mid-file ends the body without its last chunk: the client
    // sees a broken download, never a short file that looks whole.
    let request_id = super::request_id(&headers);
    let body = chunks.map(move |chunk| {
        chunk.map(|c| axum::body::Bytes::from(c.data)).map_err(|status| {
            tracing::warn!(request_id = request_id.as_deref().unwrap_or("-"), code = ?status.code(), message = status.message(), "export ended early");
            std::io::Error::other(status.message().to_owned())
        })
    });
    let name = format!("attachment; filename=\"prospects-{}.csv\"", time::OffsetDateTime::now_utc().date());
    let mut response = axum::body::Body::from_stream(body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(name) = HeaderValue::try_from(name) {
        h.insert(header::CONTENT_DISPOSITION, name);
    }
    Ok(response)
}

/// How long an export may stream.
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// The card only.
    Basic,
    /// The card and its history.
    #[default]
    Full,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GetParams {
    /// `full` (default) adds the card's history.
    view: Option<View>,
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::try_from(format!("\"{version}\"")).expect("digits are a valid header")
}

fn with_etag(prospect: pb::Prospect, full: bool) -> Response {
    let tag = etag(prospect.version);
    let mut response = Json(Prospect::from_proto(prospect, full)).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    response
}

/// The version an `If-Match` header names (`"3"`, `W/"3"` or `3`).
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    match text.parse::<i64>() {
        Ok(v) if v > 0 => Ok(Some(v)),
        _ => Err(Problem::field("If-Match", "must be the card's ETag, as GET returned it (e.g. \"3\")")),
    }
}

/// An ABORTED from the service on a conditional request: the version moved.
fn precondition(status: tonic::Status, headers: &HeaderMap) -> Problem {
    match status.code() {
        Code::Aborted => {
            Problem::new(StatusCode::PRECONDITION_FAILED, status.message()).kind(kind::STALE, "Changed meanwhile")
        }
        _ => problem_from_status(&status, headers),
    }
}

/// Get one prospect.
#[utoipa::path(
    get,
    path = "/prospects/{id}",
    tag = "prospects",
    params(("id" = uuid::Uuid, Path, description = "The prospect's id"), GetParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The card", body = Prospect,
            headers(("ETag" = String, description = "The card's version, for If-Match"))),
        (status = 400, description = "Invalid id or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prospect", body = Problem, content_type = "application/problem+json"),
        AdminErrors,
        CommonErrors,
    )
)]
pub async fn get(
    State(gateway): State<Arc<Gateway>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    QueryParams(params): QueryParams<GetParams>,
) -> Result<Response, Problem> {
    let token = caller.token;
    let full = matches!(params.view.unwrap_or_default(), View::Full);
    let view = if full { pb::ProspectView::Full } else { pb::ProspectView::Basic };
    let request = pb::GetProspectRequest { id, view: view as i32 };
    let prospect = gateway
        .prospects
        .clone()
        .get_prospect(call(request, Some(&token), &headers))
        .await
        .map_err(|s| problem_from_status(&s, &headers))?
        .into_inner();
    Ok(with_etag(prospect, full))
}

/// Change a prospect: move it to another column, or edit its fields.
///
/// Send the version you read in `If-Match`: if someone changed the card
/// since, nothing is written and the answer is 412 — reload and apply your
/// change again.
#[utoipa::path(
    patch,
    path = "/prospects/{id}",
    tag = "prospects",
    request_body = ProspectPatch,
    params(
        ("id" = uuid::Uuid, Path, description = "The prospect's id"),
        ("If-Match" = String, Header, description = "The ETag you read (e.g. \"3\")"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed card", body = Prospect,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such prospect", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflicting change", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since you read it", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
        BodyErrors,
        AdminErrors,
        CommonErrors,
    )
)]
pub async fn update(
    State(gateway): State<Arc<Gateway>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<ProspectPatch>,
) -> Result<Response, Problem> {
    let token = caller.token;
    let version = if_match(&headers)?.ok_or_else(|| {
        Problem::new(StatusCode::PRECONDITION_REQUIRED, "send the version you read as If-Match (the ETag of GET)")
            .kind(kind::STALE, "Version required")
    })?;
    let (prospect, paths) = patch.to_proto(&id, version);
    let request =
        pb::UpdateProspectRequest { prospect: Some(prospect), update_mask: Some(prost_types::FieldMask { paths }) };
    let changed = gateway
        .prospects
        .clone()
        .update_prospect(call(request, Some(&token), &headers))
        .await
        .map_err(|s| precondition(s, &headers))?
        .into_inner();
    Ok(with_etag(changed, false))
}

/// Delete a prospect and its history.
///
/// With `If-Match`, only if the card is still at that version.
#[utoipa::path(
    delete,
    path = "/prospects/{id}",
    tag = "prospects",
    params(
        ("id" = uuid::Uuid, Path, description = "The prospect's id"),
        ("If-Match" = Option<String>, Header, description = "Delete only at this version (the ETag you read)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prospect", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since you read it", body = Problem, content_type = "application/problem+json"),
        AdminErrors,
        CommonErrors,
    )
)]
pub async fn delete(
    State(gateway): State<Arc<Gateway>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let token = caller.token;
    let version = if_match(&headers)?.unwrap_or_default();
    let request = pb::DeleteProspectRequest { id, version };
    gateway
        .prospects
        .clone()
        .delete_prospect(call(request, Some(&token), &headers))
        .await
        .map_err(|s| precondition(s, &headers))?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        h
    }

    #[test]
    fn if_match_reads_strong_weak_and_bare_versions() {
        assert_eq!(if_match(&headers("if-match", "\"3\"")).unwrap(), Some(3));
        assert_eq!(if_match(&headers("if-match", "W/\"4\"")).unwrap(), Some(4));
        assert_eq!(if_match(&headers("if-match", "5")).unwrap(), Some(5));
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
        assert_eq!(if_match(&headers("if-match", "*")).unwrap_err().errors[0].field, "If-Match");
    }

    #[test]
    fn idempotency_keys_are_short_printable_text() {
        assert_eq!(idempotency_key(&headers("idempotency-key", "abc-123")).unwrap().as_deref(), Some("abc-123"));
        assert!(idempotency_key(&headers("idempotency-key", &"x".repeat(129))).is_err());
        assert!(idempotency_key(&headers("idempotency-key", "a b")).is_err());
    }
}
