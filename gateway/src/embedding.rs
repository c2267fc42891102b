//! Forms on other sites' pages: which origins may embed which form.
//!
//! A form's definition names the origins allowed to embed it. The edge
//! answers the public form's routes (`GET /forms/{name}`, `GET /captcha`,
//! `GET /captcha/challenge`, `POST /prospects`) to those origins with CORS,
//! refuses a submission from any other origin, and frames `/f/<name>` only
//! in them (`frame-ancestors`). Our own origins — the page's host itself,
//! and `ASTRO_CORS_ORIGINS` — are always allowed. A request without an
//! `Origin` (a server, a REST client) is judged by its captcha alone.
//!
//! A preflight carries no body, so it cannot say which form it is for: it
//! is answered for an origin that some published form allows, and the
//! request that follows is judged by its own form's origins. Both answers
//! are cached for a minute, as the definitions themselves are.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use astro_authorizer::Role;
use astro_proto::v1 as pb;
use astro_service::{keys::KeyRing, server::GrpcService};
use axum::{
    body::Body,
    extract::{Path, Request, State},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use pb::form_service_client::FormServiceClient;

use crate::{Gateway, problem::Problem};

/// How long an answer about a form's origins is kept: a publication shows
/// within a minute, as in the definition's `Cache-Control`.
pub const TTL: Duration = Duration::from_secs(60);

/// Names cached at most (they come from visitors: bounded).
const MAX_CACHED: usize = 1_000;

/// The identity the edge asks the service for origins with.
const EDGE_IDENTITY: &str = "edge@gateway.astro-qualif";

type Origins = Arc<BTreeSet<String>>;

/// A published form's allowed origins, by form name (None: no such form).
pub struct Embedding {
    forms: FormServiceClient<GrpcService>,
    keys: KeyRing,
    /// Our own origins (`ASTRO_CORS_ORIGINS`).
    own: BTreeSet<String>,
    by_form: Mutex<HashMap<String, (Instant, Option<Origins>)>>,
    any: Mutex<Option<(Instant, Origins)>>,
}

impl Embedding {
    pub fn new(forms: FormServiceClient<GrpcService>, keys: KeyRing, own: &[String]) -> Self {
        Self {
            forms,
            keys,
            own: own.iter().map(|o| o.trim_end_matches('/').to_owned()).collect(),
            by_form: Mutex::default(),
            any: Mutex::default(),
        }
    }

    /// Whether `origin` is ours: the request's own host, or a configured one.
    pub fn is_own(&self, origin: &str, headers: &HeaderMap) -> bool {
        if self.own.contains(origin) {
            return true;
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        !host.is_empty() && origin.split_once("://").is_some_and(|(_, rest)| rest == host)
    }

    /// The origins form `name`'s published version allows; None when no
    /// published form has that name; an error when the service could not
    /// say (not cached: the next request asks again).
    pub async fn form_origins(&self, name: &str) -> Result<Option<Origins>, tonic::Status> {
        let now = Instant::now();
        if let Some((at, found)) = self.by_form.lock().unwrap_or_else(|p| p.into_inner()).get(name)
            && now.duration_since(*at) < TTL
        {
            return Ok(found.clone());
        }
        let request = tonic::Request::new(pb::GetPublishedFormRequest { name: name.to_owned() });
        let found = match self.forms.clone().get_published_form(request).await {
            Ok(v) => Some(Arc::new(
                v.into_inner().definition.map(|d| d.allowed_origins.into_iter().collect()).unwrap_or_default(),
            )),
            Err(status) if matches!(status.code(), tonic::Code::NotFound | tonic::Code::InvalidArgument) => None,
            Err(status) => {
                tracing::warn!(%status, form = name, "could not read a form's origins");
                return Err(status);
            }
        };
        let mut cache = self.by_form.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(name.to_owned(), (now, found.clone()));
        Ok(found)
    }

    /// Whether some published form allows `origin`.
    pub async fn any_allows(&self, origin: &str) -> bool {
        let now = Instant::now();
        let cached = self.any.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let origins = match cached {
            Some((at, origins)) if now.duration_since(at) < TTL => origins,
            _ => {
                let Some(origins) = self.fetch_all().await else { return false };
                *self.any.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, origins.clone()));
                origins
            }
        };
        origins.contains(origin)
    }

    async fn fetch_all(&self) -> Option<Origins> {
        let token = self.keys.issuer().reusable(EDGE_IDENTITY, Role::Service, astro_authorizer::unix_now()).ok()?;
        let mut request = tonic::Request::new(pb::ListEmbeddingOriginsRequest {});
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().ok()?);
        match self.forms.clone().list_embedding_origins(request).await {
            Ok(found) => Some(Arc::new(found.into_inner().origins.into_iter().collect())),
            Err(status) => {
                tracing::warn!(%status, "could not read the embedding origins");
                None
            }
        }
    }
}

/// The request's `Origin`, when it is one of another site.
fn foreign_origin(gateway: &Gateway, headers: &HeaderMap) -> Option<String> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    (!gateway.embedding.is_own(origin, headers)).then(|| origin.to_owned())
}

