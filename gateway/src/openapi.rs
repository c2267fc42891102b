//! The REST API's OpenAPI 3.1 document, generated from the handlers and
//! types, and a docs page rendered from it on the server (no script, so it
//! works offline and under the edge's CSP).

use std::fmt::Write as _;

use axum::{
    Json,
    response::{Html, IntoResponse, Response},
};
use http::{HeaderValue, header};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        RefOr,
        path::{Operation, ParameterIn},
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};

use astro_service::captcha::pow::Challenge;

use crate::{
    problem::{CaptchaPrompt, FieldError, Problem},
    rest::{auth, captcha, forms, health, model, prospects},
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Astro Qualif REST API",
        description = "The public form's submission and the prospects for REST clients. \
            Errors are RFC 9457 problem details (application/problem+json). \
            The Kanban uses the same service over gRPC-web.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        auth::login,
        auth::second_step,
        auth::forgot_password,
        auth::reset_password,
        prospects::submit,
        prospects::list,
        prospects::export,
        prospects::get,
        prospects::update,
        prospects::delete,
        captcha::verify,
        captcha::settings,
        captcha::challenge,
        forms::published,
        forms::confirm_email,
        health::check,
    ),
    components(schemas(Problem, FieldError, CaptchaPrompt, Challenge, model::Status, model::Budget, model::Timeline, prospects::View, prospects::OrderBy, prospects::Lang, model::Grade)),
    modifiers(&BearerToken),
    tags(
        (name = "auth", description = "Sign in"),
        (name = "prospects", description = "The public form and the Kanban's cards"),
        (name = "forms", description = "The forms visitors fill in, as their pages get them"),
        (name = "captcha", description = "The captcha of the public form, and of sign-ins after too many failures"),
        (name = "operations", description = "For load balancers and monitors"),
    )
)]
pub struct ApiDoc;

/// Answers shared by many operations, declared once for the document.
/// Documentation only: the handlers answer with [`Problem`]s.
pub mod responses {
    #![allow(dead_code)]

    use utoipa::IntoResponses;

    use crate::problem::Problem;

