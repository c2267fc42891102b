//! Third-party captchas, checked through their `siteverify` endpoint: a form
//! POST of `secret`, `response` (the token) and `remoteip`, answered with
//! JSON `{success, hostname, error-codes, …}` (reCAPTCHA v3 adds `score` and
//! `action`; Turnstile adds `action`). Anything but a clear yes — a timeout,
//! an error, an answer we cannot read — refuses the submission.

use std::{net::IpAddr, time::Duration};

use serde::Deserialize;

use super::{CaptchaError, Verdict};
use crate::config::{CaptchaConfig, CaptchaProvider};

pub fn default_url(provider: CaptchaProvider) -> Option<&'static str> {
    match provider {
        CaptchaProvider::RecaptchaV3 | CaptchaProvider::RecaptchaV2 => {
            Some("https://www.google.com/recaptcha/api/siteverify")
        }
        CaptchaProvider::Hcaptcha => Some("https://api.hcaptcha.com/siteverify"),
        CaptchaProvider::Turnstile => Some("https://challenges.cloudflare.com/turnstile/v0/siteverify"),
        CaptchaProvider::Pow | CaptchaProvider::Off => None,
    }
}

#[derive(Debug, Deserialize)]
struct Answer {
    success: bool,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default, rename = "error-codes")]
    error_codes: Vec<String>,
}

pub struct SiteVerify {
    provider: CaptchaProvider,
    url: String,
    secret: String,
    site_key: Option<String>,
    client: reqwest::Client,
    min_score: f64,
    action: String,
    hostnames: Vec<String>,
}

impl SiteVerify {
    pub fn new(config: &CaptchaConfig, secret: String) -> anyhow::Result<Self> {
        let provider = config.provider;
        let url = match &config.captcha_verify_url {
            Some(url) => url.clone(),
            None => default_url(provider).expect("a siteverify provider").to_owned(),
        };
        let timeout = Duration::from_millis(config.captcha_timeout_ms);
        let client = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).build()?;
        Ok(Self {
            provider,
            url,
            secret,
            site_key: config.captcha_site_key.clone(),
            client,
            min_score: config.captcha_min_score,
            action: config.captcha_action.clone(),
            hostnames: config.captcha_hostnames.iter().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty()).collect(),
        })
    }

    pub async fn verify(&self, token: &str, ip: IpAddr) -> Result<Verdict, CaptchaError> {
        let remote_ip = ip.to_string();
        let mut form = vec![("secret", self.secret.as_str()), ("response", token), ("remoteip", remote_ip.as_str())];
        if let (CaptchaProvider::Hcaptcha, Some(key)) = (self.provider, &self.site_key) {
            form.push(("sitekey", key));
        }
        let unavailable = |e: &dyn std::fmt::Display| {
            tracing::warn!(provider = self.provider.name(), error = %e, "captcha provider unavailable: refusing");
            CaptchaError::Unavailable
        };
        let response = self.client.post(&self.url).form(&form).send().await.map_err(|e| unavailable(&e))?;
        if !response.status().is_success() {
            return Err(unavailable(&format!("HTTP {}", response.status())));
        }
        let body = response.bytes().await.map_err(|e| unavailable(&e))?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| unavailable(&e))?;
        self.judge(answer)
    }

    fn judge(&self, answer: Answer) -> Result<Verdict, CaptchaError> {
        let refuse = |why: String| Err(CaptchaError::Invalid(why));
        if !answer.success {
            let codes = match answer.error_codes.is_empty() {
                true => "no reason given".to_owned(),
                false => answer.error_codes.join(", "),
            };
            return refuse(format!("was refused by the captcha provider ({codes})"));
        }
        if !self.hostnames.is_empty() && !answer.hostname.as_ref().is_some_and(|h| self.hostnames.contains(h)) {
            return refuse(format!(
                "was solved on another site ({})",
                answer.hostname.as_deref().unwrap_or("no hostname reported")
            ));
        }
        let action_differs = |action: &Option<String>| {
            !self.action.is_empty() && action.as_deref().is_some_and(|a| !a.is_empty() && a != self.action)
        };
        match self.provider {
            CaptchaProvider::RecaptchaV3 => {
                let Some(score) = answer.score else { return refuse("has no score (is this a v3 key?)".into()) };
                if score < self.min_score {
                    return refuse(format!("scored {score:.1}, below {:.1}", self.min_score));
                }
                if answer.action.as_deref() != Some(self.action.as_str()) {
                    return refuse(format!(
                        "was made for action {:?}, not {:?}",
                        answer.action.as_deref().unwrap_or(""),
                        self.action
                    ));
                }
            }
            CaptchaProvider::Turnstile if action_differs(&answer.action) => {
                return refuse(format!("was made for action {:?}", answer.action.as_deref().unwrap_or("")));
            }
            _ => {}
        }
        Ok(Verdict { score: answer.score, hostname: answer.hostname })
    }
}
