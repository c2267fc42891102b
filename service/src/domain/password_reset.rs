//! "Forgot password": a one-time link by email, good for 30 minutes.
//!
//! - The request answers the same, and as fast, for every address: after
//!   the checks every request gets (the sign-in budgets, and one more count
//!   against the client address's), the lookup and the email happen in the
//!   background.
//! - The link's token signs the member's email and a fresh reset id; the
//!   member's record keeps only its SHA-256 and expiry (a new request
//!   replaces them). The outbox's worker makes the link again to send it.
//! - Using it sets the password, clears the link and ends every session in
//!   one write conditioned on the record as read: of two uses, one wins.

use astro_authorizer::{session, unix_now};
use astro_proto::v1::{MemberState, NotificationKind, SecurityEventKind, User};

use super::{
    DomainError, DomainResult, FieldViolation,
    mail::{RESET_LINK, digest, reset_position},
    now,
    security_log::Entry,
    sign_in::{Attempt, Client, SignIn, SignedIn},
    validation::{self, Violations},
};

/// How long a reset link works.
pub const VALID_FOR_SECS: i64 = 30 * 60;
pub const USED: &str = "this link was used already or replaced by a newer one: ask for a new one";
const EXPIRED: &str = "this link has expired (links last 30 minutes): ask for a new one";

/// Whether the member's record still holds `token`'s link at `now`.
pub fn check_link(user: &User, token: &str, now: i64) -> DomainResult<()> {
    if user.password_reset_hash.is_empty() || user.password_reset_hash != digest(token) {
        return Err(DomainError::FailedPrecondition(USED.into()));
    }
    if user.password_reset_expires <= now {
        return Err(DomainError::FailedPrecondition(EXPIRED.into()));
    }
    Ok(())
}

impl SignIn {
    /// Asks for a reset link for `email`: the answer says nothing of
    /// whether the address is a member's.
    pub async fn request_password_reset(&self, email: &str, captcha_token: &str, client: Client) -> DomainResult<()> {
        let mut v = Violations::default();
        let email = validation::email(&mut v, "email", email);
        if captcha_token.len() > crate::captcha::MAX_TOKEN {
            v.add("captcha_token", format!("must be at most {} characters", crate::captcha::MAX_TOKEN));
        }
        if !v.is_empty() {
            return Err(DomainError::Invalid(v.0));
        }
        let attempt = Attempt { email: &email, password: "", captcha_token, client };
        self.guard.admit(&email, &attempt).await?;
        self.guard.count_address(client.address).await?;
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.send_reset(&email, client).await {
                tracing::warn!(error = %e, "could not send a password reset");
            }
        });
        Ok(())
    }

    async fn send_reset(&self, email: &str, client: Client) -> DomainResult<()> {
        let Some(notifier) = self.notifier.as_ref().filter(|n| n.emails_members()) else {
            tracing::warn!(
                "a password reset was asked for, but no email is configured (ASTRO_SMTP_URL, ASTRO_NOTIFY_FROM)"
            );
            return Ok(());
        };
        let Some(user) = self
            .accounts
            .get(email)
            .await?
            .filter(|u| session::state_of(u) == MemberState::Active && !u.password_hash.is_empty())
        else {
            return Ok(());
        };
        let reset_id = uuid::Uuid::new_v4().to_string();
        let token = self.accounts.page_tokens().encode(&reset_position(&user.email, &reset_id));
        let after = User {
            password_reset_hash: digest(&token),
            password_reset_expires: unix_now() + VALID_FOR_SECS,
            ..user.clone()
        };
        self.accounts.save(&user, after).await?;
        let message = notifier
            .member_email(NotificationKind::PasswordReset, &user.email, &reset_id, None, now())
            .ok_or_else(|| DomainError::Internal("members' email turned off".into()))?;
        self.accounts.store().save_notification(&message, 0).await?;
        notifier.wake();
        let entry = Entry { actor: user.email.clone(), ..Self::entry(&user.email, client, "") };
        self.accounts.log().record(SecurityEventKind::PasswordResetRequested, entry).await;
        Ok(())
    }

    /// Sets a new password through a reset link, and signs in (or asks for
    /// the second factor).
    pub async fn reset_password(&self, token: &str, new_password: &str, client: Client) -> DomainResult<SignedIn> {
        let token = token.trim();
        if token.is_empty() {
            return Err(DomainError::Invalid(vec![FieldViolation::new("token", "is required")]));
        }
        let position = self.accounts.page_tokens().decode(token, RESET_LINK).ok_or_else(|| {
            DomainError::Invalid(vec![FieldViolation::new("token", "is not a link of this team: ask for a new one")])
        })?;
        let user = self
            .accounts
            .reset_password_by_link(&position.id, new_password, |u| check_link(u, token, unix_now()))
            .await?;
        match self.second_step(&user).await? {
            Some(step) => Ok(step),
            None => self.signed_in(&user, client, "password reset").await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_holds_until_used_replaced_or_past_its_30_minutes() {
        let issued = 1_800_000_000;
        let user = User {
            password_reset_hash: digest("token-a"),
            password_reset_expires: issued + VALID_FOR_SECS,
            ..User::default()
        };
        assert!(check_link(&user, "token-a", issued).is_ok());
        // The clock moves on: good until the 30th minute, not at it.
        assert!(check_link(&user, "token-a", issued + VALID_FOR_SECS - 1).is_ok());
        let expired = check_link(&user, "token-a", issued + VALID_FOR_SECS).unwrap_err();
        assert!(expired.to_string().contains("expired"), "{expired}");
        // Another link (replaced), or none kept (used).
        assert!(check_link(&user, "token-b", issued).unwrap_err().to_string().contains("used already"));
        let used = User { password_reset_hash: String::new(), ..user };
        assert!(check_link(&used, "token-a", issued).is_err());
    }
}