    /// What any API operation may answer: the throttle, or the service away.
    #[derive(IntoResponses)]
    pub enum CommonErrors {
        #[response(
            status = 429,
            description = "Too many requests: wait `Retry-After` seconds",
            content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))
        )]
        TooManyRequests(Problem),
        #[response(
            status = 503,
            description = "Temporarily unavailable: retry shortly",
            content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))
        )]
        Unavailable(Problem),
    }

    /// What an operation with a JSON body may answer about the body.
    #[derive(IntoResponses)]
    pub enum BodyErrors {
        #[response(
            status = 400,
            description = "Invalid request: `errors` names each field",
            content_type = "application/problem+json"
        )]
        Invalid(Problem),
        #[response(status = 413, description = "Body larger than 64 KiB", content_type = "application/problem+json")]
        TooLarge(Problem),
        #[response(status = 415, description = "Body is not JSON", content_type = "application/problem+json")]
        NotJson(Problem),
    }

    /// What an operation for members may answer about the token and role.
    #[derive(IntoResponses)]
    pub enum AdminErrors {
        #[response(
            status = 401,
            description = "Missing, invalid or expired token, or a session that has ended",
            content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))
        )]
        Unauthenticated(Problem),
        #[response(
            status = 403,
            description = "The token's role may not do this (viewers only read; salespeople delete only their own cards)",
            content_type = "application/problem+json"
        )]
        Forbidden(Problem),
    }
}

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        scheme.description = Some("An admin's token from POST /auth/login (HS256, 24 hours).".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn schema_name<T>(schema: &RefOr<T>) -> String {
    match schema {
        RefOr::Ref(r) => r.ref_location.rsplit('/').next().unwrap_or_default().to_owned(),
        RefOr::T(_) => "inline".to_owned(),
    }
}

fn operation(out: &mut String, method: &str, path: &str, op: &Operation) {
    let anchor = format!("{}-{}", method.to_lowercase(), path.replace(['/', '{', '}'], "-"));
    let _ = write!(
        out,
        "<section id=\"{}\"><h3><span class=\"method {}\">{}</span> <code>{}</code></h3>",
        escape(&anchor),
        escape(&method.to_lowercase()),
        escape(method),
        escape(path)
    );
    if let Some(summary) = &op.summary {
        let _ = write!(out, "<p class=\"summary\">{}</p>", escape(summary));
    }
    if let Some(description) = &op.description {
        let _ = write!(out, "<p>{}</p>", escape(description));
    }
    if op.security.is_some() {
        out.push_str("<p class=\"auth\">Requires <code>Authorization: Bearer &lt;admin token&gt;</code>.</p>");
    }
    let params = op.parameters.as_deref().unwrap_or_default();
    if !params.is_empty() {
        out.push_str("<table><tr><th>Parameter</th><th>In</th><th>Required</th><th>Description</th></tr>");
        for p in params {
            let place = match p.parameter_in {
                ParameterIn::Path => "path",
                ParameterIn::Query => "query",
                ParameterIn::Header => "header",
                ParameterIn::Cookie => "cookie",
            };
            let required = matches!(p.required, utoipa::openapi::Required::True);
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{place}</td><td>{}</td><td>{}</td></tr>",
                escape(&p.name),
                if required { "yes" } else { "no" },
                escape(p.description.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</table>");
    }
    if let Some(body) = &op.request_body {
        for (media, content) in &body.content {
            let name = content.schema.as_ref().map(schema_name).unwrap_or_default();
            let _ = write!(
                out,
                "<p>Body: <code>{}</code> <a href=\"#schema-{}\">{}</a></p>",
                escape(media),
                escape(&name),
                escape(&name)
            );
        }
    }
    out.push_str("<table><tr><th>Status</th><th>Meaning</th></tr>");
    for (status, response) in &op.responses.responses {
        let description = match response {
            RefOr::T(r) => r.description.clone(),
            RefOr::Ref(r) => r.ref_location.clone(),
        };
        let _ = write!(out, "<tr><td>{}</td><td>{}</td></tr>", escape(status), escape(&description));
    }
    out.push_str("</table></section>");
}

/// The docs page: every operation, its parameters and answers, and the
/// schemas' JSON, from the same document as `/openapi.json`.
pub fn page() -> String {
    let doc = ApiDoc::openapi();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — docs</title>\
         <link rel=\"stylesheet\" href=\"/docs.css\"></head><body><main><h1>{}</h1><p>{}</p>\
         <p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.1).</p><h2>Endpoints</h2>",
        escape(&doc.info.title),
        escape(&doc.info.title),
        escape(doc.info.description.as_deref().unwrap_or(""))
    );
    for (path, item) in &doc.paths.paths {
        let methods = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
            ("PUT", &item.put),
        ];
        for (method, op) in methods {
            if let Some(op) = op {
                operation(&mut out, method, path, op);
            }
        }
    }
    out.push_str(PROBLEMS);
    out.push_str("<h2>Schemas</h2>");
    if let Some(components) = &doc.components {
        for (name, schema) in &components.schemas {
            let json = serde_json::to_string_pretty(schema).unwrap_or_default();
            let _ = write!(
                out,
                "<section id=\"schema-{}\"><h3>{}</h3><pre>{}</pre></section>",
                escape(name),
                escape(name),
                escape(&json)
            );
        }
    }
    out.push_str("</main></body></html>");
    out
}

const PROBLEMS: &str = r#"<h2>Problems</h2>
<p>Every error is <code>application/problem+json</code>: <code>type</code>, <code>title</code>, <code>status</code>, <code>detail</code>, and for invalid input <code>errors</code>, a list of <code>{field, detail}</code> naming each field by its JSON name (or the header's name).</p>
<dl>
<dt id="problem-invalid">Invalid request (400)</dt><dd>A field, parameter or header is wrong; <code>errors</code> says which and why. Nothing was changed.</dd>
<dt id="problem-captcha">Captcha not verified (400, or 503 when the provider cannot be reached); captcha needed (401, sign-in)</dt><dd>The submission's <code>captchaToken</code> is missing, wrong, expired or already used. Solve a new captcha; nothing was stored. A sign-in after too many failures for the account or from the address answers 401 naming <code>captchaToken</code>, with <code>captcha</code> saying which captcha to solve (for the proof of work, a fresh challenge): send the password again with the solution.</dd>
<dt id="problem-rate-limited">Too many requests (429)</dt><dd>Wait the number of seconds in <code>Retry-After</code>. Limits: the API as a whole, each address on the public endpoints, sign-in attempts per address.</dd>
<dt id="problem-stale">Changed meanwhile (409, 412, 428)</dt><dd>Someone changed the card since you read it (412), or your change needs the version you read in <code>If-Match</code> (428). Reload the card and apply your change again.</dd>
</dl>
"#;

pub async fn docs() -> Html<String> {
    Html(page())
}

pub async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    response
}

const STYLESHEET: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2430;background:#f7f8fa}\
main{max-width:60rem;margin:0 auto;padding:2rem}h1{margin-top:0}\
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eef0f3}\
.method{display:inline-block;min-width:4.5rem;font-size:.8rem;padding:.1rem .4rem;border-radius:4px;color:#fff;background:#4a5568}\
.get{background:#2b6cb0}.post{background:#2f855a}.patch{background:#b7791f}.delete{background:#c53030}\
pre{overflow:auto;background:#f1f3f6;padding:.5rem}dt{font-weight:600;margin-top:.5rem}.auth{color:#6b4e00}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_route() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/auth/login",
            "/auth/second-step",
            "/prospects",
            "/prospects/{id}",
            "/verify-recaptcha",
            "/captcha/challenge",
        ] {
            assert!(paths.contains_key(path), "{path} missing");
        }
        assert!(doc["paths"]["/prospects"]["post"]["requestBody"].is_object());
        assert_eq!(doc["components"]["schemas"]["ProspectSubmission"]["properties"]["captchaToken"]["type"], "string");
        // Enums as the JSON spells them, and every reference resolvable.
        assert_eq!(doc["components"]["schemas"]["Budget"]["enum"][1], "5k_to_20k");
        assert_eq!(doc["components"]["schemas"]["Status"]["enum"][0], "new");
        let text = doc.to_string();
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(doc["components"]["schemas"].get(name).is_some(), "unresolvable reference to {name}");
        }
    }

    #[test]
    fn the_docs_page_lists_operations_and_escapes_text() {
        let page = page();
        assert!(page.contains("<code>/prospects/{id}</code>"));
        assert!(page.contains("id=\"problem-invalid\""));
        assert!(!page.contains("<script"));
        assert_eq!(escape("<b a=\"x\">&'"), "&lt;b a=&quot;x&quot;&gt;&amp;&#39;");
    }
}
