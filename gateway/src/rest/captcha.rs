//! The captcha endpoints: what the web app needs to show it, the
//! proof-of-work challenge, and the seed's `POST /verify-recaptcha`.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json,
    extract::{ConnectInfo, State},
    response::{IntoResponse, Response},
};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::{JsonBody, model::*};
use astro_service::{
    captcha::{CaptchaError, pow::Challenge},
    config::CaptchaProvider,
};

use crate::{
    Gateway,
    openapi::responses::{BodyErrors, CommonErrors},
    problem::Problem,
};

/// The captcha in use.
///
/// The public form always needs it. A sign-in needs it only after too many
/// failures for the account or from the address: `POST /auth/login` then
/// answers 401 naming `captchaToken`, with the captcha and (for the proof of
/// work) the challenge to solve in the problem's `captcha` member.
#[utoipa::path(
    get,
    path = "/captcha",
    tag = "captcha",
    responses((status = 200, description = "The provider and its public settings", body = CaptchaSettings), CommonErrors)
)]
pub async fn settings(State(gateway): State<Arc<Gateway>>) -> Json<CaptchaSettings> {
    let provider = gateway.captcha.provider();
    Json(CaptchaSettings {
        provider: provider.name().into(),
        site_key: gateway.captcha.site_key().map(str::to_owned),
        challenge_url: (provider == CaptchaProvider::Pow).then(|| "/captcha/challenge".into()),
        action: gateway.captcha.action().map(str::to_owned),
    })
}

/// A proof-of-work challenge (ALTCHA protocol).
///
/// Find the number `n ≤ maxnumber` whose SHA-256 of `salt + n` is
/// `challenge`, then send base64 of
/// `{"algorithm","challenge","number","salt","signature"}` as the
/// submission's `captchaToken`. Each challenge expires and is good for one
/// submission.
#[utoipa::path(
    get,
    path = "/captcha/challenge",
    tag = "captcha",
    responses(
        (status = 200, description = "A fresh challenge", body = Challenge),
        (status = 404, description = "The captcha in use is not the proof of work", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    )
)]
pub async fn challenge(State(gateway): State<Arc<Gateway>>) -> Result<Response, Problem> {
    let challenge = gateway.captcha.challenge().ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            format!("the captcha in use is {}, not the proof of work", gateway.captcha.provider().name()),
        )
    })?;
    let mut response = Json(challenge).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Checks a captcha token and says what the provider thinks of it.
///
/// Kept from the seed for compatibility. It is never enough on its own: it
/// uses the token up, and `POST /prospects` checks its own token.
#[utoipa::path(
    post,
    path = "/verify-recaptcha",
    tag = "captcha",
    request_body = CaptchaCheck,
    responses(
        (status = 200, description = "The verdict", body = CaptchaVerdict),
        BodyErrors,
        CommonErrors,
    )
)]
pub async fn verify(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CaptchaCheck>,
) -> Result<Json<CaptchaVerdict>, Problem> {
    let ip = gateway.limits.client_ip(peer, &headers);
    match gateway.captcha.verify(&body.token, ip, None).await {
        Ok(verdict) => {
            Ok(Json(CaptchaVerdict { success: true, score: verdict.score, hostname: verdict.hostname, reason: None }))
        }
        Err(e @ (CaptchaError::Missing | CaptchaError::TooLong)) => Err(Problem::field("token", e.to_string())),
        Err(CaptchaError::Unavailable) => Err(captcha_problem(CaptchaError::Unavailable, "token")),
        Err(e) => Ok(Json(CaptchaVerdict { success: false, score: None, hostname: None, reason: Some(e.to_string()) })),
    }
}

/// The problem for a refused captcha token sent as `field`.
pub fn captcha_problem(error: CaptchaError, field: &str) -> Problem {
    match error {
        CaptchaError::Unavailable => Problem::new(StatusCode::SERVICE_UNAVAILABLE, format!("{field} {error}"))
            .kind(crate::problem::kind::CAPTCHA, "Captcha not verified")
            .retry_after(std::time::Duration::from_secs(5)),
        error => Problem::field(field, error.to_string()).kind(crate::problem::kind::CAPTCHA, "Captcha not verified"),
    }
}
