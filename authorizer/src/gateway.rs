//! The API Gateway REST **TOKEN** authorizer decision, independent of the
//! Lambda runtime that carries it.
//!
//! API Gateway caches the returned policy per token (300 s) and evaluates
//! every later request of that token against it, whatever its route. The
//! policy therefore depends on the caller's role, never on the route of the
//! first request: it allows exactly what the contract's permission table
//! (`astro_proto::access::METHODS`) gives that role — each method's gRPC-web
//! route (`POST /astro.v1.Service/Method`) and its REST twins — and nothing
//! else, so a viewer's token is refused every writing route at the edge.

use astro_proto::access::METHODS;
use serde::{Deserialize, Serialize};

use crate::{Claims, Role, TokenVerifier};

/// The event API Gateway sends a TOKEN authorizer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAuthorizerEvent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub authorization_token: String,
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`
    pub method_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    pub principal_id: String,
    pub policy_document: PolicyDocument,
    pub context: AuthorizerContext,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub action: &'static str,
    pub effect: Effect,
    pub resource: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// Passed to the integration as `$context.authorizer.*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizerContext {
    pub email: String,
    pub role: String,
}

/// The one error API Gateway turns into a 401: its message must be exactly
/// `Unauthorized`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unauthorized")]
pub struct Unauthorized;

/// The stage of a method ARN, `arn:aws:execute-api:{region}:{account}:{api}/{stage}`,
/// when the ARN is one.
fn stage_of(arn: &str) -> Option<&str> {
    let (prefix, rest) = arn.split_once(":execute-api:")?;
    if !prefix.starts_with("arn:") {
        return None;
    }
    // rest = region:account:api/stage/METHOD/path...
    let mut slashes = rest.match_indices('/').map(|(i, _)| i);
    let (first, second) = (slashes.next()?, slashes.next()?);
    let stage_end = prefix.len() + ":execute-api:".len() + second;
    let after = &rest[second + 1..];
    let method = after.split_once('/').map_or(after, |(method, _)| method);
    (first > 0 && !method.is_empty()).then_some(&arn[..stage_end])
}

/// The resources a role may invoke on a stage, from the permission table:
/// each allowed method's gRPC-web route and REST routes (`{id}` → `*`).
pub fn allowed_resources(stage: &str, role: Role) -> Vec<String> {
    let mut resources = Vec::new();
    for rule in METHODS.iter().filter(|m| m.allows(role)) {
        resources.push(format!("{stage}/POST{}", rule.path));
        for route in rule.http {
            let path: Vec<&str> =
                route.path.split('/').map(|part| if part.starts_with('{') { "*" } else { part }).collect();
            resources.push(format!("{stage}/{}{}", route.method, path.join("/")));
        }
    }
    resources
}

/// Verifies the event's token: its claims, or [`Unauthorized`].
pub fn verify(event: &TokenAuthorizerEvent, verifier: &TokenVerifier) -> Result<Claims, Unauthorized> {
    if !event.kind.eq_ignore_ascii_case("TOKEN") {
        return Err(Unauthorized);
    }
    verifier.verify_bearer(&event.authorization_token).map_err(|_| Unauthorized)
}

/// The policy of a verified caller (whose session is still open, see
/// [`crate::session`]): an `Allow` of exactly its role's resources.
pub fn policy(event: &TokenAuthorizerEvent, claims: Claims) -> Result<AuthorizerResponse, Unauthorized> {
    let stage = stage_of(&event.method_arn).ok_or(Unauthorized)?;
    let statement = vec![Statement {
        action: "execute-api:Invoke",
        effect: Effect::Allow,
        resource: allowed_resources(stage, claims.role),
    }];
    Ok(AuthorizerResponse {
        principal_id: claims.email.clone(),
        policy_document: PolicyDocument { version: "2012-10-17", statement },
        context: AuthorizerContext { email: claims.email, role: claims.role.claim().to_owned() },
    })
}