/// The public form's routes, as seen from another site's page.
enum PublicRoute {
    Form(String),
    Other,
}

fn public_route(method: &Method, path: &str, preflight_for: Option<&str>) -> Option<PublicRoute> {
    let reading = method == Method::GET || (method == Method::OPTIONS && preflight_for == Some("GET"));
    let sending = method == Method::POST || (method == Method::OPTIONS && preflight_for == Some("POST"));
    match path {
        "/captcha" | "/captcha/challenge" if reading => Some(PublicRoute::Other),
        "/prospects" if sending => Some(PublicRoute::Other),
        _ if reading => path.strip_prefix("/forms/").filter(|n| !n.contains('/')).map(|n| PublicRoute::Form(n.into())),
        _ => None,
    }
}

/// CORS for the public form's routes from other sites' pages (see the
/// module). Our own origins pass on to the API-wide CORS layer.
pub async fn cors(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let preflight_for = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD).and_then(|v| v.to_str().ok());
    let route = public_route(request.method(), request.uri().path(), preflight_for);
    let (Some(route), Some(origin)) = (route, foreign_origin(&gateway, headers)) else {
        return next.run(request).await;
    };
    let allowed = match route {
        PublicRoute::Form(name) => {
            gateway.embedding.form_origins(&name).await.ok().flatten().is_some_and(|o| o.contains(&origin))
        }
        PublicRoute::Other => gateway.embedding.any_allows(&origin).await,
    };
    let value = HeaderValue::try_from(origin).ok().filter(|_| allowed);
    let mut response = if request.method() == Method::OPTIONS {
        let mut answer = Response::new(Body::empty());
        *answer.status_mut() = if value.is_some() { StatusCode::NO_CONTENT } else { StatusCode::FORBIDDEN };
        if value.is_some() {
            let headers = answer.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type, idempotency-key"),
            );
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
        answer
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    if let Some(value) = value {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("location, retry-after, x-request-id"),
        );
    }
    response
}

/// Refuses a submission of form `name` sent from another site's page that
/// the form does not allow (or naming no published form).
pub async fn check_submission(gateway: &Gateway, headers: &HeaderMap, name: &str) -> Result<(), Problem> {
    let Some(origin) = foreign_origin(gateway, headers) else { return Ok(()) };
    let name = if name.trim().is_empty() { astro_service::domain::forms::DEFAULT_FORM } else { name.trim() };
    let found =
        gateway.embedding.form_origins(name).await.map_err(|s| crate::rest::problem_from_status(&s, headers))?;
    match found {
        Some(origins) if origins.contains(&origin) => Ok(()),
        Some(_) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!(
                "form {name} may not be sent from {origin}: an admin adds the origin to the form's allowed origins"
            ),
        )),
        None => Err(Problem::new(StatusCode::FORBIDDEN, format!("no published form is named {name}"))),
    }
}

/// The `frame-ancestors` of form `name`'s page: our own origins and the
/// form's allowed ones.
pub fn frame_ancestors(origins: &BTreeSet<String>) -> String {
    let mut sources = String::from("frame-ancestors 'self'");
    for origin in origins {
        sources.push(' ');
        sources.push_str(origin);
    }
    sources
}

/// The origin of an absolute URL (`https://host[:port]`), if it is one.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    Some(&url[..scheme.len() + 3 + host.len()])
}

/// `/f/<name>`: the page of one form, for other sites' iframes — the embed
/// script drawing the form, framed only by the form's origins; 404 for a
/// form that does not exist or is unpublished.
pub async fn page(State(gateway): State<Arc<Gateway>>, Path(name): Path<String>) -> Response {
    let name = name.trim();
    let origins = match gateway.embedding.form_origins(name).await {
        Ok(origins) => origins,
        Err(status) => return crate::rest::problem_from_status(&status, &HeaderMap::new()).into_response(),
    };
    let script = &gateway.embed_script;
    let mut policy =
        gateway.csp.replace("frame-ancestors 'none'", &frame_ancestors(&origins.clone().unwrap_or_default()));
    if let Some(web) = origin_of(script) {
        policy = policy.replacen("script-src 'self'", &format!("script-src 'self' {web}"), 1);
    }
    let (status, html) = match origins {
        // The name is a form's (lower-case letters, digits, hyphens): no escaping needed.
        Some(_) => (
            StatusCode::OK,
            format!(
                "<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <meta name=\"description\" content=\"Formulaire {name} / Form {name}\">\
                 <title>{name}</title><style>body{{margin:0;font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}}</style>\
                 </head><body><main><script src=\"{script}\" data-form=\"{name}\" data-frame async></script></main></body></html>\n"
            ),
        ),
        None => (
            StatusCode::NOT_FOUND,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>No such form</title></head>\
             <body><main><p>No published form has this name.</p></main></body></html>\n"
                .to_owned(),
        ),
    };
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(policy) = HeaderValue::try_from(policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}
