//! The sign-in guard, tried as an attacker would: failed sign-ins count the
//! same whichever way they come (REST and gRPC-web through the edge, native
//! gRPC straight to the service), on both stores and across instances; past
//! a budget the right password needs a solved captcha, never a lockout.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use astro_authorizer::{Role, TokenIssuer, TokenSecret};
use astro_proto::v1::{LoginRequest, LoginResponse, auth_service_client::AuthServiceClient};
use astro_service::captcha::pow::{self, Challenge};
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::*;

/// The ways in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// `POST /auth/login` at the edge.
    Rest,
    /// `AuthService/Login` as gRPC-web through the edge.
    GrpcWeb,
    /// `AuthService/Login` on the service's native port.
    Grpc,
}

const WAYS: [Way; 3] = [Way::Rest, Way::GrpcWeb, Way::Grpc];

/// What a sign-in got back, whatever the way.
#[derive(Debug, Clone)]
enum Answer {
    SignedIn,
    /// A plain refusal: wrong email or password. The message shown.
    Refused(String),
    /// A captcha is needed: the reason (the gRPC ErrorInfo's; REST says it by
    /// naming `captchaToken`), what the field's error says, the challenge.
    Captcha {
        reason: Option<String>,
        detail: String,
        challenge: Challenge,
    },
    /// Anything else: the status or HTTP code, and the message (shown when
    /// an assertion fails).
    Other(#[allow(dead_code)] String),
}

impl Answer {
    fn challenge(&self) -> Challenge {
        match self {
            Answer::Captcha { challenge, .. } => challenge.clone(),
            other => panic!("expected a captcha to solve, got {other:?}"),
        }
    }
}

/// Headers a caller adds on its own (forgeries).
type Extra<'a> = &'a [(&'a str, &'a str)];

fn from_status(status: tonic::Status, way: Way) -> Answer {
    let info = status.get_details_error_info();
    match (status.code(), info) {
        (Code::Unauthenticated, Some(info)) => {
            assert_eq!(info.domain, "astro-qualif");
            let prompt = astro_service::captcha::Prompt::from_metadata(&info.metadata).expect("a captcha prompt");
            assert_eq!(prompt.provider.name(), "pow");
            let violations = status.get_details_bad_request().expect("BadRequest names the field").field_violations;
            assert_eq!(violations[0].field, "captcha_token", "{way:?}");
            Answer::Captcha {
                reason: Some(info.reason),
                detail: violations[0].description.clone(),
                challenge: prompt.challenge.expect("the proof of work comes with a challenge"),
            }
        }
        (Code::Unauthenticated, None) => Answer::Refused(status.message().to_owned()),
        (code, _) => Answer::Other(format!("{code:?}: {}", status.message())),
    }
}

async fn sign_in(stack: &Stack, way: Way, email: &str, password: &str, captcha: &str, extra: Extra<'_>) -> Answer {
    match way {
        Way::Rest => {
            let body = json!({"email": email, "password": password, "captchaToken": captcha});
            let mut request = stack.http.post(stack.at("/auth/login")).json(&body);
            for (name, value) in extra {
                request = request.header(*name, *value);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            match status {
                200 => Answer::SignedIn,
                401 if body["errors"].is_array() => {
                    assert_eq!(body["errors"][0]["field"], "captchaToken", "{body}");
                    assert_eq!(body["captcha"]["provider"], "pow", "{body}");
                    Answer::Captcha {
                        reason: None,
                        detail: body["errors"][0]["detail"].as_str().unwrap().to_owned(),
                        challenge: serde_json::from_value(body["captcha"]["challenge"].clone()).unwrap(),
                    }
                }
                401 => Answer::Refused(body["detail"].as_str().unwrap().to_owned()),
                other => Answer::Other(format!("HTTP {other}: {body}")),
            }
        }
        Way::GrpcWeb => {
            let message =
                LoginRequest { email: email.into(), password: password.into(), captcha_token: captcha.into() };
            match grpc_web::<LoginResponse>(stack, "/astro.v1.AuthService/Login", &message, extra).await {
                Ok(_) => Answer::SignedIn,
                Err(status) => from_status(status, way),
            }
        }
        Way::Grpc => match native_login(stack.grpc, email, password, captcha, extra).await {
            Ok(_) => Answer::SignedIn,
            Err(status) => from_status(status, way),
        },
    }
}

async fn native_login(
    addr: SocketAddr,
    email: &str,
    password: &str,
    captcha: &str,
    extra: Extra<'_>,
) -> Result<LoginResponse, tonic::Status> {
    let mut client = AuthServiceClient::connect(format!("http://{addr}")).await.unwrap();
    let mut request = tonic::Request::new(LoginRequest {
        email: email.into(),
        password: password.into(),
        captcha_token: captcha.into(),
    });
    for (name, value) in extra {
        let name = tonic::metadata::MetadataKey::from_bytes(name.as_bytes()).unwrap();
        request.metadata_mut().insert(name, value.parse().unwrap());
    }
    client.login(request).await.map(|r| r.into_inner())
}

fn solve(challenge: &Challenge) -> String {
    pow::solve(challenge).expect("solvable")
}

/// Generous rates, so only the failure budgets decide.
const ROOMY: [&str; 4] = ["--login-attempts-per-ip-per-min", "1000", "--public-per-ip-per-min", "1000"];

fn flags<'a>(budgets: &[&'a str]) -> Vec<&'a str> {
    ROOMY.iter().copied().chain(budgets.iter().copied()).collect()
}

