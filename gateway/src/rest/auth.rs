//! `POST /auth/login`: the service's Login behind two failed-login budgets,
//! per account and per client address. An unknown email costs the same bcrypt
//! time as a wrong password (the service sees to it) and counts the same.

use std::{net::SocketAddr, sync::Arc};

use astro_proto::v1 as pb;
use axum::{
    Json,
    extract::{ConnectInfo, State},
};
use http::HeaderMap;
use tonic::Code;

use super::{JsonBody, call, model::*, problem_from_status};
use crate::{
    Gateway,
    openapi::responses::{BodyErrors, CommonErrors},
    problem::Problem,
};

/// Sign in.
///
/// Returns a 24-hour HS256 token for the `Authorization: Bearer` header of
/// the other endpoints and of gRPC-web calls.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
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
    let limits = &gateway.limits;
    let ip = limits.client_ip(peer, &headers);
    let account = body.email.trim().to_lowercase();
    limits
        .login_addresses
        .check(&ip)
        .map_err(|wait| Problem::rate_limited("too many failed sign-ins from your address", wait))?;
    limits
        .login_accounts
        .check(&account)
        .map_err(|wait| Problem::rate_limited("too many failed sign-ins for this account", wait))?;

    let request = pb::LoginRequest { email: body.email, password: body.password };
    match gateway.auth.clone().login(call(request, None, &headers)).await {
        Ok(response) => {
            limits.login_accounts.clear(&account);
            let r = response.into_inner();
            Ok(Json(LoginResponse {
                token: r.token,
                expires_at: timestamp(r.expires_at),
                email: r.email,
                role: r.role,
            }))
        }
        Err(status) => {
            if status.code() == Code::Unauthenticated {
                limits.login_accounts.fail(&account);
                limits.login_addresses.fail(&ip);
            }
            Err(problem_from_status(&status, &headers))
        }
    }
}
