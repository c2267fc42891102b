use astro_proto::v1::{LoginRequest, LoginResponse, auth_service_server::AuthService};
use tonic::{Request, Response, Status};

use super::status;
use crate::domain::auth::Accounts;

pub struct AuthApi {
    pub accounts: Accounts,
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn login(&self, request: Request<LoginRequest>) -> Result<Response<LoginResponse>, Status> {
        let (metadata, _, body) = request.into_parts();
        let (token, claims) =
            self.accounts.login(&body.email, &body.password).await.map_err(|e| status(e, &metadata))?;
        tracing::info!(email = %claims.email, role = %claims.role, "signed in");
        Ok(Response::new(LoginResponse {
            token,
            expires_at: Some(prost_types::Timestamp { seconds: claims.exp, nanos: 0 }),
            email: claims.email,
            role: claims.role.as_str().to_owned(),
        }))
    }
}
