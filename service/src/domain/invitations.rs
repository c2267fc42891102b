//! Invitations: an admin invites someone by email with a role; the person
//! follows a one-time link, sets their name and password, and is signed in.
//!
//! The link's token is the invitation's id signed with a key derived from
//! the token secret (the page tokens' HMAC, under its own listing name), so
//! the token itself is never stored: the invitation keeps only its SHA-256,
//! and an acceptance is a write conditional on the invitation's version (of
//! two uses of one link, one wins). A link is refused once used, revoked or
//! past its 7 days, or when not genuine (tampered, another's, signed with a
//! secret no longer in force).

use std::sync::Arc;

use astro_authorizer::{Claims, Role};
use astro_proto::v1::{Invitation, InvitationState, NotificationKind, SecurityEventKind};

use super::{
    DomainError, DomainResult, FieldViolation,
    auth::Accounts,
    mail::{INVITATION_LINK, digest, invitation_position},
    members::MAX_DISPLAY_NAME,
    now,
    security_log::{Entry, SecurityLog},
    validation::{self, Violations},
};
use crate::{keys::KeyRing, notify::Notifier, store::Store};

/// How long a link is good for.
pub const VALID_FOR_SECS: i64 = 7 * 24 * 3600;
/// How long an invitation stays in the table after it expires.
const KEPT_AFTER_SECS: i64 = 30 * 24 * 3600;

fn invalid(field: &str, description: &str) -> DomainError {
    DomainError::Invalid(vec![FieldViolation::new(field, description)])
}

fn state_of(i: &Invitation) -> InvitationState {
    InvitationState::try_from(i.state).unwrap_or_default()
}

#[derive(Clone)]
pub struct Invitations {
    store: Arc<dyn Store>,
    keys: KeyRing,
    accounts: Accounts,
    log: SecurityLog,
    /// The web app's base URL, for the links.
    public_url: String,
    /// Emails the links, when the service has an SMTP server.
    notifier: Option<Arc<Notifier>>,
}

impl Invitations {
    pub fn new(store: Arc<dyn Store>, keys: KeyRing, accounts: Accounts, public_url: &str) -> Self {
        Self {
            log: SecurityLog::new(store.clone(), keys.clone()),
            store,
            keys,
            accounts,
            public_url: public_url.trim_end_matches('/').to_owned(),
            notifier: None,
        }
    }

    /// Links are emailed through `notifier`'s outbox (when it emails members).
    pub fn with_notifier(self, notifier: Arc<Notifier>) -> Self {
        Self { notifier: Some(notifier), ..self }
    }

