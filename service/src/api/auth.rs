use astro_proto::v1::{
    AcceptInvitationRequest, ChangePasswordRequest, LoginRequest, LoginResponse, SignOutEverywhereRequest,
    SignOutEverywhereResponse, auth_service_server::AuthService,
};
use tonic::{Request, Response, Status};

use super::{access::caller, edge, status};
use crate::{
    domain::{
        invitations::Invitations,
        members::Members,
        sign_in::{Attempt, SignIn},
    },
    keys::KeyRing,
};

pub struct AuthApi {
    pub sign_in: SignIn,
    pub members: Members,
    pub invitations: Invitations,
    /// To recognise the edge's identity.
    pub keys: KeyRing,
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn login(&self, request: Request<LoginRequest>) -> Result<Response<LoginResponse>, Status> {
        let client = edge::client(&self.keys, request.metadata(), request.remote_addr());
        let (metadata, _, body) = request.into_parts();
        let attempt =
            Attempt { email: &body.email, password: &body.password, captcha_token: &body.captcha_token, client };
        let signed_in = self.sign_in.login(attempt).await.map_err(|e| status(e, &metadata))?;
        Ok(Response::new(login_response(signed_in)))
    }

    async fn accept_invitation(
        &self,
        request: Request<AcceptInvitationRequest>,
    ) -> Result<Response<LoginResponse>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.invitations
            .accept(&body.token, &body.display_name, &body.password)
            .await
            .map(|signed_in| Response::new(login_response(signed_in)))
            .map_err(|e| status(e, &metadata))
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Result<Response<LoginResponse>, Status> {
        let caller = caller(&request)?;
        let client = edge::client(&self.keys, request.metadata(), request.remote_addr());
        let (metadata, _, body) = request.into_parts();
        self.sign_in
            .change_password(&caller, &body.current_password, &body.new_password, client)
            .await
            .map(|signed_in| Response::new(login_response(signed_in)))
            .map_err(|e| status(e, &metadata))
    }

    async fn sign_out_everywhere(
        &self,
        request: Request<SignOutEverywhereRequest>,
    ) -> Result<Response<SignOutEverywhereResponse>, Status> {
        let caller = caller(&request)?;
        let metadata = request.metadata().clone();
        self.members
            .sign_out_everywhere(&caller)
            .await
            .map(|()| Response::new(SignOutEverywhereResponse {}))
            .map_err(|e| status(e, &metadata))
    }
}

fn login_response((token, claims): (String, astro_authorizer::Claims)) -> LoginResponse {
    LoginResponse {
        token,
        expires_at: Some(prost_types::Timestamp { seconds: claims.exp, nanos: 0 }),
        email: claims.email,
        role: claims.role.claim().to_owned(),
    }
}
