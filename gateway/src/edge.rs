//! The local edge: what API Gateway and CloudFront do on AWS, done by the
//! gateway on one origin — gRPC-web forwarding behind the token check, the
//! API-wide throttle, security headers, and the built web app.

use std::{net::SocketAddr, path::Path, sync::Arc};

use astro_authorizer::{
    Refusal,
    policy::{self, Access},
};
use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use tower_http::services::{ServeDir, ServeFile};

use astro_service::{config::CaptchaProvider, domain::sign_in::Transport};

use crate::{Gateway, problem::Problem};

/// A gRPC-web answer carrying only a status (the "trailers-only" form), as
/// tonic encodes it, under the caller's gRPC-web content type.
fn grpc_status(status: tonic::Status, content_type: &HeaderValue) -> Response {
    let mut response: Response = status.into_http();
    response.headers_mut().insert(header::CONTENT_TYPE, content_type.clone());
    response
}

/// Headers that belong to one connection, never forwarded.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade" | "te" | "trailer" | "host"
    )
}

/// Forwards a gRPC-web call to the service after the token check. The
/// service checks the token again: the edge is one guard, not the only one.
/// Sign-in calls carry the client's address under the edge's identity, so
/// the service counts their failures against the right budget.
pub async fn grpc_web(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
    let Some(content_type) = content_type.filter(|v| v.as_bytes().starts_with(b"application/grpc-web")) else {
        return Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "gRPC-web calls only (application/grpc-web+proto)")
            .into_response();
    };
    if request.method() != Method::POST {
        return Problem::new(StatusCode::METHOD_NOT_ALLOWED, "gRPC-web calls are POSTs").into_response();
    }
    let path = request.uri().path().to_owned();
    let allowed = match policy::grpc_method(&path) {
        Access::Public => None,
        Access::Roles(roles) => Some(roles),
        Access::Closed => {
            return grpc_status(tonic::Status::unimplemented("not served here: use native gRPC"), &content_type);
        }
    };
    if let Some(roles) = allowed {
        let header = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if let Err(refusal) = gateway.keys.verifier().authorize(header, roles) {
            let status = match refusal {
                Refusal::Forbidden(_) => tonic::Status::permission_denied(refusal.to_string()),
                Refusal::Missing | Refusal::Invalid => tonic::Status::unauthenticated(refusal.to_string()),
            };
            return grpc_status(status, &content_type);
        }
    }

    let (parts, body) = request.into_parts();
    let uri = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or(&path).to_owned();
    let mut forward = http::Request::builder().method(Method::POST).uri(uri);
    for (name, value) in &parts.headers {
        // The edge answers CORS itself; the service must not add its own.
        // Only the edge speaks for the client (`x-astro-*`).
        if !hop_by_hop(name)
            && name != header::ORIGIN
            && name != header::CONTENT_LENGTH
            && name != header::HOST
            && !astro_service::api::edge::is_edge_header(name.as_str())
        {
            forward = forward.header(name, value);
        }
    }
    if path.starts_with("/astro.v1.AuthService/") {
        let client = gateway.limits.client_ip(peer, &parts.headers);
        for (name, value) in astro_service::api::edge::headers(&gateway.keys, client, Transport::GrpcWeb) {
            forward = forward.header(name, value);
        }
    }
    let Ok(forward) = forward.body(tonic::body::Body::new(body)) else {
        return grpc_status(tonic::Status::invalid_argument("malformed request headers"), &content_type);
    };
    // Straight into the service's stack (its gRPC-web layer translates):
    // in this process with no socket, or over the channel to a remote one.
    let answer = match tower::ServiceExt::oneshot(gateway.grpc.clone(), forward).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(error = %e, %path, "service unreachable");
            return grpc_status(tonic::Status::unavailable("the service is unreachable: retry shortly"), &content_type);
        }
    };
    let (head, body) = answer.into_parts();
    let mut response = Response::builder().status(head.status);
    if let Some(headers) = response.headers_mut() {
        copy_headers(&head.headers, headers);
    }
    response.body(Body::new(body)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !hop_by_hop(name) && !name.as_str().starts_with("access-control-") {
            to.append(name, value.clone());
        }
    }
}

/// The per-address limit of one public endpoint, applied before the body is
/// read, so malformed requests count too.
pub async fn per_client(
    State((gateway, endpoint)): State<(Arc<Gateway>, Public)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let limits = &gateway.limits;
    let (limiter, what) = match endpoint {
        Public::Form => (&limits.form, "too many submissions from your address"),
        Public::Login => (&limits.login, "too many sign-in attempts from your address"),
        Public::Captcha => (&limits.captcha, "too many captcha requests from your address"),
    };
    match limiter.check(limits.client_ip(peer, request.headers())) {
        Ok(()) => next.run(request).await,
        Err(wait) => Problem::rate_limited(what, wait).into_response(),
    }
}

/// The public endpoints, each with its own per-address budget.
#[derive(Debug, Clone, Copy)]
pub enum Public {
    Form,
    Login,
    Captcha,
}

/// The API-wide throttle (API Gateway's stage limit).
pub async fn throttle(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    match gateway.limits.api.check() {
        Ok(()) => next.run(request).await,
        Err(wait) => Problem::rate_limited("the API is busy: slow down", wait).into_response(),
    }
}

