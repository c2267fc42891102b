//! The REST API for clients with a token: login, list, read, change with
//! If-Match, delete; the edge's token check; the OpenAPI document and docs.

use astro_authorizer::Role;
use serde_json::{Value, json};

use crate::helpers::*;

async fn one_prospect(stack: &Stack) -> String {
    let receipt: Value =
        stack.submit(&submission("Ada", "ada@example.com", &stack.solved().await), None).await.json().await.unwrap();
    receipt["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn login_returns_a_token_the_api_accepts() {
    let stack = spawn().await;
    let login = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(login.status(), 200);
    let login: Value = login.json().await.unwrap();
    assert_eq!(login["role"], "admin");
    assert!(login["expiresAt"].as_str().unwrap().ends_with('Z'));
    let token = login["token"].as_str().unwrap();
    let page = stack.http.get(stack.at("/prospects")).bearer_auth(token).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page: Value = page.json().await.unwrap();
    assert_eq!(page["prospects"], json!([]));

    assert_problem(stack.login(ADMIN_EMAIL, "nope").await, 401, None).await;
}

#[tokio::test]
async fn the_edge_refuses_missing_wrong_and_unprivileged_tokens() {
    let stack = spawn().await;
    let id = one_prospect(&stack).await;
    let path = format!("/prospects/{id}");

    let none = stack.http.get(stack.at(&path)).send().await.unwrap();
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    assert_problem(none, 401, None).await;

    let forged = astro_authorizer::TokenIssuer::new(&astro_authorizer::TokenSecret::new(vec![9; 32]).unwrap())
        .issue(ADMIN_EMAIL, Role::Admin, now())
        .unwrap()
        .0;
    assert_problem(stack.http.get(stack.at(&path)).bearer_auth(forged).send().await.unwrap(), 401, None).await;

    let service = token("robot@example.com", Role::Service);
    assert_problem(stack.http.get(stack.at(&path)).bearer_auth(&service).send().await.unwrap(), 403, None).await;
    assert_problem(stack.http.delete(stack.at(&path)).bearer_auth(&service).send().await.unwrap(), 403, None).await;
    assert_eq!(stack.stored().await, 1);
}

#[tokio::test]
async fn patch_needs_the_current_version_and_refuses_a_stale_one() {
    let stack = spawn().await;
    let id = one_prospect(&stack).await;
    let path = format!("/prospects/{id}");
    let patch = |if_match: Option<&str>, body: Value| {
        let mut request = stack.http.patch(stack.at(&path)).bearer_auth(stack.admin()).json(&body);
        if let Some(v) = if_match {
            request = request.header("if-match", v);
        }
        request.send()
    };

    assert_problem(patch(None, json!({"status": "contacted"})).await.unwrap(), 428, None).await;

    let moved = patch(Some("\"1\""), json!({"status": "contacted", "jobTitle": "CTO"})).await.unwrap();
    assert_eq!(moved.status(), 200);
    assert_eq!(moved.headers()["etag"], "\"2\"");
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["status"], "contacted");
    assert_eq!(moved["jobTitle"], "CTO");

    // Someone else still holds version 1.
    let stale = patch(Some("\"1\""), json!({"status": "lost"})).await.unwrap();
    let body = assert_problem(stale, 412, None).await;
    assert_eq!(body["type"], "/docs#problem-stale");

    assert_problem(patch(Some("\"2\""), json!({"status": "archived"})).await.unwrap(), 400, Some("status")).await;
    assert_problem(patch(Some("\"2\""), json!({"email": "nope"})).await.unwrap(), 400, Some("email")).await;
    assert_problem(patch(Some("\"2\""), json!({"id": "x"})).await.unwrap(), 400, Some("id")).await;

    let card: Value = stack.get(&format!("{path}?view=full")).await.json().await.unwrap();
    assert_eq!(card["status"], "contacted");
    assert_eq!(card["version"], 2);
    let kinds: Vec<&str> = card["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "status_changed", "edited"]);
    assert_eq!(card["events"][2]["changedFields"], json!(["jobTitle"]));
}

#[tokio::test]
async fn delete_honours_if_match_and_then_the_card_is_gone() {
    let stack = spawn().await;
    let id = one_prospect(&stack).await;
    let path = format!("/prospects/{id}");
    let stale = stack.http.delete(stack.at(&path)).bearer_auth(stack.admin()).header("if-match", "\"7\"").send().await;
    assert_problem(stale.unwrap(), 412, None).await;
    let deleted =
        stack.http.delete(stack.at(&path)).bearer_auth(stack.admin()).header("if-match", "\"1\"").send().await;
    assert_eq!(deleted.unwrap().status(), 204);
    assert_problem(stack.get(&path).await, 404, None).await;
    assert_problem(stack.get("/prospects/not-a-uuid").await, 400, Some("id")).await;
}

#[tokio::test]
async fn list_filters_by_column_and_pages() {
    let stack = spawn().await;
    for i in 0..3 {
        let email = format!("p{i}@example.com");
        let r = stack.submit(&submission("Ada", &email, &stack.solved().await), None).await;
        assert_eq!(r.status(), 201);
    }
    let page: Value = stack.get("/prospects?status=new&pageSize=2").await.json().await.unwrap();
    assert_eq!(page["prospects"].as_array().unwrap().len(), 2);
    let next = page["nextPageToken"].as_str().unwrap();
    let counts = page["statusCounts"].as_array().unwrap();
    assert!(counts.contains(&json!({"status": "new", "count": 3})), "{counts:?}");
    let rest: Value =
        stack.get(&format!("/prospects?status=new&pageSize=2&pageToken={next}")).await.json().await.unwrap();
    assert_eq!(rest["prospects"].as_array().unwrap().len(), 1);
    assert!(rest.get("nextPageToken").is_none_or(Value::is_null));

    assert_problem(stack.get("/prospects?status=archived").await, 400, Some("status")).await;
    assert_problem(stack.get("/prospects?pageSize=lots").await, 400, Some("pageSize")).await;
    assert_problem(stack.get("/prospects?colour=red").await, 400, Some("colour")).await;
}

#[tokio::test]
async fn the_openapi_document_and_docs_page_are_served() {
    let stack = spawn().await;
    let doc: Value = stack.http.get(stack.at("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/prospects/{id}"]["patch"].is_object());
    let docs = stack.http.get(stack.at("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = docs.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(docs.text().await.unwrap().contains("/verify-recaptcha"));
}

#[tokio::test]
async fn the_board_searches_by_name_company_or_email_over_rest() {
    let stack = spawn().await;
    let created = stack.submit(&submission("Élodie", "elodie@example.com", &stack.solved().await), None).await;
    assert_eq!(created.status(), 201);
    for query in ["elo", "LOVELACE", "analytical", "elodie@example.com"] {
        let page: serde_json::Value = stack.get(&format!("/prospects?q={query}")).await.json().await.unwrap();
        assert_eq!(page["prospects"].as_array().unwrap().len(), 1, "{query}: {page}");
        assert_eq!(page["prospects"][0]["firstName"], "Élodie");
        assert!(page.get("nextPageToken").is_none_or(|t| t.is_null() || t == ""), "one page: {page}");
    }
    let none: serde_json::Value = stack.get("/prospects?q=zzz").await.json().await.unwrap();
    assert!(none["prospects"].as_array().unwrap().is_empty());
    assert_problem(stack.get("/prospects?q=ada&pageToken=x").await, 400, Some("pageToken")).await;
    assert_problem(stack.get(&format!("/prospects?q={}", "x".repeat(101))).await, 400, Some("q")).await;
}

#[tokio::test]
async fn export_streams_a_csv_download_with_the_roles_of_the_table() {
    let stack = spawn().await;
    let id = one_prospect(&stack).await;
    let export = stack.get("/prospects/export?status=new&separator=%3B&bom=true&lang=fr").await;
    assert_eq!(export.status(), 200);
    assert_eq!(export.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = export.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment; filename=\"prospects-") && disposition.ends_with(".csv\""));
    let file = export.text().await.unwrap();
    let mut lines = file.split("\r\n");
    assert!(lines.next().unwrap().starts_with("\u{feff}\"Identifiant\";\"Créé le\";\"Statut\";"));
    assert!(lines.next().unwrap().starts_with(&format!("\"{id}\";")));
    assert_eq!(lines.collect::<Vec<_>>(), [""], "one card, then the last line break");

    let viewer = stack.member("vera@example.com", Role::Viewer).await;
    let read = stack.http.get(stack.at("/prospects/export")).bearer_auth(&viewer).send().await.unwrap();
    assert_eq!(read.status(), 200, "a viewer may export");
    let service = token("robot@example.com", Role::Service);
    let refused = stack.http.get(stack.at("/prospects/export")).bearer_auth(&service).send().await.unwrap();
    assert_problem(refused, 403, None).await;
    assert_problem(stack.get("/prospects/export?separator=%7C").await, 400, Some("separator")).await;
    assert_problem(stack.get("/prospects/export?separator=").await, 400, Some("separator")).await;
    assert_problem(stack.get("/prospects/export?email=").await, 400, Some("email")).await;
    assert_problem(stack.get("/prospects/export?pageSize=2").await, 400, Some("pageSize")).await;
    assert_problem(stack.get("/prospects/export?status=new&stale=true&q=x").await, 400, Some("stale")).await;
}

#[tokio::test]
async fn a_forms_published_definition_is_public_and_cacheable_and_a_submission_names_it() {
    let stack = spawn().await;
    let form = stack.http.get(stack.at("/forms/default")).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert_eq!(form.headers()["cache-control"], "public, max-age=60");
    let form: Value = form.json().await.unwrap();
    assert_eq!((form["name"].as_str(), form["version"].as_i64()), (Some("default"), Some(0)));
    assert_eq!(form["fields"][0], json!({"field": "first_name", "required": true}));
    assert_eq!(form["defaultLanguage"], "fr");
    assert_problem(stack.http.get(stack.at("/forms/nowhere")).send().await.unwrap(), 404, None).await;
    assert_problem(stack.http.get(stack.at("/forms/Not%20A%20Name")).send().await.unwrap(), 400, Some("name")).await;

    // The card keeps the form; answers to a form without questions are refused.
    let mut body = submission("Ada", "ada@example.com", &stack.solved().await);
    body["form"] = json!("default");
    body["formVersion"] = json!(0);
    let receipt: Value = stack.submit(&body, None).await.json().await.unwrap();
    let card: Value = stack.get(&format!("/prospects/{}", receipt["id"].as_str().unwrap())).await.json().await.unwrap();
    assert_eq!((card["form"].as_str(), card["formVersion"].as_i64()), (Some("default"), Some(0)));
    body["answers"] = json!([{"questionId": "seats", "number": 3}]);
    body["captchaToken"] = json!(stack.solved().await);
    assert_problem(stack.submit(&body, None).await, 400, Some("answers[0].questionId")).await;
}
