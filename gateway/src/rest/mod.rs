//! The REST API: the seed's endpoint table over the typed service. Bodies are
//! camelCase JSON; every error is a problem document naming what to fix.

pub mod auth;
pub mod captcha;
pub mod forms;
pub mod health;
pub mod model;
pub mod prospects;

use std::time::Duration;

use astro_authorizer::{Claims, Refusal, policy};
use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
};
use http::{HeaderMap, StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;
use tonic::{Code, metadata::MetadataValue};
use tonic_types::StatusExt as _;

use crate::{
    Gateway,
    problem::{FieldError, Problem},
};

/// How long one call to the service may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The request id set by the edge (also in the logs and the response).
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// A JSON body, refused with a problem naming the field when it does not fit.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime_type::Essence>().ok())
            .is_some_and(|m| m.is_json());
        if !json {
            return Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
                .with_error(FieldError::new("Content-Type", "must be application/json")));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            let status = e.status();
            Problem::new(status, e.body_text())
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Deserializes `bytes`, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| field_problem(&e.path().to_string(), e.inner()))?;
    Ok(value)
}

fn field_problem(path: &str, error: &dyn std::fmt::Display) -> Problem {
    let message = error.to_string();
    // "unknown field `x`, expected one of …" is about `x` itself.
    let (field, detail) = match message.strip_prefix("unknown field `").and_then(|rest| rest.split_once('`')) {
        // The path already ends with the unknown key.
        Some((name, _)) => {
            let field = match path {
                "." | "" => name.to_owned(),
                p => p.to_owned(),
            };
            (field, "is not a field of this request".to_owned())
        }
        None => {
            let field = match path {
                "." | "" | "?" => "body".to_owned(),
                p => p.to_owned(),
            };
            // serde_json appends the position; the field name says more.
            let detail = message.split(" at line ").next().unwrap_or(&message).to_owned();
            (field, detail)
        }
    };
    Problem::invalid(vec![FieldError::new(field, detail)])
}

/// Query parameters, refused with a problem naming the parameter.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(QueryParams)
            .map_err(|e| field_problem(&e.path().to_string(), e.inner()))
    }
}

/// A contract field path in a service error (`prospect.first_name`) as the
/// REST client knows it (`firstName`, or the header that carried it).
fn rest_field(path: &str) -> String {
    let path = path.strip_prefix("prospect.").or_else(|| path.strip_prefix("filter.")).unwrap_or(path);
    match path {
        "language" => "lang".into(),
        "byte_order_mark" => "bom".into(),
        "consent.given" => "consent".into(),
        "consent.text_version" => "consentVersion".into(),
        "consent.language" => "consentLanguage".into(),
        "request_id" => "Idempotency-Key".into(),
        "version" => "If-Match".into(),
        "update_mask" => "body".into(),
        "page_size" => "pageSize".into(),
        "page_token" => "pageToken".into(),
        "query" => "q".into(),
        other => model::json_name(other),
    }
}

/// Maps a status from the service to a problem.
pub fn problem_from_status(status: &tonic::Status, headers: &HeaderMap) -> Problem {
    let message = status.message().to_owned();
    match status.code() {
        Code::InvalidArgument => {
            let violations = status.get_details_bad_request().map(|b| b.field_violations).unwrap_or_default();
            match violations.is_empty() {
                true => Problem::new(StatusCode::BAD_REQUEST, message),
                false => Problem::invalid(
                    violations.into_iter().map(|v| FieldError::new(rest_field(&v.field), v.description)).collect(),
                ),
            }
        }
        Code::Unauthenticated => match status.get_details_error_info() {
            Some(info) if info.domain == astro_service::api::ERROR_DOMAIN && info.reason.starts_with("CAPTCHA_") => {
                let detail = status
                    .get_details_bad_request()
                    .and_then(|b| b.field_violations.into_iter().next())
                    .map(|v| v.description)
                    .unwrap_or_else(|| message.clone());
                let mut problem = Problem::unauthenticated(message)
                    .kind(crate::problem::kind::CAPTCHA, "Captcha needed")
                    .with_error(FieldError::new("captchaToken", detail));
                if let Some(prompt) = astro_service::captcha::Prompt::from_metadata(&info.metadata) {
                    problem = problem.with_captcha(prompt.into());
                }
                problem
            }
            _ => Problem::unauthenticated(message),
        },
        Code::PermissionDenied => Problem::new(StatusCode::FORBIDDEN, message),
        Code::NotFound => Problem::new(StatusCode::NOT_FOUND, message),
        Code::AlreadyExists => Problem::new(StatusCode::CONFLICT, message),
        Code::Aborted => {
            Problem::new(StatusCode::CONFLICT, message).kind(crate::problem::kind::STALE, "Changed meanwhile")
        }
        Code::ResourceExhausted => Problem::rate_limited(
            message,
            status.get_details_retry_info().and_then(|r| r.retry_delay).unwrap_or(Duration::from_secs(1)),
        ),
        Code::Unavailable => {
            let wait = status.get_details_retry_info().and_then(|r| r.retry_delay).unwrap_or(Duration::from_secs(1));
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable: retry shortly").retry_after(wait)
        }
        Code::DeadlineExceeded => Problem::new(StatusCode::GATEWAY_TIMEOUT, "the service did not answer in time"),
        code => {
            let id = request_id(headers);
            tracing::error!(request_id = id.as_deref().unwrap_or("-"), ?code, %message, "service call failed");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error").with_request_id(id)
        }
    }
}

