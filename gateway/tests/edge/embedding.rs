//! Forms on other sites' pages, as the edge answers them: CORS on the
//! public form's routes only for the origins a published form allows, a
//! submission from any other origin refused (one without `Origin` judged by
//! its captcha alone), and `/f/<name>` framed only by the form's origins.

use astro_proto::v1 as pb;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "https://shop.example.com";
const ELSEWHERE: &str = "https://evil.example.net";

/// A stack serving a web app page, with form `salon` published for SHOP.
async fn stack_with_salon() -> (Stack, tempfile::TempDir) {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(web.path().join("index.html"), "<!doctype html><title>app</title><div id=root></div>").unwrap();
    std::fs::write(web.path().join("embed.js"), "/* the embed script */").unwrap();
    let stack = spawn_with(&["--web-dir", web.path().to_str().unwrap()]).await;
    let admin = format!("Bearer {}", stack.admin());
    let form = pb::Form {
        name: "salon".into(),
        draft: Some(pb::FormDefinition {
            title: Some(pb::LocalizedText { fr: "Salon".into(), en: "Fair".into() }),
            allowed_origins: vec![SHOP.into()],
            ..astro_service::domain::forms::default_definition()
        }),
        ..Default::default()
    };
    let created: pb::Form = grpc_web(
        &stack,
        "/astro.v1.FormService/CreateForm",
        &pb::CreateFormRequest { form: Some(form) },
        &[("authorization", &admin)],
    )
    .await
    .unwrap();
    let _: pb::Form = grpc_web(
        &stack,
        "/astro.v1.FormService/PublishForm",
        &pb::PublishFormRequest { name: "salon".into(), version: created.version },
        &[("authorization", &admin)],
    )
    .await
    .unwrap();
    (stack, web)
}

