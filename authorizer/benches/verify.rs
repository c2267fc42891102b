//! Cost of one token check, and of one authorizer decision
//! (`cargo bench -p astro-authorizer`). Median of 5 rounds of 20,000.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use astro_authorizer::{
    Role, TokenIssuer, TokenSecret, TokenVerifier,
    gateway::{TokenAuthorizerEvent, authorize},
};

fn median_ns(mut round: impl FnMut()) -> f64 {
    const N: u32 = 20_000;
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..N {
                round();
            }
            start.elapsed().as_nanos() as f64 / f64::from(N)
        })
        .collect();
    rounds.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rounds[2]
}

fn main() {
    let secret = TokenSecret::new(vec![7; 32]).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let (token, _) = TokenIssuer::new(&secret).issue("ada@example.com", Role::Admin, now).unwrap();
    let verifier = TokenVerifier::new(&[secret]);
    let verify = median_ns(|| {
        std::hint::black_box(verifier.verify(std::hint::black_box(&token)).unwrap());
    });
    let event = TokenAuthorizerEvent {
        kind: "TOKEN".into(),
        authorization_token: format!("Bearer {token}"),
        method_arn: "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/production/GET/prospects".into(),
    };
    let decide = median_ns(|| {
        std::hint::black_box(authorize(std::hint::black_box(&event), &verifier).unwrap());
    });
    println!("verify one token:        {:>8.2} µs (median of 5 rounds)", verify / 1000.0);
    println!("one authorizer decision: {:>8.2} µs (median of 5 rounds)", decide / 1000.0);
}
