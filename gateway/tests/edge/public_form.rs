//! The public form end to end: REST → captcha → gRPC → store, and the admin
//! API sees what was stored (and nothing when the captcha fails).

use std::time::Duration;

use astro_service::captcha::pow::{self, ProofOfWork};
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn a_submission_with_a_solved_proof_of_work_reaches_the_admin() {
    let stack = spawn().await;
    let response = stack.submit(&submission("Ada", "ada@example.com", &stack.solved().await), None).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let receipt: Value = response.json().await.unwrap();
    let id = receipt["id"].as_str().unwrap();
    assert_eq!(location, format!("/prospects/{id}"));

    let card = stack.get(&location).await;
    assert_eq!(card.status(), 200);
    assert_eq!(card.headers()["etag"], "\"1\"");
    let card: Value = card.json().await.unwrap();
    assert_eq!(card["firstName"], "Ada");
    assert_eq!(card["email"], "ada@example.com");
    assert_eq!(card["status"], "new");
    assert_eq!(card["budget"], "5k_to_20k");
    assert_eq!(card["source"]["utmSource"], "newsletter");
    // What was consented to: the text's version, its language, the time.
    assert_eq!((card["consent"].as_bool(), card["consentVersion"].as_str()), (Some(true), Some("2026-11")));
    assert_eq!(card["consentLanguage"], "en");
    assert!(card["consentAt"].as_str().unwrap().ends_with('Z'));
    // Stored as text, never as markup.
    assert_eq!(card["message"], "We need <b>qualified</b> leads");
    assert_eq!(card["events"][0]["kind"], "created");
    assert_eq!(card["events"][0]["actor"], astro_gateway::rest::prospects::FORM_IDENTITY);
    assert_eq!(stack.stored().await, 1);
}

#[tokio::test]
async fn no_token_a_wrong_token_a_replayed_token_or_an_expired_challenge_store_nothing() {
    let stack = spawn().await;

    let missing = stack.submit(&submission("Bot", "bot@example.com", ""), None).await;
    let body = assert_problem(missing, 400, Some("captchaToken")).await;
    assert_eq!(body["type"], "/docs#problem-captcha");

    assert_problem(
        stack.submit(&submission("Bot", "bot@example.com", "garbage"), None).await,
        400,
        Some("captchaToken"),
    )
    .await;

    // A solution of a challenge signed by someone else.
    let foreign = ProofOfWork::new(b"not the gateway's key".to_vec(), 1_000, Duration::from_secs(60));
    let forged = pow::solve(&foreign.challenge()).unwrap();
    assert_problem(stack.submit(&submission("Bot", "bot@example.com", &forged), None).await, 400, Some("captchaToken"))
        .await;

    // A challenge the gateway signed, expired a minute ago.
    let gateway_key = ProofOfWork::new(POW_KEY.as_bytes().to_vec(), 1_000, Duration::from_secs(60));
    let expired = pow::solve(&gateway_key.challenge_expiring_at(now() as u64 - 60)).unwrap();
    let body = assert_problem(
        stack.submit(&submission("Late", "late@example.com", &expired), None).await,
        400,
        Some("captchaToken"),
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("expired"), "{body}");
    assert_eq!(stack.stored().await, 0);

    // One use per solution.
    let solved = stack.solved().await;
    assert_eq!(stack.submit(&submission("Ada", "ada@example.com", &solved), None).await.status(), 201);
    let replay = stack.submit(&submission("Eve", "eve@example.com", &solved), None).await;
    let body = assert_problem(replay, 400, Some("captchaToken")).await;
    assert!(body["detail"].as_str().unwrap().contains("already used"), "{body}");
    assert_eq!(stack.stored().await, 1);
}

#[tokio::test]
async fn a_double_submit_with_one_idempotency_key_creates_one_prospect() {
    let stack = spawn().await;
    let solved = stack.solved().await;
    let body = submission("Ada", "ada@example.com", &solved);
    let first = stack.submit(&body, Some("form-7f3c")).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = stack.submit(&body, Some("form-7f3c")).await;
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    // The same solution under another key is a replay.
    assert_problem(stack.submit(&body, Some("form-other")).await, 400, Some("captchaToken")).await;
    assert_problem(stack.submit(&body, Some("has space")).await, 400, Some("Idempotency-Key")).await;
    assert_eq!(stack.stored().await, 1);
}

