//! The members' emails, composed when the outbox's worker sends them: an
//! invitation's link, a password reset's link, a prospect now theirs; and
//! a prospect's link to confirm their address (double opt-in).
//!
//! A link is never stored. The worker makes it again from what the
//! notification names (the invitation's id; the member and the reset's id)
//! under each token key in force, and keeps the one whose hash the table
//! holds: a link replaced, used or withdrawn since is not sent.

use std::sync::Arc;

use astro_proto::v1::{InvitationState, Notification, NotificationKind};
use sha2::{Digest, Sha256};

use super::page_token::PagePosition;
use crate::{
    keys::KeyRing,
    notify::{
        Letters, SendError,
        email::{self, Letter},
    },
    store::Store,
};

/// The page-token listing names that sign the links.
pub const INVITATION_LINK: &str = "invitation";
pub const RESET_LINK: &str = "password-reset";

/// Hex SHA-256 of a link's token: what the table keeps.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What an invitation's link signs.
pub fn invitation_position(id: &str) -> PagePosition {
    PagePosition { query: INVITATION_LINK.into(), sort: String::new(), id: id.to_owned() }
}

/// What a password reset's link signs: the member and the reset's id.
pub fn reset_position(email: &str, reset_id: &str) -> PagePosition {
    PagePosition { query: RESET_LINK.into(), sort: reset_id.to_owned(), id: email.to_owned() }
}

pub struct MemberMail {
    store: Arc<dyn Store>,
    keys: KeyRing,
    /// The web app's base URL.
    public_url: String,
}

fn gone(what: &str) -> SendError {
    SendError { message: format!("{what}: not sent"), permanent: true }
}

fn unavailable(e: impl std::fmt::Display) -> SendError {
    SendError { message: format!("reading the table: {e}"), permanent: false }
}

impl MemberMail {
    pub fn new(store: Arc<dyn Store>, keys: KeyRing, public_url: &str) -> Self {
        Self { store, keys, public_url: public_url.trim_end_matches('/').to_owned() }
    }

    /// The token of `position` whose hash is `hash`, under a key in force.
    fn token(&self, position: &PagePosition, hash: &str) -> Option<String> {
        self.keys.page_tokens().encodings(position).into_iter().find(|t| !hash.is_empty() && digest(t) == hash)
    }

    async fn invitation(&self, n: &Notification) -> Result<Letter, SendError> {
        let invitation = self.store.get_invitation(&n.subject_id).await.map_err(unavailable)?;
        let invitation = invitation
            .filter(|i| i.state == InvitationState::Pending as i32)
            .ok_or_else(|| gone("the invitation was withdrawn or used"))?;
        let token = self
            .token(&invitation_position(&invitation.id), &invitation.token_hash)
            .ok_or_else(|| gone("the invitation's link was signed with a key no longer in force"))?;
        let expires = invitation.expires_at.map(|t| date(t.seconds)).unwrap_or_default();
        let text = [
            format!("{} invited you to join the team on Astro Qualif ({}).", invitation.invited_by, invitation.role),
            String::new(),
            "Choose your name and password here:".to_owned(),
            format!("{}/admin/join#{token}", self.public_url),
            String::new(),
            format!("The link works once, until {expires}. If you did not expect it, ignore this email."),
        ]
        .join("\n");
        Ok(Letter { subject: "You are invited to join the team on Astro Qualif".into(), text })
    }

    async fn password_reset(&self, n: &Notification) -> Result<Letter, SendError> {
        let user = self.store.get_user(&n.target).await.map_err(unavailable)?.ok_or_else(|| gone("no such member"))?;
        let token = self
            .token(&reset_position(&user.email, &n.subject_id), &user.password_reset_hash)
            .ok_or_else(|| gone("the reset was used or replaced by a newer one"))?;
        let text = [
            "Someone (you, we hope) asked to set a new password for your Astro Qualif account.".to_owned(),
            String::new(),
            "Set it here; the link works once, for 30 minutes:".to_owned(),
            format!("{}/admin/reset#{token}", self.public_url),
            String::new(),
            "If it was not you, ignore this email: your password stays as it is.".to_owned(),
        ]
        .join("\n");
        Ok(Letter { subject: "Set a new Astro Qualif password".into(), text })
    }

    /// A prospect's link to confirm their address, in their form's language.
    async fn email_confirmation(&self, n: &Notification) -> Result<Letter, SendError> {
        use astro_proto::v1::EmailConfirmation;
        let card = self.store.get_prospect(&n.subject_id, false).await.map_err(unavailable)?;
        let card = card.ok_or_else(|| gone("the card was deleted"))?;
        if card.email_confirmation() != EmailConfirmation::Pending {
            return Err(gone("the address was confirmed already"));
        }
        if card.email != n.target {
            return Err(gone("the card's address changed"));
        }
        let token = self.keys.page_tokens().encode(&super::email_confirmation::position(&card));
        let link = format!("{}/confirm#{token}", self.public_url);
        let name = match email::one_line(&card.first_name) {
            name if name.is_empty() => email::one_line(&card.email),
            name => name,
        };
        let french = card.consent.as_ref().is_some_and(|c| c.language == "fr");
        let (subject, text) = match french {
            true => (
                "Confirmez votre adresse e-mail",
                format!(
                    "Bonjour {name},\n\nMerci pour votre demande. Confirmez votre adresse en ouvrant ce lien \
                     (valable 30 jours) :\n{link}\n\nSi vous n’êtes pas à l’origine de cette demande, ignorez ce \
                     message : rien ne sera fait sans votre confirmation.\n"
                ),
            ),
            false => (
                "Please confirm your email address",
                format!(
                    "Hello {name},\n\nThank you for your request. Please confirm your address by opening this link \
                     (it works for 30 days):\n{link}\n\nIf you did not send this request, ignore this email: \
                     nothing happens without your confirmation.\n"
                ),
            ),
        };
        Ok(Letter { subject: subject.into(), text })
    }

    fn assigned(&self, n: &Notification) -> Letter {
        let card = n.prospect.clone().unwrap_or_default();
        let name = email::card_name(&card);
        let text = format!(
            "A new prospect is yours: {name}.\n\n{}\n\nOpen the board: {}/admin\n",
            email::text(&card, &n.id),
            self.public_url
        );
        Letter { subject: format!("A new prospect for you: {name}"), text }
    }
}

/// The UTC date and time of `seconds`, as the emails show it.
fn date(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC")).ok())
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl Letters for MemberMail {
    async fn compose(&self, n: &Notification) -> Result<Letter, SendError> {
        match n.kind() {
            NotificationKind::Invitation => self.invitation(n).await,
            NotificationKind::PasswordReset => self.password_reset(n).await,
            NotificationKind::Assigned => Ok(self.assigned(n)),
            NotificationKind::EmailConfirmation => self.email_confirmation(n).await,
            other => {
                Err(SendError { message: format!("no member email for {}", other.as_str_name()), permanent: true })
            }
        }
    }
}
