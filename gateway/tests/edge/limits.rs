//! The throttles: API Gateway's 100 req/s with burst 50, the per-address
//! limit on public endpoints, trusted proxies. (The failed-sign-in budgets:
//! `sign_in.rs`.)

use std::time::Instant;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn above_100_per_second_with_burst_50_the_api_answers_429_and_never_5xx() {
    let stack = spawn().await;
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..400 {
        let (http, url) = (stack.http.clone(), stack.at("/captcha"));
        calls.spawn(async move { http.get(url).send().await.unwrap() });
    }
    let (mut ok, mut throttled) = (0, 0);
    while let Some(response) = calls.join_next().await {
        let response = response.unwrap();
        match response.status().as_u16() {
            200 => ok += 1,
            429 => {
                let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=2).contains(&wait), "Retry-After {wait}");
                throttled += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The bucket: 50 at once, then 100 a second.
    let allowed = 50.0 + 100.0 * elapsed;
    assert!(f64::from(ok) <= allowed + 1.0, "{ok} accepted in {elapsed:.2}s (at most {allowed:.0})");
    assert!(ok >= 50, "the burst of 50 must pass: {ok}");
    assert!(throttled > 0, "{ok} accepted, none throttled, in {elapsed:.2}s");
    // Static pages are not the API: never throttled.
    assert_eq!(stack.http.get(stack.at("/docs")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_public_form_is_limited_per_address_behind_trusted_proxies_only() {
    let stack = spawn_with(&["--public-per-ip-per-min", "2", "--trusted-proxies", "127.0.0.1"]).await;
    let from = |client: &'static str, n: usize| {
        let stack = &stack;
        async move {
            let body = submission("Ada", &format!("ada{n}@{}.example.com", client.replace('.', "-")), "");
            stack.http.post(stack.at("/prospects")).header("x-forwarded-for", client).json(&body).send().await.unwrap()
        }
    };
    // Refused for the missing captcha, but counted.
    for n in 0..2 {
        assert_eq!(from("203.0.113.7", n).await.status(), 400);
    }
    let limited = from("203.0.113.7", 3).await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, 429, None).await;
    // Another client behind the same proxy has its own budget.
    assert_eq!(from("198.51.100.4", 0).await.status(), 400);
}

#[tokio::test]
async fn forwarded_addresses_from_an_untrusted_peer_are_ignored() {
    let stack = spawn_with(&["--public-per-ip-per-min", "2"]).await;
    for (n, client) in ["203.0.113.1", "203.0.113.2"].into_iter().enumerate() {
        let body = submission("Ada", &format!("a{n}@example.com"), "");
        let r = stack.http.post(stack.at("/prospects")).header("x-forwarded-for", client).json(&body).send().await;
        assert_eq!(r.unwrap().status(), 400);
    }
    // A third "client" is the same socket address: limited.
    let body = submission("Ada", "a3@example.com", "");
    let r = stack.http.post(stack.at("/prospects")).header("x-forwarded-for", "203.0.113.3").json(&body).send().await;
    assert_problem(r.unwrap(), 429, None).await;
}

#[tokio::test]
async fn malformed_requests_use_up_the_per_address_budget_too() {
    let stack = spawn_with(&["--public-per-ip-per-min", "2"]).await;
    for _ in 0..2 {
        let r = stack.http.post(stack.at("/auth/login")).body("email=admin").send().await.unwrap();
        assert_eq!(r.status(), 415);
    }
    assert_problem(stack.login(ADMIN_EMAIL, ADMIN_PASSWORD).await, 429, None).await;
    // Each public endpoint has its own budget.
    assert_eq!(stack.http.get(stack.at("/captcha/challenge")).send().await.unwrap().status(), 200);
}
