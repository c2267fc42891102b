use astro_proto::v1::{
    DeleteMemberRequest, DeleteMemberResponse, ListMembersRequest, ListMembersResponse, Member, UpdateMemberRequest,
    member_service_server::MemberService,
};
use tonic::{Request, Response, Status};

use super::{access::caller, status};
use crate::domain::{DomainError, FieldViolation, members::Members};

pub struct MemberApi {
    pub members: Members,
}

#[tonic::async_trait]
impl MemberService for MemberApi {
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
}
