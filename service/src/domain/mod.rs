//! The domain: what a prospect may be, how it moves through the pipeline, who
//! may sign in. Transport-agnostic: the gRPC layer maps its errors to statuses.

pub mod auth;
pub mod board;
pub mod clock;
pub mod deadline;
pub mod email_confirmation;
pub mod export;
pub mod forms;
pub mod import;
pub mod imports;
pub mod insights;
pub mod invitations;
pub mod mail;
pub mod members;
pub mod page_token;
pub mod password_reset;
pub mod privacy;
pub mod prospects;
pub mod scoring;
pub mod security_log;
pub mod sign_in;
pub mod two_factor;
pub mod validation;

use crate::store::StoreError;

/// One invalid field of a request (AIP-193 `BadRequest.FieldViolation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path in the request, e.g. `prospect.email`.
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self { field: field.into(), description: description.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("invalid request: {}", describe(.0))]
    Invalid(Vec<FieldViolation>),
    #[error("{0} not found")]
    NotFound(String),
    /// Someone else changed the resource first: reread and retry.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// A board cursor older than the changes kept: reload the board.
    #[error("{0}")]
    Expired(String),
    /// The resource is not in a state that allows this.
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    PermissionDenied(&'static str),
    /// A sign-in past its failed-sign-in budget without a good captcha.
    #[error("{}", .0.message())]
    CaptchaNeeded(Box<sign_in::CaptchaNeeded>),
    /// Too many attempts: wait this long.
    #[error("{0}")]
    RateLimited(&'static str, std::time::Duration),
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// Logged with its cause; the caller sees a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; ")
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => DomainError::Conflict(m),
            StoreError::NotFound => DomainError::NotFound("item".into()),
            StoreError::Unavailable(m) => DomainError::Unavailable(m),
            StoreError::Internal(m) => DomainError::Internal(m),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;

/// The current time as a protobuf timestamp, at the microsecond precision the
/// store's keys keep (so a stored time reads back exactly as written).
pub fn now() -> prost_types::Timestamp {
    let mut ts = prost_types::Timestamp::from(std::time::SystemTime::now());
    ts.nanos -= ts.nanos % 1_000;
    ts
}
