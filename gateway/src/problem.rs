//! Errors as RFC 9457 problem details (`application/problem+json`), with the
//! invalid fields listed by their JSON names.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem: what went wrong, in a form both people and programs read.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank`: the status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The invalid fields, by their JSON names (`firstName`, `source.referrer`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id, as in the logs and the `x-request-id` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Which captcha to solve, when the answer asks for one (a sign-in after
    /// too many failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captcha: Option<CaptchaPrompt>,
    #[serde(skip)]
    retry_after: Option<Duration>,
    #[serde(skip)]
    authenticate: bool,
}

/// The captcha to show: send its solution as `captchaToken` with the request again.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptchaPrompt {
    /// `pow`, `recaptcha-v3`, `recaptcha-v2`, `hcaptcha` or `turnstile`.
    pub provider: String,
    /// A third-party provider's public site key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_key: Option<String>,
    /// For `pow`: the challenge to solve (as `GET /captcha/challenge` returns one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<astro_service::captcha::pow::Challenge>,
}

impl From<astro_service::captcha::Prompt> for CaptchaPrompt {
    fn from(p: astro_service::captcha::Prompt) -> Self {
        Self { provider: p.provider.name().to_owned(), site_key: p.site_key, challenge: p.challenge }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's JSON name, or the header's name.
    pub field: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { field: field.into(), detail: detail.into() }
    }
}

/// Kinds with their own page section in `/docs`.
pub mod kind {
    pub const INVALID: &str = "/docs#problem-invalid";
    pub const CAPTCHA: &str = "/docs#problem-captcha";
    pub const RATE_LIMITED: &str = "/docs#problem-rate-limited";
    pub const STALE: &str = "/docs#problem-stale";
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            request_id: None,
            captcha: None,
            retry_after: None,
            authenticate: false,
        }
    }

    pub fn kind(mut self, kind: &str, title: &str) -> Self {
        self.kind = kind.into();
        self.title = title.into();
        self
    }

    /// 400 listing the invalid fields.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.detail)).collect::<Vec<_>>().join("; ");
        let mut p = Self::new(StatusCode::BAD_REQUEST, detail).kind(kind::INVALID, "Invalid request");
        p.errors = errors;
        p
    }

    /// Names a field at fault in a problem of another status (415, say).
    pub fn with_error(mut self, error: FieldError) -> Self {
        self.errors.push(error);
        self
    }

    pub fn field(field: &str, detail: impl Into<String>) -> Self {
        Self::invalid(vec![FieldError::new(field, detail)])
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        let mut p = Self::new(StatusCode::UNAUTHORIZED, detail);
        p.authenticate = true;
        p
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(detail: impl Into<String>, wait: Duration) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, detail).kind(kind::RATE_LIMITED, "Too many requests").retry_after(wait)
    }

    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn with_captcha(mut self, prompt: CaptchaPrompt) -> Self {
        self.captcha = Some(prompt);
        self
    }

    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        self.request_id = id;
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// Whole seconds, at least one, as `Retry-After` wants them.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0 || wait.is_zero())
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(wait) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(wait)));
        }
        if self.authenticate {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2_100)), 3);
    }

    #[test]
    fn an_invalid_request_names_each_field() {
        let p =
            Problem::invalid(vec![FieldError::new("email", "is required"), FieldError::new("firstName", "too long")]);
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["status"], 400);
        assert_eq!(json["type"], kind::INVALID);
        assert_eq!(json["errors"][0]["field"], "email");
        assert_eq!(json["detail"], "email: is required; firstName: too long");
    }
}
