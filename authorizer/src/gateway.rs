//! The API Gateway REST **TOKEN** authorizer decision, independent of the
//! Lambda runtime that carries it.
//!
//! API Gateway caches the returned policy per token (300 s) and evaluates
//! every later request of that token against it, whatever its route. The
//! policy therefore depends on the caller's role, never on the route of the
//! first request: an admin gets the whole stage; a service identity gets
//! `POST /prospects` only, and an explicit `Deny` of the route it asked for
//! when that route is not its own.

use serde::{Deserialize, Serialize};

use crate::{Role, TokenVerifier};

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

/// The parts of a method ARN.
struct MethodArn<'a> {
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}`
    stage: &'a str,
    method: &'a str,
    path: &'a str,
}

fn parse_arn(arn: &str) -> Option<MethodArn<'_>> {
    let (prefix, rest) = arn.split_once(":execute-api:")?;
    if !prefix.starts_with("arn:") {
        return None;
    }
    // rest = region:account:api/stage/METHOD/path...
    let mut slashes = rest.match_indices('/').map(|(i, _)| i);
    let (first, second) = (slashes.next()?, slashes.next()?);
    let stage_end = prefix.len() + ":execute-api:".len() + second;
    let after = &rest[second + 1..];
    let (method, path) = after.split_once('/').unwrap_or((after, ""));
    (first > 0 && !method.is_empty()).then_some(MethodArn { stage: &arn[..stage_end], method, path })
}

/// The route a service identity may call: the public form's create.
const SERVICE_ROUTE: (&str, &str) = ("POST", "prospects");

/// Decides for one event: a valid token gets a role-shaped policy; anything
/// else is [`Unauthorized`].
pub fn authorize(event: &TokenAuthorizerEvent, verifier: &TokenVerifier) -> Result<AuthorizerResponse, Unauthorized> {
    if !event.kind.eq_ignore_ascii_case("TOKEN") {
        return Err(Unauthorized);
    }
    let claims = verifier.verify_bearer(&event.authorization_token).map_err(|_| Unauthorized)?;
    let arn = parse_arn(&event.method_arn).ok_or(Unauthorized)?;
    let allow =
        |resource: String| Statement { action: "execute-api:Invoke", effect: Effect::Allow, resource: vec![resource] };
    let statement = match claims.role {
        Role::Admin => vec![allow(format!("{}/*", arn.stage))],
        Role::Service => {
            let (method, path) = SERVICE_ROUTE;
            let mut statements = vec![allow(format!("{}/{method}/{path}", arn.stage))];
            if !(arn.method == method && arn.path == path) {
                statements.push(Statement {
                    action: "execute-api:Invoke",
                    effect: Effect::Deny,
                    resource: vec![event.method_arn.clone()],
                });
            }
            statements
        }
    };
    Ok(AuthorizerResponse {
        principal_id: claims.email.clone(),
        policy_document: PolicyDocument { version: "2012-10-17", statement },
        context: AuthorizerContext { email: claims.email, role: claims.role.as_str().to_owned() },
    })
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

    #[test]
    fn an_admin_is_allowed_the_whole_stage_with_its_identity_in_the_context() {
        let response = authorize(&event(&bearer(Role::Admin, now()), ARN), &TokenVerifier::new(&[secret()])).unwrap();
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "principalId": "ada@example.com",
                "policyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Action": "execute-api:Invoke",
                        "Effect": "Allow",
                        "Resource": ["arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/production/*"]
                    }]
                },
                "context": {"email": "ada@example.com", "role": "admin"}
            })
        );
    }

    #[test]
    fn a_service_identity_may_create_prospects_and_is_denied_other_routes() {
        let verifier = TokenVerifier::new(&[secret()]);
        let create = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/production/POST/prospects";
        let allowed = authorize(&event(&bearer(Role::Service, now()), create), &verifier).unwrap();
        assert_eq!(allowed.policy_document.statement.len(), 1);
        assert_eq!(allowed.policy_document.statement[0].effect, Effect::Allow);
        assert_eq!(allowed.policy_document.statement[0].resource, [create]);

        let denied = authorize(&event(&bearer(Role::Service, now()), ARN), &verifier).unwrap();
        let effects: Vec<_> =
            denied.policy_document.statement.iter().map(|s| (s.effect, s.resource[0].as_str())).collect();
        assert_eq!(effects, [(Effect::Allow, create), (Effect::Deny, ARN)], "cached, it still allows only the create");
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
