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
    let mut request = call(request, None, &headers);
    for (name, value) in edge::headers(&gateway.keys, ip, Transport::Rest) {
        if let Ok(value) = MetadataValue::try_from(value) {
            request.metadata_mut().insert(name, value);
        }
    }
    let r = gateway.auth.clone().login(request).await.map_err(|s| problem_from_status(&s, &headers))?.into_inner();
    Ok(Json(LoginResponse { token: r.token, expires_at: timestamp(r.expires_at), email: r.email, role: r.role }))
}