/// A call to the service carrying the bearer `token`, if any, and the request id.
pub fn call<T>(message: T, token: Option<&str>, headers: &HeaderMap) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(CALL_TIMEOUT);
    if let Some(Ok(value)) = token.map(|t| MetadataValue::try_from(format!("Bearer {t}"))) {
        request.metadata_mut().insert("authorization", value);
    }
    if let Some(id) = headers.get("x-request-id").and_then(|v| MetadataValue::try_from(v.as_bytes()).ok()) {
        request.metadata_mut().insert("x-request-id", id);
    }
    request
}

/// The caller of a REST route that needs a token: the edge's check of the
/// route's rule in the contract's permission table (the rule of the method
/// whose REST twin it is, found by the route as matched and the HTTP
/// method). Its token is passed on to the service, which checks again. A
/// route the table does not declare admits nobody.
pub struct Caller {
    pub claims: Claims,
    pub token: String,
}

impl FromRequestParts<std::sync::Arc<Gateway>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, gateway: &std::sync::Arc<Gateway>) -> Result<Self, Problem> {
        let route = parts.extensions.get::<axum::extract::MatchedPath>().map(|p| p.as_str()).unwrap_or_default();
        let roles = match policy::rest_route(parts.method.as_str(), route) {
            policy::Access::Roles(roles) => roles,
            policy::Access::Public | policy::Access::Closed => {
                tracing::error!(route, method = %parts.method, "a REST route without a rule in the contract");
                return Err(Problem::new(StatusCode::FORBIDDEN, "this route is not open to any role"));
            }
        };
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let claims = gateway.keys.verifier().authorize(header, roles).map_err(|refusal| match refusal {
            Refusal::Forbidden(_) => Problem::new(StatusCode::FORBIDDEN, refusal.to_string()),
            Refusal::Missing | Refusal::Invalid => Problem::unauthenticated(refusal.to_string()),
        })?;
        // Valid, so the header holds a bearer token.
        let token = header.and_then(astro_authorizer::bearer_token).unwrap_or_default().to_owned();
        Ok(Caller { claims, token })
    }
}

/// Minimal media-type parsing: the essence (`type/subtype`) of a header value.
mod mime_type {
    pub struct Essence(String);

    impl std::str::FromStr for Essence {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            let essence = s.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            essence.contains('/').then_some(Essence(essence)).ok_or(())
        }
    }

    impl Essence {
        /// `application/json` or any `application/*+json`.
        pub fn is_json(&self) -> bool {
            self.0 == "application/json" || (self.0.starts_with("application/") && self.0.ends_with("+json"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_field_paths_become_rest_names() {
        assert_eq!(rest_field("prospect.first_name"), "firstName");
        assert_eq!(rest_field("prospect.source.utm_campaign"), "source.utmCampaign");
        assert_eq!(rest_field("prospect.consent.given"), "consent");
        assert_eq!(rest_field("request_id"), "Idempotency-Key");
        assert_eq!(rest_field("filter.query"), "q");
        assert_eq!(rest_field("language"), "lang");
    }

    #[test]
    fn json_errors_name_the_field() {
        let p = parse_json::<model::ProspectSubmission>(br#"{"firstName": 3}"#).unwrap_err();
        assert_eq!(p.errors[0].field, "firstName");
        let p = parse_json::<model::ProspectSubmission>(br#"{"fristName": "Ada"}"#).unwrap_err();
        assert_eq!(p.errors[0], FieldError::new("fristName", "is not a field of this request"));
        let p = parse_json::<model::ProspectSubmission>(br#"{"source": {"utm": "x"}}"#).unwrap_err();
        assert_eq!(p.errors[0].field, "source.utm");
        let p = parse_json::<model::ProspectSubmission>(b"{").unwrap_err();
        assert_eq!(p.errors[0].field, "body");
    }
}
