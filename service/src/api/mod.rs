//! The gRPC face of the domain: request → domain call → response, and domain
//! errors → gRPC statuses with machine-readable details.

pub mod access;
pub mod auth;
pub mod edge;
pub mod forms;
pub mod imports;
pub mod insights;
pub mod members;
pub mod privacy;
pub mod prospects;
pub mod scoring;

use tonic::{Code, Status, metadata::MetadataMap};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::DomainError;

/// The request id the edge layer put on the request, for logs and errors.
fn request_id(metadata: &MetadataMap) -> String {
    metadata.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned()
}

/// A required request field left out.
fn missing(field: &str) -> DomainError {
    DomainError::Invalid(vec![crate::domain::FieldViolation::new(field, "is required")])
}

/// The `google.rpc.ErrorInfo` domain of this service's reasons.
pub const ERROR_DOMAIN: &str = "astro-qualif";

/// Maps a domain error to a status. Internal causes are logged with the
/// request id and never sent to the caller.
pub fn status(error: DomainError, metadata: &MetadataMap) -> Status {
    match error {
        DomainError::Invalid(violations) => {
            let message = DomainError::Invalid(violations.clone()).to_string();
            let details = ErrorDetails::with_bad_request(
                violations
                    .into_iter()
                    .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                    .collect::<Vec<_>>(),
            );
            Status::with_error_details(Code::InvalidArgument, message, details)
        }
        DomainError::NotFound(what) => Status::not_found(format!("{what} not found")),
        DomainError::Conflict(message) => Status::aborted(message),
        DomainError::AlreadyExists(message) => Status::already_exists(message),
        DomainError::FailedPrecondition(message) => Status::failed_precondition(message),
        DomainError::Expired(message) => {
            let details =
                ErrorDetails::with_error_info("CURSOR_EXPIRED", ERROR_DOMAIN, std::collections::HashMap::new());
            Status::with_error_details(Code::FailedPrecondition, message, details)
        }
        DomainError::Unauthenticated(message) => Status::unauthenticated(message),
        DomainError::PermissionDenied(message) => Status::permission_denied(message),
        DomainError::CaptchaNeeded(needed) => {
            let mut details = ErrorDetails::with_error_info(needed.reason(), ERROR_DOMAIN, needed.prompt.metadata());
            details.add_bad_request_violation("captcha_token", needed.problem.to_string());
            Status::with_error_details(Code::Unauthenticated, needed.message(), details)
        }
        DomainError::RateLimited(message, wait) => {
            Status::with_error_details(Code::ResourceExhausted, message, ErrorDetails::with_retry_info(Some(wait)))
        }
        DomainError::Unavailable(cause) => {
            tracing::warn!(request_id = %request_id(metadata), %cause, "store unavailable");
            let details = ErrorDetails::with_retry_info(Some(std::time::Duration::from_millis(200)));
            Status::with_error_details(Code::Unavailable, "temporarily unavailable: retry shortly", details)
        }
        DomainError::Internal(cause) => {
            let id = request_id(metadata);
            tracing::error!(request_id = %id, %cause, "internal error");
            Status::internal(format!("internal error (request id {id})"))
        }
    }
}
