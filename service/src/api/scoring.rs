use astro_proto::v1::{
    GetScoringRulesRequest, ListScoringRulesRevisionsRequest, ListScoringRulesRevisionsResponse, ScoringRules,
    UpdateScoringRulesRequest, scoring_service_server::ScoringService,
};
use tonic::{Request, Response, Status};

use super::{access::caller, status};
use crate::domain::{DomainError, FieldViolation, scoring::Scoring};

pub struct ScoringApi {
    pub scoring: Scoring,
}

#[tonic::async_trait]
impl ScoringService for ScoringApi {
    async fn get_scoring_rules(
        &self,
        request: Request<GetScoringRulesRequest>,
    ) -> Result<Response<ScoringRules>, Status> {
        let metadata = request.metadata().clone();
        self.scoring.get().await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn update_scoring_rules(
        &self,
        request: Request<UpdateScoringRulesRequest>,
    ) -> Result<Response<ScoringRules>, Status> {
        let caller = caller(&request)?;
        let (metadata, _, body) = request.into_parts();
        let rules = body.rules.ok_or_else(|| {
            status(DomainError::Invalid(vec![FieldViolation::new("rules", "is required")]), &metadata)
        })?;
        let paths = body.update_mask.map(|m| m.paths).unwrap_or_default();
        self.scoring.update(&caller, rules, &paths).await.map(Response::new).map_err(|e| status(e, &metadata))
    }

    async fn list_scoring_rules_revisions(
        &self,
        request: Request<ListScoringRulesRevisionsRequest>,
    ) -> Result<Response<ListScoringRulesRevisionsResponse>, Status> {
        let (metadata, _, body) = request.into_parts();
        self.scoring.revisions(body).await.map(Response::new).map_err(|e| status(e, &metadata))
    }
}