fn assert_captcha_required(answer: &Answer, what: &str) {
    match answer {
        Answer::Captcha { reason, detail, .. } => {
            assert!(reason.is_none() || reason.as_deref() == Some("CAPTCHA_REQUIRED"), "{what}: {reason:?}");
            assert!(detail.starts_with("is required"), "{what}: {detail}");
        }
        other => panic!("{what}: expected CAPTCHA_REQUIRED, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_count_the_same_over_rest_grpc_web_and_native_grpc_on_both_stores() {
    for backend in BACKENDS {
        let stack =
            spawn_on(backend, &flags(&["--login-failures-per-account", "3", "--login-failures-per-ip", "100"])).await;

        // One failure each way: the budget is one, whichever way the guesses come.
        for way in [Way::GrpcWeb, Way::Grpc, Way::Rest] {
            let answer = sign_in(&stack, way, ADMIN_EMAIL, "guess", "", &[]).await;
            assert!(matches!(answer, Answer::Refused(_)), "{backend:?} {way:?}: {answer:?}");
        }
        // Now the right password alone is refused on every way, with the captcha to solve.
        let mut challenge = None;
        for way in WAYS {
            let answer = sign_in(&stack, way, ADMIN_EMAIL, ADMIN_PASSWORD, "", &[]).await;
            assert_captcha_required(&answer, &format!("{backend:?} {way:?}"));
            challenge = Some(answer.challenge());
        }
        // Solved, it signs in over native gRPC, and clears the account's count.
        let answer = sign_in(&stack, Way::Grpc, ADMIN_EMAIL, ADMIN_PASSWORD, &solve(&challenge.unwrap()), &[]).await;
        assert!(matches!(answer, Answer::SignedIn), "{backend:?}: {answer:?}");
        let answer = sign_in(&stack, Way::Rest, ADMIN_EMAIL, ADMIN_PASSWORD, "", &[]).await;
        assert!(matches!(answer, Answer::SignedIn), "{backend:?}: the count was cleared: {answer:?}");

        // The other way round: guesses over REST lock the door on gRPC-web and native gRPC.
        for _ in 0..3 {
            assert!(matches!(sign_in(&stack, Way::Rest, ADMIN_EMAIL, "guess", "", &[]).await, Answer::Refused(_)));
        }
        for way in [Way::GrpcWeb, Way::Grpc] {
            let answer = sign_in(&stack, way, ADMIN_EMAIL, ADMIN_PASSWORD, "", &[]).await;
            assert_captcha_required(&answer, &format!("{backend:?} {way:?} after REST failures"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_budget_a_solved_proof_of_work_signs_in_once_and_nobody_is_locked_out() {
    for backend in BACKENDS {
        let stack =
            spawn_on(backend, &flags(&["--login-failures-per-account", "2", "--login-failures-per-ip", "100"])).await;
        // Someone who knows the admin's email fails on purpose, many times.
        for i in 0..12 {
            let way = WAYS[i % 3];
            let answer = sign_in(&stack, way, ADMIN_EMAIL, "guess", "", &[]).await;
            assert!(matches!(answer, Answer::Refused(_) | Answer::Captcha { .. }), "{answer:?}");
        }
        for way in WAYS {
            let needed = sign_in(&stack, way, ADMIN_EMAIL, ADMIN_PASSWORD, "", &[]).await;
            assert_captcha_required(&needed, &format!("{backend:?} {way:?}"));
            let solution = solve(&needed.challenge());

            // A solution with a wrong password: refused as any wrong password.
            let wrong = sign_in(&stack, way, ADMIN_EMAIL, "guess", &solution, &[]).await;
            assert!(matches!(wrong, Answer::Refused(_)), "{backend:?} {way:?}: {wrong:?}");
            // The same solution again, now with the right password: already used.
            let replayed = sign_in(&stack, way, ADMIN_EMAIL, ADMIN_PASSWORD, &solution, &[]).await;
            match &replayed {
                Answer::Captcha { reason, detail, .. } => {
                    assert!(reason.is_none() || reason.as_deref() == Some("CAPTCHA_INVALID"), "{reason:?}");
                    assert!(detail.contains("already used"), "{detail}");
                }
                other => panic!("{backend:?} {way:?}: a replayed solution must be refused, got {other:?}"),
            }
            // A fresh solution with the right password: the admin is in.
            let fresh = solve(&replayed.challenge());
            let answer = sign_in(&stack, way, ADMIN_EMAIL, ADMIN_PASSWORD, &fresh, &[]).await;
            assert!(matches!(answer, Answer::SignedIn), "{backend:?} {way:?}: {answer:?}");
            // Past the budget again for the next way.
            for _ in 0..2 {
                sign_in(&stack, Way::Rest, ADMIN_EMAIL, "guess", "", &[]).await;
            }
        }
        // A token that is not a solution at all.
        let garbage = sign_in(&stack, Way::Grpc, ADMIN_EMAIL, ADMIN_PASSWORD, "not-a-solution", &[]).await;
        assert!(matches!(&garbage, Answer::Captcha { reason: Some(r), .. } if r == "CAPTCHA_INVALID"), "{garbage:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_address_budget_every_account_from_it_needs_a_captcha() {
    for backend in BACKENDS {
        let stack =
            spawn_on(backend, &flags(&["--login-failures-per-account", "100", "--login-failures-per-ip", "4"])).await;
        for i in 0..4 {
            let answer = sign_in(&stack, WAYS[i % 3], &format!("user{i}@example.com"), "guess", "", &[]).await;
            assert!(matches!(answer, Answer::Refused(_)), "{answer:?}");
        }
        for way in WAYS {
            let answer = sign_in(&stack, way, ADMIN_EMAIL, ADMIN_PASSWORD, "", &[]).await;
            assert_captcha_required(&answer, &format!("{backend:?} {way:?}"));
        }
        let needed = sign_in(&stack, Way::GrpcWeb, ADMIN_EMAIL, ADMIN_PASSWORD, "", &[]).await;
        let answer = sign_in(&stack, Way::GrpcWeb, ADMIN_EMAIL, ADMIN_PASSWORD, &solve(&needed.challenge()), &[]).await;
        assert!(matches!(answer, Answer::SignedIn), "{answer:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_service_instances_on_one_table_share_the_budgets_and_the_spent_solutions() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = dynamodb_store().await;
    let mut instances = Vec::new();
    for _ in 0..2 {
        let config =
            config(dir.path(), &flags(&["--login-failures-per-account", "2", "--login-failures-per-ip", "100"]));
        instances.push(astro_service::start_with_store(config.service, store.clone()).await.unwrap());
    }
    let (a, b) = (instances[0].addr, instances[1].addr);
    for _ in 0..2 {
        let refused = native_login(a, ADMIN_EMAIL, "guess", "", &[]).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
    }
    // The other instance sees the same budget.
    let needed = from_status(native_login(b, ADMIN_EMAIL, ADMIN_PASSWORD, "", &[]).await.unwrap_err(), Way::Grpc);
    assert_captcha_required(&needed, "instance B");
    let spent = solve(&needed.challenge());
    native_login(b, ADMIN_EMAIL, ADMIN_PASSWORD, &spent, &[]).await.expect("B signs in with a solution");
    // B's success cleared the count for A too.
    native_login(a, ADMIN_EMAIL, ADMIN_PASSWORD, "", &[]).await.expect("A signs in without a captcha");
    // A solution spent on B is spent on A too (A's own memory never saw it).
    for _ in 0..2 {
        native_login(a, ADMIN_EMAIL, "guess", "", &[]).await.unwrap_err();
    }
    let replayed = from_status(native_login(a, ADMIN_EMAIL, ADMIN_PASSWORD, &spent, &[]).await.unwrap_err(), Way::Grpc);
    match &replayed {
        Answer::Captcha { reason: Some(reason), detail, .. } => {
            assert_eq!(reason, "CAPTCHA_INVALID");
            assert!(detail.contains("already used"), "{detail}");
        }
        other => panic!("a solution spent on B must be refused on A: {other:?}"),
    }
    for instance in instances {
        instance.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_client_address_from_anyone_but_the_edge_changes_no_budget() {
    let stack = spawn_on(
        Backend::Embedded,
        &flags(&[
            "--login-failures-per-account",
            "100",
            "--login-failures-per-ip",
            "3",
            "--trusted-proxies",
            "127.0.0.1",
        ]),
    )
    .await;
    let victim = "203.0.113.9";
    let foreign = TokenIssuer::new(&TokenSecret::new(vec![9; 32]).unwrap())
        .issue("edge@gateway.astro-qualif", Role::Service, now())
        .unwrap()
        .0;
    // An internal caller with a real service token is not the edge either.
    let internal = token("crm@example.com", Role::Service);
    for (i, identity) in [foreign.as_str(), internal.as_str(), "garbage"].into_iter().enumerate() {
        let forged: Extra = &[
            ("x-astro-client-address", victim),
            ("x-astro-client-transport", "rest"),
            ("x-astro-edge-identity", identity),
        ];
        let answer = sign_in(&stack, Way::Grpc, &format!("user{i}@example.com"), "guess", "", forged).await;
        assert!(matches!(answer, Answer::Refused(_)), "{answer:?}");
    }
    // Through the edge, sending the edge's headers does nothing either:
    // they are dropped, and these count for the forwarded client.
    let other = "198.51.100.7";
    for i in 0..3 {
        let forged: Extra = &[("x-forwarded-for", other), ("x-astro-client-address", victim)];
        let way = [Way::GrpcWeb, Way::Rest][i % 2];
        let answer = sign_in(&stack, way, &format!("other{i}@example.com"), "guess", "", forged).await;
        assert!(matches!(answer, Answer::Refused(_)), "{answer:?}");
    }

    // The victim's budget is untouched: it signs in with the password alone.
    let from_victim: Extra = &[("x-forwarded-for", victim)];
    let answer = sign_in(&stack, Way::Rest, ADMIN_EMAIL, ADMIN_PASSWORD, "", from_victim).await;
    assert!(matches!(answer, Answer::SignedIn), "{answer:?}");
    // The forged native failures counted against the caller's real address…
    let answer = sign_in(&stack, Way::Grpc, ADMIN_EMAIL, ADMIN_PASSWORD, "", &[]).await;
    assert_captcha_required(&answer, "the forger's own address");
    // …and those through the edge against the address the edge saw.
    let answer = sign_in(&stack, Way::GrpcWeb, ADMIN_EMAIL, ADMIN_PASSWORD, "", &[("x-forwarded-for", other)]).await;
    assert_captcha_required(&answer, "the forwarded client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_known_emails_get_the_same_answers_and_take_the_same_time() {
    let stack =
        spawn_on(Backend::Embedded, &flags(&["--login-failures-per-account", "3", "--login-failures-per-ip", "100"]))
            .await;
    let unknown = "nobody@example.com";
    for way in WAYS {
        let (known, stranger) = (
            sign_in(&stack, way, ADMIN_EMAIL, "guess", "", &[]).await,
            sign_in(&stack, way, unknown, "guess", "", &[]).await,
        );
        match (&known, &stranger) {
            (Answer::Refused(a), Answer::Refused(b)) => assert_eq!(a, b, "{way:?}"),
            other => panic!("{way:?}: {other:?}"),
        }
    }
    // Both accounts are past their budget now, and get the same answer.
    for way in WAYS {
        let known = sign_in(&stack, way, ADMIN_EMAIL, "guess", "", &[]).await;
        let stranger = sign_in(&stack, way, unknown, "guess", "", &[]).await;
        assert_captcha_required(&known, "known");
        assert_captcha_required(&stranger, "unknown");
    }

    // The same bcrypt work either way: the medians of a few tries agree.
    let stack = spawn_on(Backend::Embedded, &flags(&["--login-failures-per-account", "100"])).await;
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..5 {
        for (i, email) in [ADMIN_EMAIL, unknown].into_iter().enumerate() {
            let started = Instant::now();
            assert!(matches!(sign_in(&stack, Way::Grpc, email, "guess", "", &[]).await, Answer::Refused(_)));
            times[i].push(started.elapsed());
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (known, stranger) = (median(&mut times[0]), median(&mut times[1]));
    let ratio = known / stranger;
    assert!((0.5..2.0).contains(&ratio), "known {known:.4}s vs unknown {stranger:.4}s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_attempts_per_address_are_limited_on_every_transport() {
    let stack =
        spawn_on(Backend::Embedded, &["--login-attempts-per-ip-per-min", "3", "--public-per-ip-per-min", "1000"]).await;
    for way in WAYS {
        let answer = sign_in(&stack, way, ADMIN_EMAIL, "guess", "", &[]).await;
        assert!(matches!(answer, Answer::Refused(_)), "{answer:?}");
    }
    let refused = native_login(stack.grpc, ADMIN_EMAIL, ADMIN_PASSWORD, "", &[]).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let wait = refused.get_details_retry_info().and_then(|r| r.retry_delay).expect("RetryInfo says how long");
    assert!(wait > Duration::ZERO && wait <= Duration::from_secs(60), "{wait:?}");
    let rest = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(rest.headers().contains_key("retry-after"));
    assert_problem(rest, 429, None).await;
}