/// [`verify`] then [`policy`], for callers that check no session.
pub fn authorize(event: &TokenAuthorizerEvent, verifier: &TokenVerifier) -> Result<AuthorizerResponse, Unauthorized> {
    policy(event, verify(event, verifier)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TokenIssuer, TokenSecret};

    const ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/production/GET/prospects/42";

    fn secret() -> TokenSecret {
        TokenSecret::new(vec![9; 32]).unwrap()
    }

    fn now() -> i64 {
        crate::unix_now()
    }

    /// An event exactly as API Gateway sends it.
    fn event(token: &str, arn: &str) -> TokenAuthorizerEvent {
        serde_json::from_value(serde_json::json!({
            "type": "TOKEN",
            "authorizationToken": token,
            "methodArn": arn,
        }))
        .unwrap()
    }

    fn bearer(role: Role, issued: i64) -> String {
        format!("Bearer {}", TokenIssuer::new(&secret()).issue("ada@example.com", role, issued).unwrap().0)
    }

    const STAGE: &str = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/production";

    #[test]
    fn an_admin_is_allowed_every_method_with_its_identity_in_the_context() {
        let response = authorize(&event(&bearer(Role::Admin, now()), ARN), &TokenVerifier::new(&[secret()])).unwrap();
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["principalId"], "ada@example.com");
        assert_eq!(json["context"], serde_json::json!({"email": "ada@example.com", "role": "admin"}));
        assert_eq!(json["policyDocument"]["Version"], "2012-10-17");
        let statements = json["policyDocument"]["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0]["Effect"], "Allow");
        assert_eq!(statements[0]["Action"], "execute-api:Invoke");
        let resources: Vec<&str> =
            statements[0]["Resource"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
        for expected in [
            "POST/astro.v1.MemberService/UpdateMember",
            "POST/astro.v1.ProspectService/DeleteProspect",
            "DELETE/prospects/*",
            "GET/prospects",
            "PATCH/prospects/*",
        ] {
            assert!(resources.contains(&format!("{STAGE}/{expected}").as_str()), "{expected}: {resources:?}");
        }
    }

    fn resources(role: Role) -> Vec<String> {
        let response = authorize(&event(&bearer(role, now()), ARN), &TokenVerifier::new(&[secret()])).unwrap();
        response.policy_document.statement.into_iter().flat_map(|s| s.resource).collect()
    }

    #[test]
    fn a_viewer_is_allowed_the_reading_routes_only() {
        let allowed = resources(Role::Viewer);
        for read in ["GET/prospects", "GET/prospects/*", "POST/astro.v1.ProspectService/WatchProspects"] {
            assert!(allowed.contains(&format!("{STAGE}/{read}")), "{read}");
        }
        for write in [
            "PATCH/prospects/*",
            "DELETE/prospects/*",
            "POST/astro.v1.ProspectService/UpdateProspect",
            "POST/astro.v1.ProspectService/CreateProspect",
            "POST/astro.v1.MemberService/UpdateMember",
        ] {
            assert!(!allowed.contains(&format!("{STAGE}/{write}")), "{write}");
        }
        assert!(allowed.iter().all(|r| !r.contains("/PATCH/") && !r.contains("/DELETE/")));
    }

    #[test]
    fn sales_work_the_board_but_not_the_team_and_a_service_creates_only() {
        let sales = resources(Role::Sales);
        assert!(sales.contains(&format!("{STAGE}/PATCH/prospects/*")));
        assert!(!sales.contains(&format!("{STAGE}/POST/astro.v1.MemberService/UpdateMember")));
        assert!(!sales.contains(&format!("{STAGE}/POST/astro.v1.ProspectService/RetryNotification")));
        let service = resources(Role::Service);
        assert!(service.contains(&format!("{STAGE}/POST/astro.v1.ProspectService/CreateProspect")));
        assert!(!service.contains(&format!("{STAGE}/GET/prospects")), "cached, it still allows only the create");
    }

    #[test]
    fn missing_malformed_expired_and_badly_signed_tokens_are_unauthorized() {
        let verifier = TokenVerifier::new(&[secret()]);
        let other = format!(
            "Bearer {}",
            TokenIssuer::new(&TokenSecret::new(vec![1; 32]).unwrap()).issue("a@b.c", Role::Admin, now()).unwrap().0
        );
        for token in ["", "Bearer", "Basic abc", "Bearer not.a.jwt", &bearer(Role::Admin, now() - 3 * 86_400), &other] {
            let result = authorize(&event(token, ARN), &verifier);
            assert_eq!(result, Err(Unauthorized), "{token:?}");
            assert_eq!(Unauthorized.to_string(), "Unauthorized");
        }
        assert_eq!(authorize(&event(&bearer(Role::Admin, now()), "not-an-arn"), &verifier), Err(Unauthorized));
        let mut request = event(&bearer(Role::Admin, now()), ARN);
        request.kind = "REQUEST".into();
        assert_eq!(authorize(&request, &verifier), Err(Unauthorized));
    }
}
