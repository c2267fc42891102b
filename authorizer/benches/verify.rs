//! Cost of one token check, and of one authorizer decision
//! (`cargo bench -p astro-authorizer`). Median of 5 rounds of 20,000.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use astro_authorizer::{
    Role, TokenIssuer, TokenSecret, TokenVerifier,
    gateway::{TokenAuthorizerEvent, authorize},
};

const N: usize = 20_000;

/// Median over 5 rounds of `N` calls of `round(i)`, in ns per call.
fn median_ns(mut round: impl FnMut(usize)) -> f64 {
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for i in 0..N {
                round(i);
            }
            start.elapsed().as_nanos() as f64 / N as f64
        })
        .collect();
    rounds.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rounds[2]
}

fn main() {
    let secret = TokenSecret::new(vec![7; 32]).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let issuer = TokenIssuer::new(&secret);
    let (token, _) = issuer.issue("ada@example.com", Role::Admin, now).unwrap();
    // Distinct tokens: each is seen for the first time (the verifier
    // remembers 1,024), so each pays the HMAC and the JSON.
    let tokens: Vec<String> =
        (0..N).map(|i| issuer.issue("ada@example.com", Role::Admin, now - i as i64).unwrap().0).collect();
    let verifier = TokenVerifier::new(&[secret]);
    let first = median_ns(|i| {
        std::hint::black_box(verifier.verify(std::hint::black_box(&tokens[i])).unwrap());
    });
    let again = median_ns(|_| {
        std::hint::black_box(verifier.verify(std::hint::black_box(&token)).unwrap());
    });
    let event = TokenAuthorizerEvent {
        kind: "TOKEN".into(),
        authorization_token: format!("Bearer {token}"),
        method_arn: "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/production/GET/prospects".into(),
    };
    let decide = median_ns(|_| {
        std::hint::black_box(authorize(std::hint::black_box(&event), &verifier).unwrap());
    });
    println!("verify a token first seen: {:>8.2} µs (median of 5 rounds)", first / 1000.0);
    println!("verify a token seen before: {:>7.2} µs (median of 5 rounds)", again / 1000.0);
    println!("one authorizer decision:   {:>8.2} µs (median of 5 rounds; the token seen before)", decide / 1000.0);
}