async fn submit_from(stack: &Stack, origin: Option<&str>, form: &str) -> reqwest::Response {
    let mut body = submission("Ada", "ada@example.com", &stack.solved().await);
    body["form"] = json!(form);
    body["formVersion"] = json!(1);
    let mut request = stack.http.post(stack.at("/prospects")).json(&body);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_public_forms_routes_answer_the_origins_a_form_allows_and_no_other() {
    let (stack, _web) = stack_with_salon().await;
    let preflight = |origin: &'static str| {
        stack
            .http
            .request(reqwest::Method::OPTIONS, stack.at("/prospects"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, idempotency-key")
            .send()
    };
    let allowed = preflight(SHOP).await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(allowed.headers()["access-control-allow-origin"], SHOP);
    assert!(allowed.headers()["access-control-allow-headers"].to_str().unwrap().contains("idempotency-key"));
    let refused = preflight(ELSEWHERE).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().get("access-control-allow-origin").is_none());

    // The definition and the captcha, read from the shop's page.
    for path in ["/forms/salon", "/captcha", "/captcha/challenge"] {
        let read = stack.http.get(stack.at(path)).header("origin", SHOP).send().await.unwrap();
        assert_eq!(
            (path, read.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap())),
            (path, Some(SHOP))
        );
        let read = stack.http.get(stack.at(path)).header("origin", ELSEWHERE).send().await.unwrap();
        assert!(read.headers().get("access-control-allow-origin").is_none(), "{path}");
    }
    // Another form's definition is not the shop's to read.
    let default = stack.http.get(stack.at("/forms/default")).header("origin", SHOP).send().await.unwrap();
    assert!(default.headers().get("access-control-allow-origin").is_none());
    // The members' routes never answer the form's origins.
    let list =
        stack.http.get(stack.at("/prospects")).header("origin", SHOP).bearer_auth(stack.admin()).send().await.unwrap();
    assert!(list.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_submission_from_an_origin_its_form_does_not_allow_is_refused_and_stores_nothing() {
    let (stack, _web) = stack_with_salon().await;
    let before = stack.stored().await;
    let refused = assert_problem(submit_from(&stack, Some(ELSEWHERE), "salon").await, 403, None).await;
    assert!(refused["detail"].as_str().unwrap().contains(ELSEWHERE), "{refused}");
    // The shop may send `salon`, not `default`, nor a form that does not exist.
    assert_problem(submit_from(&stack, Some(SHOP), "default").await, 403, None).await;
    assert_problem(submit_from(&stack, Some(SHOP), "nowhere").await, 403, None).await;
    assert_eq!(stack.stored().await, before);

    let sent = submit_from(&stack, Some(SHOP), "salon").await;
    assert_eq!(sent.status(), 201);
    assert_eq!(sent.headers()["access-control-allow-origin"], SHOP);
    // Our own page (same origin) and a server (no Origin) as before.
    let own = stack.url.clone();
    let mut body = submission("Grace", "grace@example.com", &stack.solved().await);
    body["form"] = json!("salon");
    body["formVersion"] = json!(1);
    let sent = stack.http.post(stack.at("/prospects")).header("origin", own).json(&body).send().await.unwrap();
    assert_eq!(sent.status(), 201);
    assert_eq!(submit_from(&stack, None, "salon").await.status(), 201);
    // Without a captcha, no origin helps.
    let mut body = submission("Eve", "eve@example.com", "");
    body["form"] = json!("salon");
    let refused = stack.http.post(stack.at("/prospects")).header("origin", SHOP).json(&body).send().await.unwrap();
    assert_problem(refused, 400, Some("captchaToken")).await;
}

#[tokio::test]
async fn a_forms_page_is_framed_only_by_its_origins_and_an_unknown_form_has_none() {
    let (stack, _web) = stack_with_salon().await;
    let page = stack.http.get(stack.at("/f/salon")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains(&format!("frame-ancestors 'self' {SHOP}")), "{policy}");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(page.headers().get("x-frame-options").is_none());
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script src="/embed.js" data-form="salon" data-frame async></script>"#), "{html}");

    for unknown in ["/f/nowhere", "/f/Not%20A%20Name"] {
        let page = stack.http.get(stack.at(unknown)).send().await.unwrap();
        assert_eq!(page.status(), 404, "{unknown}");
        let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(policy.ends_with("frame-ancestors 'self'"), "{policy}");
    }
    // The rest of the app is framed by nobody.
    let app = stack.http.get(stack.at("/")).send().await.unwrap();
    assert!(app.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(app.headers()["x-frame-options"], "DENY");
    let definition: Value = stack.http.get(stack.at("/forms/salon")).send().await.unwrap().json().await.unwrap();
    assert_eq!(definition["version"], 1);
}

/// Building forms and importing are the admins' (and the origins list the
/// edge's own): the edge refuses the other roles before the service does.
/// The team may list the forms, to filter the board by one.
#[tokio::test]
async fn forms_and_imports_are_refused_over_grpc_web_to_the_other_roles() {
    use astro_authorizer::Role;
    let stack = spawn().await;
    let sales = format!("Bearer {}", stack.member("sam@example.com", Role::Sales).await);
    let viewer = format!("Bearer {}", stack.member("vic@example.com", Role::Viewer).await);
    let admin = format!("Bearer {}", stack.admin());
    for bearer in [&sales, &viewer] {
        let auth = [("authorization", bearer.as_str())];
        // The team lists the forms (the board's filter), and reads no draft.
        let forms = grpc_web::<pb::ListFormsResponse>(
            &stack,
            "/astro.v1.FormService/ListForms",
            &pb::ListFormsRequest {},
            &auth,
        )
        .await;
        let forms = forms.unwrap().forms;
        assert_eq!((forms.len(), forms[0].name.as_str(), forms[0].draft.is_none()), (1, "default", true));
        let draft = pb::GetFormRequest { name: "default".into() };
        let draft = grpc_web::<pb::Form>(&stack, "/astro.v1.FormService/GetForm", &draft, &auth).await;
        assert_eq!(draft.unwrap_err().code(), tonic::Code::PermissionDenied);
        let create = pb::CreateFormRequest { form: Some(pb::Form { name: "x".into(), ..Default::default() }) };
        let created = grpc_web::<pb::Form>(&stack, "/astro.v1.FormService/CreateForm", &create, &auth).await;
        assert_eq!(created.unwrap_err().code(), tonic::Code::PermissionDenied);
        let imports = grpc_web::<pb::ListImportsResponse>(
            &stack,
            "/astro.v1.ImportService/ListImports",
            &pb::ListImportsRequest::default(),
            &auth,
        )
        .await;
        assert_eq!(imports.unwrap_err().code(), tonic::Code::PermissionDenied);
    }
    let origins = grpc_web::<pb::ListEmbeddingOriginsResponse>(
        &stack,
        "/astro.v1.FormService/ListEmbeddingOrigins",
        &pb::ListEmbeddingOriginsRequest {},
        &[("authorization", &admin)],
    )
    .await;
    assert_eq!(origins.unwrap_err().code(), tonic::Code::PermissionDenied);
    let listed = grpc_web::<pb::ListFormsResponse>(
        &stack,
        "/astro.v1.FormService/ListForms",
        &pb::ListFormsRequest {},
        &[("authorization", &admin)],
    )
    .await
    .unwrap();
    assert_eq!(listed.forms.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["default"]);
}

/// The double opt-in link's REST face: a token that is not ours is refused
/// on its field (the link that works is proven in the service's and the
/// browser's tests, with a real SMTP server).
#[tokio::test]
async fn an_email_confirmation_with_a_token_not_ours_is_refused_on_its_field() {
    let stack = spawn().await;
    let post = |body: Value| stack.http.post(stack.at("/email-confirmations")).json(&body).send();
    assert_problem(post(json!({"token": "not.ours"})).await.unwrap(), 400, Some("token")).await;
    assert_problem(post(json!({"token": ""})).await.unwrap(), 400, Some("token")).await;
    assert_problem(post(json!({"token": "x", "extra": 1})).await.unwrap(), 400, Some("extra")).await;
}