    /// A new invitation, and its link unless it was emailed (the only time
    /// the link exists outside an email).
    pub async fn invite(
        &self,
        caller: &Claims,
        email: &str,
        role: i32,
        display_name: &str,
    ) -> DomainResult<(Invitation, Option<String>)> {
        let mut v = Violations::default();
        let email = validation::email(&mut v, "email", email);
        let display_name = validation::text(&mut v, "display_name", display_name, false, MAX_DISPLAY_NAME, false);
        let role = Role::try_from(role).ok().filter(|r| *r != Role::Unspecified);
        if role.is_none() {
            v.add("role", "must be ROLE_ADMIN, ROLE_SALES, ROLE_VIEWER or ROLE_SERVICE");
        }
        if !v.is_empty() {
            return Err(DomainError::Invalid(v.0));
        }
        let joined = self
            .store
            .get_user(&email)
            .await?
            .filter(|u| astro_authorizer::session::state_of(u) != astro_proto::v1::MemberState::Removed);
        if joined.is_some() {
            return Err(DomainError::AlreadyExists(format!("{email} is already a member")));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let token = self.keys.page_tokens().encode(&invitation_position(&id));
        let at = now();
        let expires = at.seconds + VALID_FOR_SECS;
        let invitation = Invitation {
            id,
            email: email.clone(),
            role: role.map(Role::claim).unwrap_or_default().to_owned(),
            display_name,
            invited_by: caller.email.clone(),
            created_at: Some(at),
            expires_at: Some(prost_types::Timestamp { seconds: expires, nanos: 0 }),
            state: InvitationState::Pending as i32,
            token_hash: digest(&token),
            accepted_at: None,
            purge_at: Some(prost_types::Timestamp { seconds: expires + KEPT_AFTER_SECS, nanos: 0 }),
            version: 1,
        };
        self.store.save_invitation(&invitation, 0).await?;
        let email_out = self.notifier.as_ref().and_then(|n| {
            n.member_email(NotificationKind::Invitation, &invitation.email, &invitation.id, None, at).map(|m| (n, m))
        });
        let emailed = email_out.is_some();
        if let Some((notifier, message)) = email_out {
            if let Err(e) = self.store.save_notification(&message, 0).await {
                // Not emailed: the admin gets the link to pass on instead.
                tracing::warn!(error = %e, "could not write the invitation's email to the outbox");
                return self.sent(caller, invitation, Some(token)).await;
            }
            notifier.wake();
        }
        self.sent(caller, invitation, (!emailed).then_some(token)).await
    }

    async fn sent(
        &self,
        caller: &Claims,
        invitation: Invitation,
        token: Option<String>,
    ) -> DomainResult<(Invitation, Option<String>)> {
        let email = invitation.email.clone();
        let entry = Entry {
            actor: caller.email.clone(),
            subject: email,
            detail: format!("role: {}", invitation.role),
            ..Entry::default()
        };
        self.log.record(SecurityEventKind::InvitationSent, entry).await;
        let link = token.map(|token| format!("{}/admin/join#{token}", self.public_url));
        Ok((Invitation { token_hash: String::new(), ..invitation }, link))
    }

    /// The pending invitations, newest first (expired ones included, said by
    /// their `expires_at`).
    pub async fn pending(&self) -> DomainResult<Vec<Invitation>> {
        let mut out: Vec<Invitation> = self
            .store
            .invitations()
            .await?
            .into_iter()
            .filter(|i| state_of(i) == InvitationState::Pending)
            .map(|i| Invitation { token_hash: String::new(), ..i })
            .collect();
        out.reverse();
        Ok(out)
    }

    pub async fn revoke(&self, caller: &Claims, id: &str) -> DomainResult<Invitation> {
        let stored = self
            .store
            .get_invitation(id.trim())
            .await?
            .ok_or_else(|| DomainError::NotFound(format!("invitation {}", id.trim())))?;
        if state_of(&stored) != InvitationState::Pending {
            return Err(DomainError::FailedPrecondition("this invitation is no longer pending".into()));
        }
        let revoked =
            Invitation { state: InvitationState::Revoked as i32, version: stored.version + 1, ..stored.clone() };
        self.store.save_invitation(&revoked, stored.version).await?;
        let entry = Entry { actor: caller.email.clone(), subject: stored.email.clone(), ..Entry::default() };
        self.log.record(SecurityEventKind::InvitationRevoked, entry).await;
        Ok(Invitation { token_hash: String::new(), ..revoked })
    }

    /// Joins through a link: the member is added with the invited role and
    /// signed in.
    pub async fn accept(&self, token: &str, display_name: &str, password: &str) -> DomainResult<(String, Claims)> {
        let token = token.trim();
        let not_genuine = || invalid("token", "is not a link of this team: ask for a new invitation");
        let id = self.keys.page_tokens().decode(token, INVITATION_LINK).ok_or_else(not_genuine)?.id;
        let stored = self.store.get_invitation(&id).await?.ok_or_else(not_genuine)?;
        if stored.token_hash != digest(token) {
            return Err(not_genuine());
        }
        match state_of(&stored) {
            InvitationState::Pending => {}
            InvitationState::Accepted => {
                return Err(DomainError::FailedPrecondition(
                    "this invitation was used already: sign in, or ask for a new one".into(),
                ));
            }
            _ => {
                return Err(DomainError::FailedPrecondition(
                    "this invitation was withdrawn: ask an admin for a new one".into(),
                ));
            }
        }
        if stored.expires_at.is_some_and(|at| at.seconds <= now().seconds) {
            return Err(DomainError::FailedPrecondition(
                "this invitation has expired (links last 7 days): ask an admin for a new one".into(),
            ));
        }
        let mut v = Violations::default();
        let name = match validation::text(&mut v, "display_name", display_name, false, MAX_DISPLAY_NAME, false) {
            name if name.is_empty() => stored.display_name.clone(),
            name => name,
        };
        if !v.is_empty() {
            return Err(DomainError::Invalid(v.0));
        }
        super::auth::check_new_password("password", password)?;
        let role =
            Role::from_claim(&stored.role).ok_or_else(|| DomainError::Internal(format!("role {:?}", stored.role)))?;
        // Used first, so that of two acceptances one wins before any member exists.
        let accepted = Invitation {
            state: InvitationState::Accepted as i32,
            accepted_at: Some(now()),
            version: stored.version + 1,
            ..stored.clone()
        };
        self.store.save_invitation(&accepted, stored.version).await.map_err(|_| {
            DomainError::FailedPrecondition("this invitation was used already: sign in, or ask for a new one".into())
        })?;
        self.accounts.add_user(&stored.email, password, role, &name).await?;
        let entry = Entry { actor: stored.email.clone(), subject: stored.email.clone(), ..Entry::default() };
        self.log.record(SecurityEventKind::InvitationAccepted, entry).await;
        self.accounts.verify_password(&stored.email, password).await
    }
}