/// The hosts a captcha provider's widget loads scripts, frames and calls
/// from (each with a leading space). CloudFront's response headers policy
/// keeps the same table (`CaptchaCsp` in infra/template.yaml; a test holds
/// the two together).
pub fn captcha_hosts(provider: CaptchaProvider) -> [&'static str; 3] {
    match provider {
        CaptchaProvider::RecaptchaV3 | CaptchaProvider::RecaptchaV2 => [
            " https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/",
            " https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/",
            " https://www.google.com/recaptcha/",
        ],
        CaptchaProvider::Hcaptcha => [
            " https://hcaptcha.com https://*.hcaptcha.com",
            " https://hcaptcha.com https://*.hcaptcha.com",
            " https://hcaptcha.com https://*.hcaptcha.com",
        ],
        CaptchaProvider::Turnstile => [
            " https://challenges.cloudflare.com",
            " https://challenges.cloudflare.com",
            " https://challenges.cloudflare.com",
        ],
        CaptchaProvider::Pow | CaptchaProvider::Off => ["", "", ""],
    }
}

/// The Content-Security-Policy: scripts from this origin only (never inline),
/// plus the captcha provider's when one is used.
pub fn content_security_policy(provider: CaptchaProvider) -> String {
    let [scripts, frames, connect] = captcha_hosts(provider);
    format!(
        "default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'{connect}; frame-src 'self'{frames}; worker-src 'self' blob:; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sets the security headers on every answer.
pub async fn security_headers(State(csp): State<HeaderValue>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // A page that may be framed (`/f/<name>`) sets its own policy, whose
    // `frame-ancestors` replaces X-Frame-Options.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    response
}

/// The built web app, with every unknown path answered by `index.html`
/// (the app routes itself). Hashed assets are cached for good; the rest is
/// revalidated.
pub fn web_app(dir: &Path) -> Option<ServeDir<ServeFile>> {
    let index = dir.join("index.html");
    index.is_file().then(|| ServeDir::new(dir).fallback(ServeFile::new(index)))
}

pub async fn cache_control(request: Request, next: Next) -> Response {
    let immutable = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    if response.status().is_success() && !response.headers().contains_key(header::CACHE_CONTROL) {
        let value = if immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    response
}

/// Without a built web app: a page saying where things are, and 404s.
pub async fn no_web_app(request: Request) -> Response {
    match request.uri().path() {
        "/" => Html(LANDING).into_response(),
        path => Problem::new(StatusCode::NOT_FOUND, format!("nothing at {path}")).into_response(),
    }
}

const LANDING: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Astro Qualif</title>
<link rel="stylesheet" href="/docs.css"></head>
<body><main><h1>Astro Qualif</h1>
<p>The API is up. The web app is not built here (<code>frontend/dist</code> is missing).</p>
<ul><li><a href="/docs">REST API documentation</a> (<a href="/openapi.json">OpenAPI 3.1</a>)</li>
<li>gRPC-web: <code>/astro.v1.ProspectService/*</code>, <code>/astro.v1.AuthService/Login</code></li></ul>
</main></body></html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_web_refusals_carry_a_percent_encoded_message_in_the_callers_content_type() {
        let content_type = HeaderValue::from_static("application/grpc-web-text");
        let response = grpc_status(tonic::Status::permission_denied("role x: 100% no\n"), &content_type);
        assert_eq!(response.headers()["grpc-status"], "7");
        // tonic encodes spaces too; `%` and the line break must never go raw.
        assert_eq!(response.headers()["grpc-message"], "role%20x:%20100%25%20no%0A");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/grpc-web-text");
    }

    #[test]
    fn the_policy_never_allows_inline_scripts() {
        for p in [CaptchaProvider::Pow, CaptchaProvider::RecaptchaV3, CaptchaProvider::Turnstile] {
            let csp = content_security_policy(p);
            let scripts = csp.split(';').find(|d| d.trim().starts_with("script-src")).unwrap();
            assert!(!scripts.contains("unsafe-inline") && !scripts.contains("unsafe-eval"), "{csp}");
            assert!(csp.contains("frame-ancestors 'none'"));
        }
    }

    /// CloudFront serves the web app on AWS with the same policy as this edge
    /// (plus the API's origin, which the app calls across origins).
    #[test]
    fn the_stacks_response_headers_policy_is_this_edges() {
        let template = include_str!("../../infra/template.yaml");
        let (_, rest) = template.split_once("            ContentSecurityPolicy: !Sub\n              - >-\n").unwrap();
        let (folded, _) = rest.split_once("\n              - Script:").unwrap();
        let policy = folded.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        let api = " https://${Api}.execute-api.${AWS::Region}.amazonaws.com";
        for provider in [
            CaptchaProvider::Pow,
            CaptchaProvider::RecaptchaV3,
            CaptchaProvider::RecaptchaV2,
            CaptchaProvider::Hcaptcha,
            CaptchaProvider::Turnstile,
        ] {
            let [script, frame, connect] = captcha_hosts(provider);
            let (_, mapping) = template.split_once(&format!("\n    {}:", provider.name())).unwrap();
            let mapping: String = mapping.lines().take(4).collect::<Vec<_>>().join("\n");
            for (key, hosts) in [("Script", script), ("Frame", frame), ("Connect", connect)] {
                assert!(
                    mapping.contains(&format!("{key}: \"{hosts}\"")),
                    "{}: {key} in the template\n{mapping}",
                    provider.name()
                );
            }
            let rendered =
                policy.replace("${Script}", script).replace("${Frame}", frame).replace("${Connect}", connect);
            assert_eq!(rendered.replace(api, ""), content_security_policy(provider), "{}", provider.name());
        }
    }
}
