use astro_proto::v1::{
    ConfirmEmailRequest, ConfirmEmailResponse, CreateProspectRequest, DeleteProspectRequest, DeleteProspectResponse,
    ExportProspectsRequest, ExportProspectsResponse, GetProspectRequest, ListNotificationsRequest,
    ListNotificationsResponse, ListProspectChangesRequest, ListProspectChangesResponse, ListProspectsRequest,
    ListProspectsResponse, Notification, Prospect, RetryNotificationRequest, UpdateProspectRequest,
    WatchProspectsRequest, WatchProspectsResponse, prospect_service_server::ProspectService,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{access::caller, missing, status};
use crate::domain::{members::Members, prospects::Prospects};

pub struct ProspectApi {
    pub prospects: Prospects,
    /// To end a watch whose session ended while it was open.
    pub members: Members,
}

#[tonic::async_trait]
impl ProspectService for ProspectApi {
    async fn create_prospect(&self, request: Request<CreateProspectRequest>) -> Result<Response<Prospect>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        let prospect = body.prospect.ok_or_else(|| status(missing("prospect"), &metadata))?;
        self.prospects
            .create(&caller, prospect, &body.request_id)
            .await
            .map(Response::new)
            .map_err(|e| status(e, &metadata))
    }

    async fn confirm_email(
        &self,
        request: Request<ConfirmEmailRequest>,
    ) -> Result<Response<ConfirmEmailResponse>, Status> {
        let (metadata, _, body) = request.into_parts();
        let confirmed_now = self.prospects.confirm_email(&body.token).await.map_err(|e| status(e, &metadata))?;
        Ok(Response::new(ConfirmEmailResponse { confirmed_now }))
    }

    async fn get_prospect(&self, request: Request<GetProspectRequest>) -> Result<Response<Prospect>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.prospects.get(&body.id, body.view).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn list_prospects(
        &self,
        request: Request<ListProspectsRequest>,
    ) -> Result<Response<ListProspectsResponse>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        self.prospects.list(&caller, body).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    type ExportProspectsStream =
        std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<ExportProspectsResponse, Status>> + Send + 'static>>;

    async fn export_prospects(
        &self,
        request: Request<ExportProspectsRequest>,
    ) -> Result<Response<Self::ExportProspectsStream>, Status> {
        use tokio_stream::StreamExt as _;
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        let chunks = self.prospects.export(&caller, body).await.map_err(|e| status(e, &metadata))?;
        let chunks = ReceiverStream::new(chunks).map(move |chunk| chunk.map_err(|e| status(e, &metadata)));
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn update_prospect(&self, request: Request<UpdateProspectRequest>) -> Result<Response<Prospect>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        let prospect = body.prospect.ok_or_else(|| status(missing("prospect"), &metadata))?;
        let paths = body.update_mask.map(|m| m.paths).unwrap_or_default();
        self.prospects.update(&caller, prospect, &paths).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn delete_prospect(
        &self,
        request: Request<DeleteProspectRequest>,
    ) -> Result<Response<DeleteProspectResponse>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        self.prospects
            .delete(&caller, &body.id, body.version)
            .await
            .map(|()| Response::new(DeleteProspectResponse {}))
            .map_err(|e| status(e, &metadata))
    }

    type WatchProspectsStream =
        std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<WatchProspectsResponse, Status>> + Send + 'static>>;

    async fn watch_prospects(
        &self,
        request: Request<WatchProspectsRequest>,
    ) -> Result<Response<Self::WatchProspectsStream>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        let mut changes = self.prospects.watch(&body.cursor).map_err(|e| status(e, &metadata))?;
        // The session is checked again before every message (a keep-alive
        // at least every 25 s): a watcher deactivated, demoted or signed out
        // everywhere gets UNAUTHENTICATED and the stream ends.
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let members = self.members.clone();
        tokio::spawn(async move {
            while let Some(item) = changes.recv().await {
                let item = match members.admit(&caller).await {
                    Ok(()) => item.map_err(|e| status(e, &metadata)),
                    Err(ended) => {
                        let _ = tx.send(Err(status(ended, &metadata))).await;
                        return;
                    }
                };
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn list_prospect_changes(
        &self,
        request: Request<ListProspectChangesRequest>,
    ) -> Result<Response<ListProspectChangesResponse>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.prospects.changes(body).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn list_notifications(
        &self,
        request: Request<ListNotificationsRequest>,
    ) -> Result<Response<ListNotificationsResponse>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.prospects.notifications(body).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn retry_notification(
        &self,
        request: Request<RetryNotificationRequest>,
    ) -> Result<Response<Notification>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.prospects.retry_notification(&body.id).await.map(Response::new).map_err(|e| status(e, &metadata))
    }
}
