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

use astro_authorizer::{Claims, Role, session, unix_now};
use astro_proto::v1::{MemberState, SecurityEventKind, SignInFailures, SignInSubjectKind, TwoFactorEnrolment, User};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use super::{
    DomainError, DomainResult,
    auth::Accounts,
    members::Members,
    security_log::Entry,
    two_factor::{self, Ticket, TwoFactorKey},
};
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
    pub(crate) async fn admit(&self, account: &str, attempt: &Attempt<'_>) -> DomainResult<()> {
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

    /// Counts one request against the address's budget only (a password
    /// reset asked: it may not be aimed at an account's budget).
    pub(crate) async fn count_address(&self, address: IpAddr) -> DomainResult<()> {
        let [_, address_window] = self.windows("", address);
        self.store.add_sign_in_failure(&[address_window]).await?;
        Ok(())
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

/// Sign-in: the accounts behind the guard, and the second factor.
#[derive(Clone)]
pub struct SignIn {
    pub(crate) accounts: Accounts,
    pub(crate) guard: Arc<SignInGuard>,
    members: Members,
    key: TwoFactorKey,
    /// Emails password resets, when the service has an SMTP server.
    pub(crate) notifier: Option<Arc<crate::notify::Notifier>>,
}

/// What a right password leads to.
#[derive(Debug)]
pub enum SignedIn {
    /// Signed in.
    Token(String, Claims),
    /// A second factor first: the ticket for it.
    SecondStep { ticket: String, expires: i64, enrol: bool, email: String, role: Role },
}

/// Who is enrolling: a sign-in holding a ticket, or a signed-in member.
pub enum Enrolling<'a> {
    Ticket(&'a str),
    Member { caller: &'a Claims, current_password: &'a str },
}

fn invalid(field: &str, description: &str) -> DomainError {
    DomainError::Invalid(vec![super::FieldViolation::new(field, description)])
}

const SIGN_IN_AGAIN: &str = "this sign-in has expired or was ended: sign in again with your password";

impl SignIn {
    pub fn new(accounts: Accounts, guard: Arc<SignInGuard>, members: Members, key: TwoFactorKey) -> Self {
        Self { accounts, guard, members, key, notifier: None }
    }

    /// Password resets are emailed through `notifier`'s outbox.
    pub fn with_notifier(self, notifier: Arc<crate::notify::Notifier>) -> Self {
        Self { notifier: Some(notifier), ..self }
    }

    pub(crate) fn entry(account: &str, client: Client, detail: &str) -> Entry {
        Entry {
            subject: account.to_owned(),
            client_address: client.address.to_string(),
            detail: match detail {
                "" => client.transport.as_str().to_owned(),
                detail => format!("{}, {detail}", client.transport.as_str()),
            },
            ..Entry::default()
        }
    }

    /// A token for the right email and password, once the guard admits the
    /// attempt, or the ticket for a second step. Invalid input is refused
    /// before anything is counted.
    pub async fn login(&self, attempt: Attempt<'_>) -> DomainResult<SignedIn> {
        let account = Accounts::sign_in_account(attempt.email, attempt.password)?;
        self.guard.admit(&account, &attempt).await?;
        match self.accounts.check_password(&account, attempt.password).await {
            Ok(user) => {
                if let Some(step) = self.second_step(&user).await? {
                    // The account's count is cleared only once the second step succeeds.
                    return Ok(step);
                }
                self.signed_in(&user, attempt.client, "").await
            }
            Err(DomainError::Unauthenticated(message)) => {
                self.guard.failed(&account, attempt.client).await?;
                self.accounts
                    .log()
                    .record(SecurityEventKind::SignInFailed, Self::entry(&account, attempt.client, ""))
                    .await;
                Err(DomainError::Unauthenticated(message))
            }
            Err(other) => Err(other),
        }
    }

    pub(crate) async fn signed_in(&self, user: &User, client: Client, detail: &str) -> DomainResult<SignedIn> {
        self.guard.succeeded(&user.email, client).await;
        self.accounts.log().record(SecurityEventKind::SignedIn, Self::entry(&user.email, client, detail)).await;
        let (token, claims) = self.accounts.issue(user)?;
        Ok(SignedIn::Token(token, claims))
    }

    /// What the member needs after the password: a code when they have a
    /// second factor, an enrolment when the team requires one.
    pub(crate) async fn second_step(&self, user: &User) -> DomainResult<Option<SignedIn>> {
        let role = Role::from_claim(&user.role).unwrap_or(Role::Unspecified);
        let enrol = match user.totp_secret_sealed.is_empty() {
            false => false,
            true if role != Role::Service && self.members.settings().await?.require_two_factor => true,
            true => return Ok(None),
        };
        let expires = unix_now() + two_factor::TICKET_SECS;
        let ticket = Ticket { email: user.email.clone(), not_before: user.tokens_not_before, expires, enrol };
        let ticket = ticket.encode(&self.accounts.page_tokens());
        Ok(Some(SignedIn::SecondStep { ticket, expires, enrol, email: user.email.clone(), role }))
    }

    /// The member a ticket stands for, while it does: genuine, not expired,
    /// of the kind asked, and the member's sessions not ended since.
    async fn ticket_holder(&self, token: &str, enrol: bool) -> DomainResult<User> {
        if token.trim().is_empty() {
            return Err(invalid("ticket", "is required"));
        }
        let ticket = Ticket::decode(&self.accounts.page_tokens(), token)
            .filter(|t| t.enrol == enrol)
            .ok_or_else(|| invalid("ticket", "is not a ticket of this sign-in step: sign in again"))?;
        if ticket.expired(unix_now()) {
            return Err(DomainError::FailedPrecondition(SIGN_IN_AGAIN.into()));
        }
        self.accounts
            .get(&ticket.email)
            .await?
            .filter(|u| session::state_of(u) == MemberState::Active && u.tokens_not_before == ticket.not_before)
            .ok_or_else(|| DomainError::FailedPrecondition(SIGN_IN_AGAIN.into()))
    }

    /// Admits one more try of a second factor for `account`: the budgets of
    /// sign-ins; past them the sign-in starts again (with the captcha).
    async fn admit_code(&self, account: &str, client: Client) -> DomainResult<()> {
        let attempt = Attempt { email: account, password: "", captcha_token: "", client };
        self.guard.admit(account, &attempt).await.map_err(|e| match e {
            DomainError::CaptchaNeeded(_) => DomainError::FailedPrecondition(
                "too many wrong codes: sign in again with your password (a captcha will be asked)".into(),
            ),
            other => other,
        })
    }

    async fn wrong_code(&self, account: &str, client: Client, description: &str) -> DomainError {
        if let Err(e) = self.guard.failed(account, client).await {
            return e;
        }
        let entry = Self::entry(account, client, "wrong two-factor code");
        self.accounts.log().record(SecurityEventKind::SignInFailed, entry).await;
        invalid("code", description)
    }

    /// The second step: the ticket and a code of the app or a recovery code.
    pub async fn complete(&self, ticket: &str, code: &str, client: Client) -> DomainResult<SignedIn> {
        let code = code.trim();
        if code.is_empty() {
            return Err(invalid("code", "is required"));
        }
        if code.len() > 64 {
            return Err(invalid("code", "must be at most 64 characters"));
        }
        let user = self.ticket_holder(ticket, false).await?;
        let account = user.email.clone();
        self.admit_code(&account, client).await?;
        let mut after = user.clone();
        let (accepted, detail) = match two_factor::is_app_code(code) {
            true => match two_factor::check(
                &self.key,
                &account,
                &user.totp_secret_sealed,
                code,
                unix_now(),
                user.totp_last_step,
            ) {
                Some(step) => {
                    after.totp_last_step = step;
                    (true, "two-factor")
                }
                None => (false, ""),
            },
            false => (two_factor::use_recovery_code(&self.key, &mut after, code), "recovery code"),
        };
        if !accepted {
            return Err(self
                .wrong_code(
                    &account,
                    client,
                    "is not the code your app shows now (each is good once), nor an unused recovery code",
                )
                .await);
        }
        let saved = self.accounts.save(&user, after).await.map_err(|e| match e {
            DomainError::Conflict(_) => invalid("code", "was used already: wait for the next one"),
            other => other,
        })?;
        if detail == "recovery code" {
            let entry = Entry {
                actor: account.clone(),
                subject: account.clone(),
                detail: format!("{} left", saved.recovery_code_hashes.len()),
                ..Entry::default()
            };
            self.accounts.log().record(SecurityEventKind::RecoveryCodeUsed, entry).await;
        }
        self.signed_in(&saved, client, detail).await
    }

    /// The enrolling member, checked: the ticket, or the signed-in member
    /// with their current password.
    async fn enrolling(&self, who: &Enrolling<'_>, client: Client) -> DomainResult<User> {
        match who {
            Enrolling::Ticket(ticket) => self.ticket_holder(ticket, true).await,
            Enrolling::Member { caller, current_password } => {
                self.confirm_password(caller, current_password, client, "two-factor enrolment").await?;
                self.accounts
                    .get(&caller.email)
                    .await?
                    .ok_or_else(|| DomainError::FailedPrecondition("this identity is not a member".into()))
            }
        }
    }

    /// Begins an enrolment: a new secret, kept sealed as pending.
    pub async fn start_enrolment(&self, who: Enrolling<'_>, client: Client) -> DomainResult<TwoFactorEnrolment> {
        let user = self.enrolling(&who, client).await?;
        if !user.totp_secret_sealed.is_empty() {
            return Err(DomainError::FailedPrecondition(
                "two-factor sign-in is on already: turn it off first to set up another app".into(),
            ));
        }
        let (sealed, shown) = two_factor::begin(&self.key, &user.email).map_err(DomainError::Internal)?;
        let after = User { totp_pending_sealed: sealed, ..user.clone() };
        self.accounts.save(&user, after).await?;
        Ok(shown)
    }

    /// Confirms an enrolment with a code of the new secret: the recovery
    /// codes, and with a ticket the sign-in.
    pub async fn confirm_enrolment(
        &self,
        ticket: Option<&str>,
        caller: Option<&Claims>,
        code: &str,
        client: Client,
    ) -> DomainResult<(Vec<String>, Option<SignedIn>)> {
        let code = code.trim();
        if code.is_empty() {
            return Err(invalid("code", "is required"));
        }
        let user = match (ticket, caller) {
            (Some(ticket), _) => self.ticket_holder(ticket, true).await?,
            (None, Some(caller)) => self
                .accounts
                .get(&caller.email)
                .await?
                .ok_or_else(|| DomainError::FailedPrecondition("this identity is not a member".into()))?,
            (None, None) => return Err(DomainError::Unauthenticated("sign in, or send the sign-in's ticket")),
        };
        if user.totp_pending_sealed.is_empty() {
            return Err(DomainError::FailedPrecondition("no enrolment under way: start one first".into()));
        }
        let account = user.email.clone();
        self.admit_code(&account, client).await?;
        let Some(step) =
            two_factor::check(&self.key, &account, &user.totp_pending_sealed, code, unix_now(), user.totp_last_step)
        else {
            return Err(self.wrong_code(&account, client, "is not the code your app shows for the new secret").await);
        };
        let (codes, hashes) = two_factor::recovery_codes(&self.key, &account);
        let mut after = user.clone();
        after.totp_secret_sealed = std::mem::take(&mut after.totp_pending_sealed);
        after.totp_last_step = step;
        after.recovery_code_hashes = hashes;
        let saved = self.accounts.save(&user, after).await?;
        let entry = Entry { actor: account.clone(), subject: account.clone(), ..Entry::default() };
        self.accounts.log().record(SecurityEventKind::TwoFactorEnabled, entry).await;
        let signed_in = match ticket {
            Some(_) => Some(self.signed_in(&saved, client, "two-factor enrolment").await?),
            None => None,
        };
        Ok((codes, signed_in))
    }

    /// Turns the caller's second factor off, with their password.
    pub async fn disable_two_factor(&self, caller: &Claims, current: &str, client: Client) -> DomainResult<()> {
        if current.is_empty() {
            return Err(invalid("current_password", "is required"));
        }
        if self.members.settings().await?.require_two_factor && caller.role != Role::Service {
            return Err(DomainError::FailedPrecondition(
                "the team requires two-factor sign-in: an admin can reset yours if you lost your app".into(),
            ));
        }
        self.confirm_password(caller, current, client, "turn two-factor off").await?;
        let user = self
            .accounts
            .get(&caller.email)
            .await?
            .ok_or_else(|| DomainError::FailedPrecondition("this identity is not a member".into()))?;
        let mut after = user.clone();
        two_factor::forget(&mut after);
        self.accounts.save(&user, after).await?;
        let entry = Entry {
            actor: caller.email.clone(),
            subject: caller.email.clone(),
            detail: "by the member".into(),
            ..Entry::default()
        };
        self.accounts.log().record(SecurityEventKind::TwoFactorDisabled, entry).await;
        Ok(())
    }

    /// Checks the signed-in member's current password as a sign-in is
    /// checked (the same budgets; a wrong one counts as a failure, and past
    /// the budget the change waits for a sign-in with the captcha).
    async fn confirm_password(&self, caller: &Claims, current: &str, client: Client, what: &str) -> DomainResult<()> {
        if current.is_empty() {
            return Err(invalid("current_password", "is required"));
        }
        let account = caller.email.clone();
        let attempt = Attempt { email: &account, password: current, captcha_token: "", client };
        self.guard.admit(&account, &attempt).await.map_err(|e| match e {
            DomainError::CaptchaNeeded(_) => DomainError::FailedPrecondition(
                "too many wrong passwords: sign out, then sign in again before this change".into(),
            ),
            other => other,
        })?;
        match self.accounts.check_password(&account, current).await {
            Ok(_) => Ok(()),
            Err(DomainError::Unauthenticated(_)) => {
                self.guard.failed(&account, client).await?;
                let entry = Entry {
                    subject: account.clone(),
                    client_address: client.address.to_string(),
                    detail: what.to_owned(),
                    ..Entry::default()
                };
                self.accounts.log().record(SecurityEventKind::SignInFailed, entry).await;
                Err(invalid("current_password", "is not your current password"))
            }
            Err(e) => Err(e),
        }
    }

    /// Changes the caller's password, the current one checked first.
    pub async fn change_password(
        &self,
        caller: &Claims,
        current: &str,
        new: &str,
        client: Client,
    ) -> DomainResult<(String, Claims)> {
        if current.is_empty() {
            return Err(invalid("current_password", "is required"));
        }
        super::auth::check_new_password("new_password", new)?;
        self.confirm_password(caller, current, client, "change password").await?;
        self.accounts.change_password(&caller.email, new).await
    }
}

/// How often [`SignInGuard::sweep`] runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);
