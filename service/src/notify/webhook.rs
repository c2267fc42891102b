//! Webhooks: a JSON POST of the new prospect, signed so the receiver knows
//! it comes from us and is fresh (docs/notifications.md has the scheme and a
//! verification snippet):
//!
//! `Astro-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>`
//! `Astro-Event-Id: <notification id>` (the same on every try).
//!
//! A target must not reach into our own network: every address its name
//! resolves to is checked at each send (and the connection pinned to it),
//! refusing loopback, link-local, private and unique-local addresses unless
//! allowed — and the instance metadata service always.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use astro_proto::v1::{Notification, NotificationKind, Prospect};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::SendError;

/// A configured webhook URL.
#[derive(Debug, Clone)]
pub struct Target {
    url: reqwest::Url,
    allow_private: bool,
}

impl Target {
    pub fn parse(text: &str, allow_private: bool) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(text).map_err(|e| anyhow::anyhow!("ASTRO_WEBHOOK_URLS: {text:?}: {e}"))?;
        anyhow::ensure!(
            matches!(url.scheme(), "https" | "http") && url.host_str().is_some(),
            "ASTRO_WEBHOOK_URLS: {text:?} is not an http(s) URL"
        );
        anyhow::ensure!(
            url.username().is_empty() && url.password().is_none(),
            "ASTRO_WEBHOOK_URLS: no credentials in URLs"
        );
        Ok(Self { url, allow_private })
    }

    pub fn url(&self) -> &str {
        self.url.as_str()
    }
}

/// Why an address may not be a target (`None`: it may).
pub fn refused(ip: IpAddr, allow_private: bool) -> Option<&'static str> {
    const METADATA_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
    const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) if v4 == METADATA_V4 => Some("the instance metadata service"),
        IpAddr::V6(v6) if v6 == METADATA_V6 => Some("the instance metadata service"),
        _ if ip.is_unspecified() || ip.is_multicast() => Some("not a host address"),
        _ if allow_private => None,
        IpAddr::V4(v4) if v4.is_loopback() => Some("a loopback address"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("a link-local address"),
        IpAddr::V4(v4) if v4.is_private() => Some("a private address"),
        // Carrier-grade NAT (100.64.0.0/10) is as internal as the above.
        IpAddr::V4(v4) if v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 => Some("a shared (CGNAT) address"),
        IpAddr::V6(v6) if v6.is_loopback() => Some("a loopback address"),
        IpAddr::V6(v6) if v6.is_unicast_link_local() => Some("a link-local address"),
        IpAddr::V6(v6) if v6.is_unique_local() => Some("a private (unique local) address"),
        _ => None,
    }
}

/// Signs bodies with the webhook key.
#[derive(Clone)]
pub struct Signer(Vec<u8>);

impl Signer {
    pub fn new(key: Vec<u8>) -> anyhow::Result<Self> {
        anyhow::ensure!(key.len() >= 16, "the webhook signing key must be at least 16 bytes");
        Ok(Self(key))
    }

    /// The `Astro-Signature` header value for `body` sent at `t`.
    pub fn header(&self, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }
}

fn rfc3339(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    let ts = ts?;
    let at =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos))
            .ok()?;
    at.format(&time::format_description::well_known::Rfc3339).ok()
}

fn card(p: &Prospect) -> serde_json::Value {
    let source = p.source.clone().unwrap_or_default();
    serde_json::json!({
        "id": p.id,
        "firstName": p.first_name,
        "lastName": p.last_name,
        "email": p.email,
        "phone": p.phone,
        "company": p.company,
        "jobTitle": p.job_title,
        "message": p.message,
        "budget": p.budget().as_str_name(),
        "timeline": p.timeline().as_str_name(),
        "status": p.status().as_str_name(),
        "createdAt": rfc3339(p.created_at.as_ref()),
        "firstContactDue": rfc3339(p.first_contact_due.as_ref()),
        "fit": p.fit.as_ref().map(|f| serde_json::json!({
            "score": f.score,
            "grade": f.grade().as_str_name(),
            "rulesVersion": f.rules_version,
        })),
        "source": {
            "utmSource": source.utm_source,
            "utmMedium": source.utm_medium,
            "utmCampaign": source.utm_campaign,
            "referrer": source.referrer,
        },
    })
}

