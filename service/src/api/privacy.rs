use astro_proto::v1::{
    ErasePersonalDataRequest, Erasure, ErasureReason, GetPersonalDataRequest, ListErasuresRequest,
    ListErasuresResponse, PersonalData, privacy_service_server::PrivacyService,
};
use tonic::{Request, Response, Status};

use super::{access::caller, status};
use crate::domain::prospects::Prospects;

pub struct PrivacyApi {
    pub prospects: Prospects,
}

#[tonic::async_trait]
impl PrivacyService for PrivacyApi {
    async fn get_personal_data(
        &self,
        request: Request<GetPersonalDataRequest>,
    ) -> Result<Response<PersonalData>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.prospects.personal_data(&body.email).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn erase_personal_data(
        &self,
        request: Request<ErasePersonalDataRequest>,
    ) -> Result<Response<Erasure>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        self.prospects
            .erase(&caller.email, &body.email, ErasureReason::Request)
            .await
            .map(Response::new)
            .map_err(|e| status(e, &metadata))
    }

    async fn list_erasures(
        &self,
        request: Request<ListErasuresRequest>,
    ) -> Result<Response<ListErasuresResponse>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.prospects.erasures(body).await.map(Response::new).map_err(|e| status(e, &metadata))
    }
}
