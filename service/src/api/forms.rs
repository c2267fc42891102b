use astro_proto::v1::{
    CreateFormRequest, Form, FormVersion, GetFormRequest, GetPublishedFormRequest, ListEmbeddingOriginsRequest,
    ListEmbeddingOriginsResponse, ListFormsRequest, ListFormsResponse, PublishFormRequest, UpdateFormRequest,
    form_service_server::FormService,
};
use tonic::{Request, Response, Status};

use super::{access::caller, missing, status};
use crate::domain::forms::Forms;

pub struct FormApi {
    pub forms: Forms,
}

#[tonic::async_trait]
impl FormService for FormApi {
    async fn list_forms(&self, request: Request<ListFormsRequest>) -> Result<Response<ListFormsResponse>, Status> {
        let admin = caller(&request)?.role == astro_authorizer::Role::Admin;
        let (metadata, _, _) = request.into_parts();
        let mut listed = self.forms.list().await.map_err(|e| status(e, &metadata))?;
        if !admin {
            // The team gets each form's name and versions, not the drafts.
            for form in &mut listed.forms {
                form.draft = None;
            }
        }
        Ok(Response::new(listed))
    }

    async fn get_form(&self, request: Request<GetFormRequest>) -> Result<Response<Form>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.forms.get(&body.name).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn create_form(&self, request: Request<CreateFormRequest>) -> Result<Response<Form>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        let Some(form) = body.form else { return Err(status(missing("form"), &metadata)) };
        self.forms.create(&caller, form).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn update_form(&self, request: Request<UpdateFormRequest>) -> Result<Response<Form>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        let Some(form) = body.form else { return Err(status(missing("form"), &metadata)) };
        let paths = body.update_mask.map(|m| m.paths).unwrap_or_default();
        self.forms.update(&caller, form, &paths).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn publish_form(&self, request: Request<PublishFormRequest>) -> Result<Response<Form>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        self.forms.publish(&caller, &body.name, body.version).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn get_published_form(
        &self,
        request: Request<GetPublishedFormRequest>,
    ) -> Result<Response<FormVersion>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.forms.published(&body.name).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn list_embedding_origins(
        &self,
        request: Request<ListEmbeddingOriginsRequest>,
    ) -> Result<Response<ListEmbeddingOriginsResponse>, Status> {
        let (metadata, _, _) = request.into_parts();
        let origins = self.forms.embedding_origins().await.map_err(|e| status(e, &metadata))?;
        Ok(Response::new(ListEmbeddingOriginsResponse { origins }))
    }
}
