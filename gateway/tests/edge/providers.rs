//! Each third-party captcha against a local server answering its siteverify
//! form POST in that provider's exact format (Google, hCaptcha and
//! Cloudflare cannot be reached from tests). The token picks the answer.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Form, Json, Router, extract::State, routing::post};
use serde_json::{Value, json};

use crate::helpers::*;

const SECRET: &str = "provider-secret-0x4AAAAA";

#[derive(Clone, Copy, PartialEq)]
pub enum Provider {
    RecaptchaV3,
    RecaptchaV2,
    Hcaptcha,
    Turnstile,
}

impl Provider {
    fn flag(self) -> &'static str {
        match self {
            Provider::RecaptchaV3 => "recaptcha-v3",
            Provider::RecaptchaV2 => "recaptcha-v2",
            Provider::Hcaptcha => "hcaptcha",
            Provider::Turnstile => "turnstile",
        }
    }

    /// The provider's answer for an accepted token solved on `hostname`.
    fn success(self, hostname: &str, score: f64) -> Value {
        match self {
            Provider::RecaptchaV3 => json!({
                "success": true, "score": score, "action": "submit_prospect",
                "challenge_ts": "2026-11-24T18:00:00Z", "hostname": hostname
            }),
            Provider::RecaptchaV2 => {
                json!({"success": true, "challenge_ts": "2026-11-24T18:00:00Z", "hostname": hostname})
            }
            Provider::Hcaptcha => {
                json!({"success": true, "challenge_ts": "2026-11-24T18:00:00Z", "hostname": hostname, "credit": false})
            }
            Provider::Turnstile => json!({
                "success": true, "challenge_ts": "2026-11-24T18:00:00.000Z", "hostname": hostname,
                "error-codes": [], "action": "submit_prospect", "cdata": "", "metadata": {"ephemeral_id": "x:0a1b2c"}
            }),
        }
    }

    fn failure(self) -> Value {
        match self {
            Provider::Turnstile => json!({"success": false, "error-codes": ["invalid-input-response"], "messages": []}),
            _ => json!({"success": false, "error-codes": ["invalid-input-response"]}),
        }
    }
}

pub type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// Starts the fake siteverify; returns its URL and the forms it received.
pub async fn fake_siteverify(provider: Provider) -> (String, Seen) {
    async fn answer(
        State((provider, seen)): State<(Provider, Seen)>,
        Form(form): Form<Vec<(String, String)>>,
    ) -> Json<Value> {
        let token = form.iter().find(|(k, _)| k == "response").map(|(_, v)| v.clone()).unwrap_or_default();
        seen.lock().unwrap().push(form);
        Json(match token.as_str() {
            "human" => provider.success("localhost", 0.9),
            "bot" => provider.success("localhost", 0.1),
            "elsewhere" => provider.success("phishing.example", 0.9),
            "slow" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                provider.success("localhost", 0.9)
            }
            _ => provider.failure(),
        })
    }
    let seen: Seen = Arc::default();
    let app = Router::new().route("/siteverify", post(answer)).with_state((provider, seen.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/siteverify"), seen)
}

async fn check_provider(provider: Provider) {
    let (url, seen) = fake_siteverify(provider).await;
    let stack = spawn_with(&[
        "--captcha",
        provider.flag(),
        "--captcha-secret",
        SECRET,
        "--captcha-site-key",
        "site-key-123",
        "--captcha-verify-url",
        &url,
        "--captcha-timeout-ms",
        "500",
    ])
    .await;

    let settings: Value = stack.http.get(stack.at("/captcha")).send().await.unwrap().json().await.unwrap();
    assert_eq!(settings["provider"], provider.flag());
    assert_eq!(settings["siteKey"], "site-key-123");
    assert_problem(stack.http.get(stack.at("/captcha/challenge")).send().await.unwrap(), 404, None).await;

    let accepted = stack.submit(&submission("Ada", "ada@example.com", "human"), None).await;
    assert_eq!(accepted.status(), 201, "{}: {:?}", provider.flag(), accepted.text().await);
    {
        let forms = seen.lock().unwrap();
        let form = forms.last().unwrap();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(field("secret"), Some(SECRET));
        assert_eq!(field("response"), Some("human"));
        assert_eq!(field("remoteip"), Some("127.0.0.1"));
        if provider == Provider::Hcaptcha {
            assert_eq!(field("sitekey"), Some("site-key-123"));
        }
    }

    let refused = stack.submit(&submission("Bot", "bot@example.com", "forged"), None).await;
    let body = assert_problem(refused, 400, Some("captchaToken")).await;
    assert!(body["detail"].as_str().unwrap().contains("invalid-input-response"), "{body}");

    let elsewhere = stack.submit(&submission("Bot", "bot@example.com", "elsewhere"), None).await;
    let body = assert_problem(elsewhere, 400, Some("captchaToken")).await;
    assert!(body["detail"].as_str().unwrap().contains("phishing.example"), "{body}");

    let low = stack.submit(&submission("Bot", "bot@example.com", "bot"), None).await;
    if provider == Provider::RecaptchaV3 {
        assert_problem(low, 400, Some("captchaToken")).await;
    } else {
        // Only v3 scores; the others said yes.
        assert_eq!(low.status(), 201);
    }

    // The provider does not answer in time: refused, never waved through.
    let slow = stack.submit(&submission("Bot", "slow@example.com", "slow"), None).await;
    assert_problem(slow, 503, None).await;

    // The seed's separate check reports the verdict, and uses the token up.
    let verdict = stack.verify_captcha("human").await;
    assert_eq!(verdict["success"], false, "the token was used by the first submission: {verdict}");
    let expected = if provider == Provider::RecaptchaV3 { 1 } else { 2 };
    assert_eq!(stack.stored().await, expected);
}

#[tokio::test]
async fn recaptcha_v3_checks_success_hostname_score_and_action() {
    check_provider(Provider::RecaptchaV3).await;
}

#[tokio::test]
async fn recaptcha_v2_checks_success_and_hostname() {
    check_provider(Provider::RecaptchaV2).await;
}

#[tokio::test]
async fn hcaptcha_checks_success_and_hostname_and_sends_the_site_key() {
    check_provider(Provider::Hcaptcha).await;
}

#[tokio::test]
async fn turnstile_checks_success_and_hostname() {
    check_provider(Provider::Turnstile).await;
}

#[tokio::test]
async fn a_provider_without_a_secret_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &["--captcha", "turnstile", "--captcha-secret", ""]);
    let error = astro_gateway::start(config).await.err().expect("no secret, no start");
    assert!(error.to_string().contains("ASTRO_CAPTCHA_SECRET"), "{error}");
}

#[tokio::test]
async fn no_captcha_is_refused_anywhere_but_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &["--captcha", "off", "--http-addr", "0.0.0.0:0"]);
    let error = astro_gateway::start(config).await.err().expect("refused");
    assert!(error.to_string().contains("development only"), "{error}");

    let stack = spawn_with(&["--captcha", "off"]).await;
    let accepted = stack.submit(&submission("Dev", "dev@example.com", ""), None).await;
    assert_eq!(accepted.status(), 201);
}
