//! `POST /auth/login`: the service's Login, told the client's address. The
//! failed-sign-in budgets and the captcha past them are the service's, the
//! same for REST, gRPC-web and native gRPC. An unknown email costs the same
//! bcrypt time as a wrong password (the service sees to it) and counts the same.

use std::{net::SocketAddr, sync::Arc};

use astro_proto::v1 as pb;
use astro_service::{api::edge, domain::sign_in::Transport};
use axum::{
    Json,
    extract::{ConnectInfo, State},
};
use http::HeaderMap;
use tonic::metadata::MetadataValue;

use super::{JsonBody, call, model::*, problem_from_status};
use crate::{
    Gateway,
    openapi::responses::{BodyErrors, CommonErrors},
    problem::Problem,
};

/// Sign in.
///
/// Returns a 24-hour HS256 token for the `Authorization: Bearer` header of
/// the other endpoints and of gRPC-web calls. After too many failed sign-ins
/// for the account (5 in 15 minutes by default) or from your address (20),
/// the password alone is not enough: the 401 names `captchaToken` and carries
/// the captcha to solve (`captcha`); send its solution as `captchaToken` with
/// the password. Nobody is locked out: the right password with a solved
/// captcha always signs in.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Wrong email or password; or a captcha is needed (`errors` names `captchaToken`, `captcha` says which)", body = Problem, content_type = "application/problem+json"),
        BodyErrors,
        CommonErrors,
    )
)]
pub async fn login(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, Problem> {
    let ip = gateway.limits.client_ip(peer, &headers);
    let request = pb::LoginRequest { email: body.email, password: body.password, captcha_token: body.captcha_token };
    let request = from_client(request, &gateway, ip, &headers);
    let r = gateway.auth.clone().login(request).await.map_err(|s| problem_from_status(&s, &headers))?.into_inner();
    Ok(Json(signed_in(r)))
}

/// Complete a sign-in with a second factor.
///
/// After `POST /auth/login` answered with `secondStep` (no token yet): its
/// ticket and a code from the member's authenticator app (6 digits; each
/// code is good once) or one of their recovery codes. A wrong code is a 400
/// naming `code` and counts as a failed sign-in; past the budget, or once the
/// ticket has expired (5 minutes), a 400 says to sign in again.
#[utoipa::path(
    post,
    path = "/auth/second-step",
    tag = "auth",
    request_body = SecondStepRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        BodyErrors,
        CommonErrors,
    )
)]
pub async fn second_step(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SecondStepRequest>,
) -> Result<Json<LoginResponse>, Problem> {
    let ip = gateway.limits.client_ip(peer, &headers);
    let request =
        from_client(pb::CompleteSignInRequest { ticket: body.ticket, code: body.code }, &gateway, ip, &headers);
    let r = gateway
        .auth
        .clone()
        .complete_sign_in(request)
        .await
        .map_err(|s| problem_from_status(&s, &headers))?
        .into_inner();
    Ok(Json(signed_in(r)))
}

/// Forgot password: email a link to set a new one.
///
/// When the address is a member's, they get an email with a one-time link,
/// good for 30 minutes. The answer (202, no body) is the same, and as fast,
/// for any address. Each request counts against your address's
/// failed-sign-in budget; past it a captcha is asked, as for `POST /auth/login`.
#[utoipa::path(
    post,
    path = "/auth/forgot-password",
    tag = "auth",
    request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "Accepted: an email is on its way if the address is a member's"),
        (status = 401, description = "A captcha is needed (`errors` names `captchaToken`, `captcha` says which)", body = Problem, content_type = "application/problem+json"),
        BodyErrors,
        CommonErrors,
    )
)]
pub async fn forgot_password(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ForgotPasswordRequest>,
) -> Result<http::StatusCode, Problem> {
    let ip = gateway.limits.client_ip(peer, &headers);
    let message = pb::RequestPasswordResetRequest { email: body.email, captcha_token: body.captcha_token };
    let request = from_client(message, &gateway, ip, &headers);
    gateway.auth.clone().request_password_reset(request).await.map_err(|s| problem_from_status(&s, &headers))?;
    Ok(http::StatusCode::ACCEPTED)
}

/// Set a new password through the emailed link.
///
/// Every session of the member ends; the answer signs in, or asks for the
/// second factor (`secondStep`) as `POST /auth/login` does. A link used,
/// replaced by a newer one or past its 30 minutes is a 400 saying so.
#[utoipa::path(
    post,
    path = "/auth/reset-password",
    tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "The new password is set", body = LoginResponse),
        BodyErrors,
        CommonErrors,
    )
)]
pub async fn reset_password(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ResetPasswordRequest>,
) -> Result<Json<LoginResponse>, Problem> {
    let ip = gateway.limits.client_ip(peer, &headers);
    let message = pb::ResetPasswordRequest { token: body.token, new_password: body.new_password };
    let request = from_client(message, &gateway, ip, &headers);
    let r =
        gateway.auth.clone().reset_password(request).await.map_err(|s| problem_from_status(&s, &headers))?.into_inner();
    Ok(Json(signed_in(r)))
}

/// A call on behalf of the client at `ip`, as the edge vouches for it.
fn from_client<T>(message: T, gateway: &Gateway, ip: std::net::IpAddr, headers: &HeaderMap) -> tonic::Request<T> {
    let mut request = call(message, None, headers);
    for (name, value) in edge::headers(&gateway.keys, ip, Transport::Rest) {
        if let Ok(value) = MetadataValue::try_from(value) {
            request.metadata_mut().insert(name, value);
        }
    }
    request
}

fn signed_in(r: pb::LoginResponse) -> LoginResponse {
    LoginResponse {
        token: r.token,
        expires_at: match r.expires_at {
            Some(_) if r.second_step.is_none() => timestamp(r.expires_at),
            _ => String::new(),
        },
        email: r.email,
        role: r.role,
        second_step: r.second_step.map(|s| SecondStep {
            ticket: s.ticket,
            expires_at: timestamp(s.expires_at),
            enrol: s.enrol,
        }),
    }
}
