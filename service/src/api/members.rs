use astro_proto::v1::{
    DeleteMemberRequest, DeleteMemberResponse, GetTeamSettingsRequest, Invitation, InviteMemberRequest,
    InviteMemberResponse, ListInvitationsRequest, ListInvitationsResponse, ListMembersRequest, ListMembersResponse,
    ListSecurityEventsRequest, ListSecurityEventsResponse, Member, ResetTwoFactorRequest, RevokeInvitationRequest,
    TeamSettings, UpdateMemberRequest, UpdateTeamSettingsRequest, member_service_server::MemberService,
};
use tonic::{Request, Response, Status};

use super::{access::caller, status};
use crate::domain::{DomainError, FieldViolation, invitations::Invitations, members::Members};

pub struct MemberApi {
    pub members: Members,
    pub invitations: Invitations,
}

#[tonic::async_trait]
impl MemberService for MemberApi {
    async fn reset_two_factor(&self, request: Request<ResetTwoFactorRequest>) -> Result<Response<Member>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        self.members.reset_two_factor(&caller, &body.email).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn list_members(
        &self,
        request: Request<ListMembersRequest>,
    ) -> Result<Response<ListMembersResponse>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.members.list(body).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn update_member(&self, request: Request<UpdateMemberRequest>) -> Result<Response<Member>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        let member = body.member.ok_or_else(|| {
            status(DomainError::Invalid(vec![FieldViolation::new("member", "is required")]), &metadata)
        })?;
        let paths = body.update_mask.map(|m| m.paths).unwrap_or_default();
        self.members.update(&caller, member, &paths).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn delete_member(
        &self,
        request: Request<DeleteMemberRequest>,
    ) -> Result<Response<DeleteMemberResponse>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        self.members
            .delete(&caller, &body.email, body.version)
            .await
            .map(|()| Response::new(DeleteMemberResponse {}))
            .map_err(|e| status(e, &metadata))
    }

    async fn get_team_settings(
        &self,
        request: Request<GetTeamSettingsRequest>,
    ) -> Result<Response<TeamSettings>, Status> {
        let metadata = request.metadata().clone();
        self.members.settings().await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn update_team_settings(
        &self,
        request: Request<UpdateTeamSettingsRequest>,
    ) -> Result<Response<TeamSettings>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        let settings = body.settings.ok_or_else(|| {
            status(DomainError::Invalid(vec![FieldViolation::new("settings", "is required")]), &metadata)
        })?;
        let paths = body.update_mask.map(|m| m.paths).unwrap_or_default();
        self.members
            .update_settings(&caller, settings, &paths)
            .await
            .map(Response::new)
            .map_err(|e| status(e, &metadata))
    }

    async fn list_security_events(
        &self,
        request: Request<ListSecurityEventsRequest>,
    ) -> Result<Response<ListSecurityEventsResponse>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.members.log().list(body).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn invite_member(
        &self,
        request: Request<InviteMemberRequest>,
    ) -> Result<Response<InviteMemberResponse>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        self.invitations
            .invite(&caller, &body.email, body.role, &body.display_name)
            .await
            .map(|(invitation, link)| {
                Response::new(InviteMemberResponse {
                    invitation: Some(invitation),
                    emailed: link.is_none(),
                    link: link.unwrap_or_default(),
                })
            })
            .map_err(|e| status(e, &metadata))
    }

    async fn list_invitations(
        &self,
        request: Request<ListInvitationsRequest>,
    ) -> Result<Response<ListInvitationsResponse>, Status> {
        let metadata = request.metadata().clone();
        self.invitations
            .pending()
            .await
            .map(|invitations| Response::new(ListInvitationsResponse { invitations }))
            .map_err(|e| status(e, &metadata))
    }

    async fn revoke_invitation(
        &self,
        request: Request<RevokeInvitationRequest>,
    ) -> Result<Response<Invitation>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        self.invitations.revoke(&caller, &body.id).await.map(Response::new).map_err(|e| status(e, &metadata))
    }
}
