//! Signing in behind one guard, whatever the transport (REST through the
//! edge, gRPC-web through the edge, native gRPC) and whichever instance
//! answers: the failed-sign-in budgets live in the store, per account (the
//! lower-cased email, known or not) and per client address.
//!
//! Past either budget a sign-in needs a solved captcha as well as the right
//! password, instead of being locked out: guessing costs work, and nobody
//! can lock an admin out by failing on purpose. A successful sign-in clears
//! the account's count. Every outcome is logged as a security event.

use std::{
    net::{IpAddr, Ipv4Addr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use astro_authorizer::{Claims, unix_now};
use astro_proto::v1::{SecurityEventKind, SignInFailures, SignInSubjectKind};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use super::{DomainError, DomainResult, auth::Accounts, security_log::Entry};
use crate::{
    captcha::{Captcha, CaptchaError, Prompt},
    config::SignInConfig,
    store::Store,
};

/// The transport a sign-in came by, for the security log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `POST /auth/login` at the edge.
    Rest,
    /// gRPC-web, through the edge or straight to the service.
    GrpcWeb,
    /// Native gRPC.
    Grpc,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Rest => "rest",
            Transport::GrpcWeb => "grpc-web",
            Transport::Grpc => "grpc",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Transport::Rest, Transport::GrpcWeb, Transport::Grpc].into_iter().find(|t| t.as_str() == text)
    }
}

/// Who is signing in, as far as the service can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub address: IpAddr,
    pub transport: Transport,
}

impl Client {
    /// A caller whose address is unknown (an in-process call without one).
    pub const UNKNOWN: Client = Client { address: IpAddr::V4(Ipv4Addr::UNSPECIFIED), transport: Transport::Grpc };
}

/// A sign-in attempt.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub captcha_token: &'a str,
    pub client: Client,
}

/// Why a captcha is asked for, and which one to show.
#[derive(Debug, Clone)]
pub struct CaptchaNeeded {
    /// `Missing` when none was sent; otherwise why the one sent was refused.
    pub problem: CaptchaError,
    pub prompt: Prompt,
}

impl CaptchaNeeded {
    /// The `google.rpc.ErrorInfo` reason.
    pub fn reason(&self) -> &'static str {
        match self.problem {
            CaptchaError::Missing => "CAPTCHA_REQUIRED",
            _ => "CAPTCHA_INVALID",
        }
    }

    pub fn message(&self) -> String {
        match self.problem {
            CaptchaError::Missing => {
                "too many failed sign-ins: solve the captcha and send its token with the password".into()
            }
            ref problem => format!("captcha_token {problem}"),
        }
    }
}

/// The failed-sign-in budgets and the attempt rate per address.
pub struct SignInGuard {
    store: Arc<dyn Store>,
    captcha: Arc<Captcha>,
    per_account: i64,
    per_address: i64,
    window_secs: i64,
    attempts: DefaultKeyedRateLimiter<IpAddr>,
}

