use astro_proto::v1::{GetPipelineInsightsRequest, PipelineInsights, insights_service_server::InsightsService};
use tonic::{Request, Response, Status};

use super::status;
use crate::domain::insights::Insights;

pub struct InsightsApi {
    pub insights: Insights,
}

#[tonic::async_trait]
impl InsightsService for InsightsApi {
    async fn get_pipeline_insights(
        &self,
        request: Request<GetPipelineInsightsRequest>,
    ) -> Result<Response<PipelineInsights>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.insights.get(body).await.map(Response::new).map_err(|e| status(e, &metadata))
    }
}
