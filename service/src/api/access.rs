//! The contract's permission table, enforced on every call whatever its
//! transport (native gRPC, gRPC-web, an in-process gateway): a tower layer
//! around the routes that checks the bearer token, the method's rule
//! (`astro_proto::access`) and the member's session before any handler
//! runs, and hands the handler the caller's claims. The edge checks too;
//! the service never relies on it.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use astro_authorizer::{Claims, Refusal, policy::Access};
use tonic::{Request, Status, body::Body};

use super::status;
use crate::{domain::members::Members, keys::KeyRing};

/// The verified caller of a call that needs a token, as the layer left it.
#[derive(Debug, Clone)]
struct Caller(Claims);

/// The caller of a call the layer admitted.
pub fn caller<T>(request: &Request<T>) -> Result<Claims, Status> {
    request
        .extensions()
        .get::<Caller>()
        .map(|c| c.0.clone())
        .ok_or_else(|| Status::unauthenticated("missing bearer token: send `Authorization: Bearer <token>`"))
}

/// The caller of a public call that came with a valid token and a session
/// that still stands (enrolling in two-factor sign-in while signed in).
pub fn optional_caller<T>(request: &Request<T>) -> Option<Claims> {
    request.extensions().get::<Caller>().map(|c| c.0.clone())
}

/// Every role: who a public call's token may speak for.
const ANY_ROLE: &[astro_authorizer::Role] = &[
    astro_authorizer::Role::Admin,
    astro_authorizer::Role::Sales,
    astro_authorizer::Role::Viewer,
    astro_authorizer::Role::Service,
];

/// Who may call `path` on the service: the contract's rule; health and
/// reflection (standard services outside the contract) are open here, as
/// the native port serves grpcurl; anything else is closed.
fn access(path: &str) -> Access {
    match astro_authorizer::policy::grpc_method(path) {
        Access::Closed if path.starts_with("/grpc.reflection.") => Access::Public,
        access => access,
    }
}

#[derive(Clone)]
pub struct AccessLayer {
    keys: KeyRing,
    members: Members,
}

impl AccessLayer {
    pub fn new(keys: KeyRing, members: Members) -> Self {
        Self { keys, members }
    }

    /// The call's claims when its token, role and session allow `roles`.
    async fn admit(&self, headers: &http::HeaderMap, roles: &[astro_authorizer::Role]) -> Result<Claims, Status> {
        let header = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let claims = self.keys.verifier().authorize(header, roles).map_err(|refusal| match refusal {
            Refusal::Forbidden(_) => Status::permission_denied(refusal.to_string()),
            Refusal::Missing | Refusal::Invalid => Status::unauthenticated(refusal.to_string()),
        })?;
        if let Err(e) = self.members.admit(&claims).await {
            return Err(status(e, &tonic::metadata::MetadataMap::from_headers(headers.clone())));
        }
        Ok(claims)
    }
}

impl<S> tower::Layer<S> for AccessLayer {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded { inner, access: self.clone() }
    }
}

#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    access: AccessLayer,
}

impl<S> tower::Service<http::Request<Body>> for Guarded<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The clone is the ready one's twin; the ready one serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let access = self.access.clone();
        Box::pin(async move {
            match self::access(request.uri().path()) {
                // A token is optional here: when it stands, the handler knows who calls.
                Access::Public if request.headers().contains_key(http::header::AUTHORIZATION) => {
                    if let Ok(claims) = access.admit(request.headers(), ANY_ROLE).await {
                        request.extensions_mut().insert(Caller(claims));
                    }
                }
                Access::Public => {}
                Access::Roles(roles) => match access.admit(request.headers(), roles).await {
                    Ok(claims) => {
                        request.extensions_mut().insert(Caller(claims));
                    }
                    Err(refused) => return Ok(refused.into_http()),
                },
                Access::Closed => {
                    return Ok(Status::unimplemented(format!(
                        "{} is not a method of this service",
                        request.uri().path()
                    ))
                    .into_http());
                }
            }
            inner.call(request).await
        })
    }
}