fn timestamp(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

impl SignInGuard {
    pub fn new(store: Arc<dyn Store>, captcha: Arc<Captcha>, config: &SignInConfig) -> Self {
        let per_minute = NonZeroU32::new(config.login_attempts_per_ip_per_min.max(1)).expect("at least one");
        Self {
            store,
            captcha,
            per_account: i64::from(config.login_failures_per_account),
            per_address: i64::from(config.login_failures_per_ip),
            window_secs: config.login_failure_window_secs.max(1) as i64,
            attempts: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }

    /// The current window of the account's and the address's budgets.
    fn windows(&self, account: &str, address: IpAddr) -> [SignInFailures; 2] {
        let now = unix_now();
        let start = now - now.rem_euclid(self.window_secs);
        let window = |kind: SignInSubjectKind, subject: String| SignInFailures {
            kind: kind as i32,
            subject,
            window_start: Some(timestamp(start)),
            count: 0,
            expires_at: Some(timestamp(start + self.window_secs)),
        };
        [
            window(SignInSubjectKind::Account, account.to_owned()),
            window(SignInSubjectKind::Address, address.to_string()),
        ]
    }

    /// Before the password is checked: the attempt rate, then the budgets,
    /// and past either budget the captcha.
    async fn admit(&self, account: &str, attempt: &Attempt<'_>) -> DomainResult<()> {
        let client = attempt.client;
        if let Err(not_until) = self.attempts.check_key(&client.address) {
            security_event(account, client, "rate_limited");
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(DomainError::RateLimited("too many sign-in attempts from your address", wait));
        }
        let counts = self.store.sign_in_failures(&self.windows(account, client.address)).await?;
        if counts[0] < self.per_account && counts[1] < self.per_address {
            return Ok(());
        }
        match self.captcha.verify(attempt.captcha_token, client.address, None).await {
            Ok(_) => Ok(()),
            Err(CaptchaError::Unavailable) => Err(DomainError::Unavailable("the captcha could not be checked".into())),
            Err(problem) => {
                let outcome = match problem {
                    CaptchaError::Missing => "captcha_required",
                    _ => "captcha_invalid",
                };
                security_event(account, client, outcome);
                Err(DomainError::CaptchaNeeded(Box::new(CaptchaNeeded { problem, prompt: self.captcha.prompt() })))
            }
        }
    }

    async fn failed(&self, account: &str, client: Client) -> DomainResult<()> {
        security_event(account, client, "failure");
        self.store.add_sign_in_failure(&self.windows(account, client.address)).await?;
        Ok(())
    }

    async fn succeeded(&self, account: &str, client: Client) {
        security_event(account, client, "success");
        let [account_window, _] = self.windows(account, client.address);
        if let Err(e) = self.store.clear_sign_in_failures(&account_window).await {
            tracing::warn!(error = %e, "could not clear the account's failed sign-ins");
        }
    }

    /// Forgets addresses whose attempt budget is full again (bounds memory).
    pub fn sweep(&self) {
        self.attempts.retain_recent();
        self.attempts.shrink_to_fit();
    }
}

/// One line per sign-in outcome, for alarms to count: never the password
/// nor a token.
fn security_event(account: &str, client: Client, outcome: &'static str) {
    tracing::info!(
        target: "astro::security",
        event = "sign_in",
        outcome,
        account,
        client_address = %client.address,
        transport = client.transport.as_str(),
        "sign-in {outcome}"
    );
}

/// Sign-in: the accounts behind the guard.
#[derive(Clone)]
pub struct SignIn {
    accounts: Accounts,
    guard: Arc<SignInGuard>,
}

impl SignIn {
    pub fn new(accounts: Accounts, guard: Arc<SignInGuard>) -> Self {
        Self { accounts, guard }
    }

    /// A token for the right email and password, once the guard admits the
    /// attempt. Invalid input is refused before anything is counted.
    pub async fn login(&self, attempt: Attempt<'_>) -> DomainResult<(String, Claims)> {
        let account = Accounts::sign_in_account(attempt.email, attempt.password)?;
        self.guard.admit(&account, &attempt).await?;
        let entry = || Entry {
            subject: account.clone(),
            client_address: attempt.client.address.to_string(),
            detail: attempt.client.transport.as_str().to_owned(),
            ..Entry::default()
        };
        match self.accounts.verify_password(&account, attempt.password).await {
            Ok(signed_in) => {
                self.guard.succeeded(&account, attempt.client).await;
                self.accounts.log().record(SecurityEventKind::SignedIn, entry()).await;
                Ok(signed_in)
            }
            Err(DomainError::Unauthenticated(message)) => {
                self.guard.failed(&account, attempt.client).await?;
                self.accounts.log().record(SecurityEventKind::SignInFailed, entry()).await;
                Err(DomainError::Unauthenticated(message))
            }
            Err(other) => Err(other),
        }
    }
}

impl SignIn {
    /// Changes the caller's password: the current one is checked as a
    /// sign-in is (the same budgets; a wrong one counts as a failure, and
    /// past the budget the change waits for a sign-in with the captcha).
    pub async fn change_password(
        &self,
        caller: &Claims,
        current: &str,
        new: &str,
        client: Client,
    ) -> DomainResult<(String, Claims)> {
        let invalid = |field: &str, d: &str| DomainError::Invalid(vec![super::FieldViolation::new(field, d)]);
        if current.is_empty() {
            return Err(invalid("current_password", "is required"));
        }
        super::auth::check_new_password("new_password", new)?;
        let account = caller.email.clone();
        let attempt = Attempt { email: &account, password: current, captcha_token: "", client };
        self.guard.admit(&account, &attempt).await.map_err(|e| match e {
            DomainError::CaptchaNeeded(_) => DomainError::FailedPrecondition(
                "too many wrong passwords: sign out, then sign in again before changing it".into(),
            ),
            other => other,
        })?;
        match self.accounts.verify_password(&account, current).await {
            Ok(_) => {}
            Err(DomainError::Unauthenticated(_)) => {
                self.guard.failed(&account, client).await?;
                let entry = Entry {
                    subject: account.clone(),
                    client_address: client.address.to_string(),
                    detail: "change password".into(),
                    ..Entry::default()
                };
                self.accounts.log().record(SecurityEventKind::SignInFailed, entry).await;
                return Err(invalid("current_password", "is not your current password"));
            }
            Err(e) => return Err(e),
        }
        self.accounts.change_password(&account, new).await
    }
}

/// How often [`SignInGuard::sweep`] runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);
