//! Throttles: the API-wide rate (API Gateway's 100 req/s, burst 50) and a
//! rate per client address on public endpoints. Each refusal says how long
//! to wait. (The failed-sign-in budgets are the service's, shared by every
//! transport: `astro_service::domain::sign_in`.)

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    time::Duration,
};

use governor::{
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use http::HeaderMap;
use ipnet::IpNet;

use crate::config::LimitsConfig;

fn non_zero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least one")
}

/// A token bucket over the whole API.
pub struct Throttle {
    limiter: DefaultDirectRateLimiter,
}

impl Throttle {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self { limiter: RateLimiter::direct(Quota::per_second(non_zero(per_second)).allow_burst(non_zero(burst))) }
    }

    /// `Err(wait)` when the request must be refused.
    pub fn check(&self) -> Result<(), Duration> {
        self.limiter.check().map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// A per-minute rate per client address.
pub struct PerClient {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl PerClient {
    pub fn per_minute(n: u32) -> Self {
        Self { limiter: RateLimiter::keyed(Quota::per_minute(non_zero(n))) }
    }

    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.limiter.check_key(&ip).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets addresses whose budget is full again (bounds memory).
    pub fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// All the edge's limits.
pub struct Limits {
    pub api: Throttle,
    /// Per client address: the public form, login, the captcha endpoints.
    pub form: PerClient,
    pub login: PerClient,
    pub captcha: PerClient,
    pub trusted_proxies: Vec<IpNet>,
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            api: Throttle::new(config.throttle_rps, config.throttle_burst),
            form: PerClient::per_minute(config.public_per_ip_per_min),
            login: PerClient::per_minute(config.public_per_ip_per_min),
            captcha: PerClient::per_minute(config.public_per_ip_per_min),
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }

    pub fn sweep(&self) {
        self.form.sweep();
        self.login.sweep();
        self.captcha.sweep();
    }

    /// The client's address: the socket's peer, unless that peer is a
    /// trusted proxy — then the nearest untrusted hop of `X-Forwarded-For`.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        client_ip(peer.ip(), headers, &self.trusted_proxies)
    }
}

fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    // Right to left: each hop was added by the one after it; the first
    // untrusted one is the client as far as we can trust anyone.
    hops.iter().rev().find(|ip| !is_trusted(ip)).or(hops.first()).copied().unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxy: IpNet = "10.0.0.0/8".parse().unwrap();
        let h = forwarded("1.2.3.4, 203.0.113.9, 10.0.0.7");
        // From the proxy: the last untrusted hop, not the spoofable first one.
        assert_eq!(client_ip("10.0.0.5".parse().unwrap(), &h, &[proxy]), "203.0.113.9".parse::<IpAddr>().unwrap());
        // From anyone else: the header is ignored.
        assert_eq!(client_ip("198.51.100.1".parse().unwrap(), &h, &[proxy]), "198.51.100.1".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip("10.0.0.5".parse().unwrap(), &h, &[]), "10.0.0.5".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_throttle_allows_the_burst_then_refuses_with_a_wait() {
        let t = Throttle::new(1, 3);
        for _ in 0..3 {
            t.check().unwrap();
        }
        let wait = t.check().unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
    }
}
