use astro_proto::v1::{
    AcceptInvitationRequest, ChangePasswordRequest, CompleteSignInRequest, ConfirmTwoFactorEnrolmentRequest,
    ConfirmTwoFactorEnrolmentResponse, DisableTwoFactorRequest, DisableTwoFactorResponse, LoginRequest, LoginResponse,
    RequestPasswordResetRequest, RequestPasswordResetResponse, ResetPasswordRequest, SecondStep,
    SignOutEverywhereRequest, SignOutEverywhereResponse, StartTwoFactorEnrolmentRequest, TwoFactorEnrolment,
    auth_service_server::AuthService,
};
use tonic::{Request, Response, Status};

use super::{
    access::{caller, optional_caller},
    edge, status,
};
use crate::{
    domain::{
        invitations::Invitations,
        members::Members,
        sign_in::{Attempt, Enrolling, SignIn, SignedIn},
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
        Ok(Response::new(outcome(signed_in)))
    }

    async fn request_password_reset(
        &self,
        request: Request<RequestPasswordResetRequest>,
    ) -> Result<Response<RequestPasswordResetResponse>, Status> {
        let client = edge::client(&self.keys, request.metadata(), request.remote_addr());
        let (metadata, _, body) = request.into_parts();
        self.sign_in
            .request_password_reset(&body.email, &body.captcha_token, client)
            .await
            .map(|()| Response::new(RequestPasswordResetResponse {}))
            .map_err(|e| status(e, &metadata))
    }

    async fn reset_password(&self, request: Request<ResetPasswordRequest>) -> Result<Response<LoginResponse>, Status> {
        let client = edge::client(&self.keys, request.metadata(), request.remote_addr());
        let (metadata, _, body) = request.into_parts();
        self.sign_in
            .reset_password(&body.token, &body.new_password, client)
            .await
            .map(|signed_in| Response::new(outcome(signed_in)))
            .map_err(|e| status(e, &metadata))
    }

    async fn complete_sign_in(
        &self,
        request: Request<CompleteSignInRequest>,
    ) -> Result<Response<LoginResponse>, Status> {
        let client = edge::client(&self.keys, request.metadata(), request.remote_addr());
        let (metadata, _, body) = request.into_parts();
        self.sign_in
            .complete(&body.ticket, &body.code, client)
            .await
            .map(|signed_in| Response::new(outcome(signed_in)))
            .map_err(|e| status(e, &metadata))
    }

    async fn start_two_factor_enrolment(
        &self,
        request: Request<StartTwoFactorEnrolmentRequest>,
    ) -> Result<Response<TwoFactorEnrolment>, Status> {
        let client = edge::client(&self.keys, request.metadata(), request.remote_addr());
        let signed_in = optional_caller(&request);
        let (metadata, _, body) = request.into_parts();
        let who = match (&signed_in, body.ticket.is_empty()) {
            (_, false) => Enrolling::Ticket(&body.ticket),
            (Some(caller), true) => Enrolling::Member { caller, current_password: &body.current_password },
            (None, true) => return Err(not_signed_in()),
        };
        self.sign_in.start_enrolment(who, client).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn confirm_two_factor_enrolment(
        &self,
        request: Request<ConfirmTwoFactorEnrolmentRequest>,
    ) -> Result<Response<ConfirmTwoFactorEnrolmentResponse>, Status> {
        let client = edge::client(&self.keys, request.metadata(), request.remote_addr());
        let signed_in = optional_caller(&request);
        let (metadata, _, body) = request.into_parts();
        let ticket = (!body.ticket.is_empty()).then_some(body.ticket.as_str());
        if ticket.is_none() && signed_in.is_none() {
            return Err(not_signed_in());
        }
        let (recovery_codes, signed_in) = self
            .sign_in
            .confirm_enrolment(ticket, signed_in.as_ref(), &body.code, client)
            .await
            .map_err(|e| status(e, &metadata))?;
        Ok(Response::new(ConfirmTwoFactorEnrolmentResponse { recovery_codes, sign_in: signed_in.map(outcome) }))
    }

    async fn disable_two_factor(
        &self,
        request: Request<DisableTwoFactorRequest>,
    ) -> Result<Response<DisableTwoFactorResponse>, Status> {
        let caller = caller(&request)?;
        let client = edge::client(&self.keys, request.metadata(), request.remote_addr());
        let (metadata, _, body) = request.into_parts();
        self.sign_in
            .disable_two_factor(&caller, &body.current_password, client)
            .await
            .map(|()| Response::new(DisableTwoFactorResponse {}))
            .map_err(|e| status(e, &metadata))
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

fn not_signed_in() -> Status {
    Status::unauthenticated("send the sign-in's `ticket`, or sign in (`Authorization: Bearer <token>`)")
}

fn login_response((token, claims): (String, astro_authorizer::Claims)) -> LoginResponse {
    LoginResponse {
        token,
        expires_at: Some(prost_types::Timestamp { seconds: claims.exp, nanos: 0 }),
        email: claims.email,
        role: claims.role.claim().to_owned(),
        second_step: None,
    }
}

fn outcome(signed_in: SignedIn) -> LoginResponse {
    match signed_in {
        SignedIn::Token(token, claims) => login_response((token, claims)),
        SignedIn::SecondStep { ticket, expires, enrol, email, role } => LoginResponse {
            email,
            role: role.claim().to_owned(),
            second_step: Some(SecondStep {
                ticket,
                expires_at: Some(prost_types::Timestamp { seconds: expires, nanos: 0 }),
                enrol,
            }),
            ..LoginResponse::default()
        },
    }
}
