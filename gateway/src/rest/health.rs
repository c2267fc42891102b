//! `GET /healthz`: whether the gateway can serve, which means the service
//! behind it answers its `grpc.health.v1` check.

use std::{sync::Arc, time::Duration};

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use utoipa::ToSchema;

use crate::Gateway;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `serving`, or `unavailable` when the service does not answer.
    pub status: String,
}

/// Health of the gateway and the service behind it.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "Serving", body = Health),
        (status = 503, description = "The service does not answer", body = Health),
    )
)]
pub async fn check(axum::extract::State(gateway): axum::extract::State<Arc<Gateway>>) -> Response {
    let mut request = tonic::Request::new(HealthCheckRequest { service: String::new() });
    request.set_timeout(Duration::from_secs(2));
    let serving = matches!(
        gateway.health.clone().check(request).await.map(|r| r.into_inner().status()),
        Ok(ServingStatus::Serving)
    );
    let (status, text) =
        if serving { (StatusCode::OK, "serving") } else { (StatusCode::SERVICE_UNAVAILABLE, "unavailable") };
    (status, Json(Health { status: text.into() })).into_response()
}