/// The JSON body of a notification: a new prospect (`prospect.created`), a
/// prospect graded HOT (`prospect.hot`), or one past its first-contact
/// deadline (`prospect.overdue`).
pub fn body(n: &Notification) -> Vec<u8> {
    let kind = match n.kind() {
        NotificationKind::HotProspect => "prospect.hot",
        NotificationKind::FirstContactReminder => "prospect.overdue",
        _ => "prospect.created",
    };
    let event = serde_json::json!({
        "id": n.id,
        "type": kind,
        "createdAt": rfc3339(n.created_at.as_ref()),
        "prospect": n.prospect.as_ref().map(card),
    });
    serde_json::to_vec(&event).unwrap_or_default()
}

/// One try: resolve and check the target, POST the signed body; a 2xx
/// answer is a delivery.
/// `http` serves IP-literal targets; a named one gets a client pinned to the
/// checked address, with the same `timeout`.
pub async fn send(
    http: &reqwest::Client,
    timeout: std::time::Duration,
    target: &Target,
    signer: &Signer,
    n: &Notification,
) -> Result<(), SendError> {
    let host = target.url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = target.url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| SendError { message: format!("resolving {host}: {e}"), permanent: false })?
            .collect(),
    };
    if let Some((addr, why)) = addrs.iter().find_map(|a| refused(a.ip(), target.allow_private).map(|why| (a, why))) {
        return Err(SendError {
            message: format!(
                "refused: {host} resolves to {} ({why}); set ASTRO_WEBHOOK_ALLOW_PRIVATE to allow it",
                addr.ip()
            ),
            permanent: true,
        });
    }
    let Some(addr) = addrs.first().copied() else {
        return Err(SendError { message: format!("{host} resolves to no address"), permanent: false });
    };
    // Connect to the address just checked, not to a second resolution.
    let pinned = match host.parse::<IpAddr>() {
        Ok(_) => http.clone(),
        Err(_) => reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&host, addr)
            .build()
            .map_err(|e| SendError { message: e.to_string(), permanent: false })?,
    };
    let body = body(n);
    let t = time::OffsetDateTime::now_utc().unix_timestamp();
    let answer = pinned
        .post(target.url.clone())
        .header("content-type", "application/json")
        .header("user-agent", "astro-qualif-webhooks/1")
        .header("astro-event-id", &n.id)
        .header("astro-signature", signer.header(t, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| SendError { message: format!("POST {}: {e}", target.url), permanent: false })?;
    match answer.status() {
        s if s.is_success() => Ok(()),
        s => Err(SendError { message: format!("POST {}: HTTP {}", target.url, s.as_u16()), permanent: false }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_unless_allowed_and_the_metadata_service_always() {
        for (ip, allowed) in [
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("172.16.0.1", true),
            ("192.168.1.1", true),
            ("169.254.1.1", true),
            ("100.64.0.1", true),
            ("::1", true),
            ("fe80::1", true),
            ("fd12::1", true),
            ("::ffff:127.0.0.1", true),
            ("169.254.169.254", false),
            ("fd00:ec2::254", false),
            ("::ffff:169.254.169.254", false),
            ("0.0.0.0", false),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(refused(ip, false).is_some(), "{ip} refused by default");
            assert_eq!(refused(ip, true).is_none(), allowed, "{ip} when private targets are allowed");
        }
        for public in ["93.184.216.34", "2606:4700::1111"] {
            assert_eq!(refused(public.parse().unwrap(), false), None, "{public}");
        }
    }

    #[test]
    fn the_signature_covers_the_time_and_the_body() {
        let signer = Signer::new(b"0123456789abcdef".to_vec()).unwrap();
        let header = signer.header(1_700_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert_ne!(header, signer.header(1_700_000_001, b"{\"a\":1}"));
        assert_ne!(header, signer.header(1_700_000_000, b"{\"a\":2}"));
        // RFC 4231-style check of the construction itself.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"0123456789abcdef").unwrap();
        mac.update(b"1700000000.{\"a\":1}");
        assert_eq!(header, format!("t=1700000000,v1={}", hex::encode(mac.finalize().into_bytes())));
        assert!(Signer::new(b"short".to_vec()).is_err());
    }
}
