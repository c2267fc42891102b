use astro_proto::v1::{
    CreateImportRequest, GetImportRequest, Import, ListImportRowsRequest, ListImportRowsResponse, ListImportsRequest,
    ListImportsResponse, StartImportRequest, UndoImportRequest, UpdateImportRequest,
    import_service_server::ImportService,
};
use tonic::{Request, Response, Status};

use super::{access::caller, missing, status};
use crate::domain::imports::Imports;

/// The largest request: a file of `import::MAX_FILE_BYTES` with room for
/// the rest (gRPC's default is 4 MiB).
pub const MAX_REQUEST_BYTES: usize = crate::domain::import::MAX_FILE_BYTES + 64 * 1024;

pub struct ImportApi {
    pub imports: Imports,
}

#[tonic::async_trait]
impl ImportService for ImportApi {
    async fn create_import(&self, request: Request<CreateImportRequest>) -> Result<Response<Import>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        self.imports
            .create(&caller, &body.file_name, &body.content)
            .await
            .map(Response::new)
            .map_err(|e| status(e, &metadata))
    }

    async fn get_import(&self, request: Request<GetImportRequest>) -> Result<Response<Import>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.imports.get(&body.id).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn list_imports(
        &self,
        request: Request<ListImportsRequest>,
    ) -> Result<Response<ListImportsResponse>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.imports.list(body).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn update_import(&self, request: Request<UpdateImportRequest>) -> Result<Response<Import>, Status> {
        let (metadata, _, body) = request.into_parts();
        let Some(import) = body.import else {
            return Err(status(missing("import"), &metadata));
        };
        let paths = body.update_mask.map(|m| m.paths).unwrap_or_default();
        self.imports.update(import, &paths).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn start_import(&self, request: Request<StartImportRequest>) -> Result<Response<Import>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.imports.start(&body.id, body.version).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn list_import_rows(
        &self,
        request: Request<ListImportRowsRequest>,
    ) -> Result<Response<ListImportRowsResponse>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.imports.rows(body).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn undo_import(&self, request: Request<UndoImportRequest>) -> Result<Response<Import>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        self.imports.undo(&caller, &body.id, body.version).await.map(Response::new).map_err(|e| status(e, &metadata))
    }
}