#[tokio::test]
async fn the_same_email_again_is_linked_as_a_duplicate() {
    let stack = spawn().await;
    let first: Value =
        stack.submit(&submission("Ada", "ada@example.com", &stack.solved().await), None).await.json().await.unwrap();
    let second = stack.submit(&submission("Ada", "ADA@example.com", &stack.solved().await), None).await;
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.unwrap();
    assert_ne!(first["id"], second["id"]);
    let card: Value = stack.get(&format!("/prospects/{}", second["id"].as_str().unwrap())).await.json().await.unwrap();
    assert_eq!(card["duplicateOf"], first["id"]);
    let page: Value = stack.get("/prospects?email=ada@example.com").await.json().await.unwrap();
    assert_eq!(page["prospects"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_honeypot_and_invalid_fields_are_refused_by_name() {
    let stack = spawn().await;
    let mut body = submission("Ada", "ada@example.com", &stack.solved().await);
    body["website"] = "http://spam.example".into();
    assert_problem(stack.submit(&body, None).await, 400, Some("website")).await;

    let mut body = submission("", "not-an-email", &stack.solved().await);
    body["consent"] = false.into();
    body["source"]["referrer"] = "x".repeat(3000).into();
    body["consentVersion"] = "v".repeat(33).into();
    let problem = assert_problem(stack.submit(&body, None).await, 400, Some("firstName")).await;
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for field in ["email", "consent", "source.referrer", "consentVersion"] {
        assert!(fields.contains(&field), "{field} not in {fields:?}");
    }

    let mut body = submission("Ada", "ada@example.com", &stack.solved().await);
    body["budget"] = "a lot".into();
    assert_problem(stack.submit(&body, None).await, 400, Some("budget")).await;
    body["budget"] = Value::Null;
    body["favouriteColour"] = "blue".into();
    assert_problem(stack.submit(&body, None).await, 400, Some("favouriteColour")).await;

    let not_json = stack.http.post(stack.at("/prospects")).body("firstName=Ada").send().await.unwrap();
    assert_problem(not_json, 415, Some("Content-Type")).await;
    assert_eq!(stack.stored().await, 0);
}

#[tokio::test]
async fn verify_recaptcha_reports_the_verdict_but_is_never_enough_to_submit() {
    let stack = spawn().await;
    let solved = stack.solved().await;
    assert_eq!(stack.verify_captcha(&solved).await["success"], true);
    // The checked token is used up: the submission needs its own.
    assert_problem(stack.submit(&submission("Ada", "ada@example.com", &solved), None).await, 400, Some("captchaToken"))
        .await;
    assert_eq!(stack.verify_captcha(&solved).await["success"], false);
    assert_eq!(stack.stored().await, 0);
}

#[tokio::test]
async fn two_gateways_in_front_of_one_service_accept_a_captcha_solution_once() {
    // The cloud's split: one service on the table, gateways in front of it
    // (`ASTRO_SERVICE_URL`), each spending solutions in the same table.
    let (store, _table) = dynamodb_store().await;
    let dir = tempfile::tempdir().unwrap();
    let service = astro_service::start_with_store(config(dir.path(), &[]).service, store.clone()).await.unwrap();
    let one = spawn_in_front_of(service.addr, Some(store.clone()), &[]).await;
    let other = spawn_in_front_of(service.addr, Some(store.clone()), &[]).await;

    let solved = one.solved().await;
    assert_eq!(one.submit(&submission("Ada", "ada@example.com", &solved), None).await.status(), 201);
    let replayed = other.submit(&submission("Bot", "bot@example.com", &solved), None).await;
    assert_problem(replayed, 400, Some("captchaToken")).await;

    // A challenge from one gateway is good on the other (one signing key), once.
    let solved = one.solved().await;
    assert_eq!(other.submit(&submission("Grace", "grace@example.com", &solved), None).await.status(), 201);
    let replayed = one.submit(&submission("Bot", "bot@example.com", &solved), None).await;
    assert_problem(replayed, 400, Some("captchaToken")).await;

    assert_eq!(one.stored().await, 2);
    assert_eq!(other.stored().await, 2);
    service.stop().await.unwrap();
}
