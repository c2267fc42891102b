//! Telling the team of new prospects, without losing one.
//!
//! The outbox: a create writes one `Notification` per configured channel in
//! the same transaction as the prospect, so an acknowledged submission
//! always has its notifications. A worker in every instance looks at the
//! outbox (at once after a local create, else every `ASTRO_NOTIFY_POLL_MS`),
//! claims a due notification with a lease (a conditional write on its
//! version: of two instances, one wins), sends it, and records the outcome:
//! delivered; or due again after an exponential backoff with jitter; or,
//! after the last try, failed — listed for admins, who may retry it. A worker
//! killed mid-send leaves a lease that runs out: another try follows. So
//! delivery is at least once; receivers deduplicate by the event id.

pub mod email;
pub mod webhook;

use std::{sync::Arc, time::Duration};

use astro_proto::v1::{
    Notification, NotificationChannel, NotificationKind, NotificationState, Prospect, ProspectStatus,
};
use tokio::sync::Notify;

use crate::{
    config::NotifyConfig,
    domain::clock::{Clock, after as later, plus as after},
    store::{Store, StoreError, queue_of},
};

/// Delivered notifications leave the table after this.
pub const KEEP_DELIVERED: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);
/// Notifications one look at the outbox takes.
const BATCH: usize = 16;

/// The delay before try `attempt + 1`: the base doubled per try, capped, and
/// jittered down to half so that failed receivers are not hit in waves.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let full = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(MAX_BACKOFF);
    full.mul_f64(0.5 + rand::random::<f64>() / 2.0)
}

/// Secrets of the channels, read by the caller (from the environment or
/// Secrets Manager).
#[derive(Default)]
pub struct ChannelSecrets {
    pub webhook_key: Option<String>,
    pub smtp_password: Option<String>,
}

/// What a try came to.
#[derive(Debug)]
pub enum Delivery {
    Sent,
    /// Nothing to send any more (a reminder for a card already contacted).
    NotNeeded(&'static str),
}

/// Why a send failed, and whether trying again could help.
#[derive(Debug)]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

/// Composes a member's email when it is sent: the links in it are made
/// again then (they are never stored), from the notification's `subject_id`.
#[async_trait::async_trait]
pub trait Letters: Send + Sync {
    async fn compose(&self, n: &Notification) -> Result<email::Letter, SendError>;
}

/// The configured channels and the worker.
pub struct Notifier {
    store: Arc<dyn Store>,
    webhooks: Vec<webhook::Target>,
    signer: Option<webhook::Signer>,
    mailer: Option<email::Mailer>,
    letters: Option<Arc<dyn Letters>>,
    /// How long a claim holds a notification; a send may take a third of it.
    lease: Duration,
    attempts: u32,
    retry: Duration,
    poll: Duration,
    /// Who holds a lease (this instance).
    worker: String,
    /// What "due" means (tests move it).
    clock: Clock,
    wake: Notify,
    http: reqwest::Client,
}

impl Notifier {
    /// Checks the configuration. `secrets`: the webhook key and the SMTP
    /// password, from Secrets Manager when configured so.
    pub fn new(store: Arc<dyn Store>, config: &NotifyConfig, secrets: ChannelSecrets) -> anyhow::Result<Self> {
        let webhooks = config
            .webhook_urls
            .iter()
            .filter(|u| !u.trim().is_empty())
            .map(|u| webhook::Target::parse(u.trim(), config.webhook_allow_private))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let signer = secrets.webhook_key.map(|s| webhook::Signer::new(s.into_bytes())).transpose()?;
        anyhow::ensure!(
            webhooks.is_empty() || signer.is_some(),
            "ASTRO_WEBHOOK_URLS needs a signing key: ASTRO_WEBHOOK_SECRET or ASTRO_WEBHOOK_SECRET_ID"
        );
        let lease = Duration::from_secs(config.notify_lease_secs);
        let recipients: Vec<String> = config.notify_emails.iter().filter(|e| !e.trim().is_empty()).cloned().collect();
        // A server and a sender: members get their emails; recipients are
        // told of new prospects too.
        let mailer = match (&config.smtp_url, &config.notify_from) {
            (Some(url), Some(from)) => {
                let credentials = config.smtp_username.clone().map(|u| (u, secrets.smtp_password.unwrap_or_default()));
                Some(email::Mailer::new(url, credentials, from, &recipients, lease / 3)?)
            }
            (None, None) if recipients.is_empty() => None,
            _ => anyhow::bail!(
                "email needs both ASTRO_SMTP_URL and ASTRO_NOTIFY_FROM (and ASTRO_NOTIFY_EMAILS for new prospects)"
            ),
        };
        Ok(Self {
            store,
            webhooks,
            signer,
            mailer,
            letters: None,
            lease,
            attempts: config.notify_attempts,
            retry: Duration::from_millis(config.notify_retry_ms),
            poll: Duration::from_millis(config.notify_poll_ms),
            worker: uuid::Uuid::now_v7().to_string(),
            clock: Clock::system(),
            wake: Notify::new(),
            http: reqwest::Client::builder().timeout(lease / 3).redirect(reqwest::redirect::Policy::none()).build()?,
        })
    }

    /// No channel: nothing to record or send.
    pub fn disabled(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            webhooks: Vec::new(),
            signer: None,
            mailer: None,
            letters: None,
            lease: Duration::from_secs(30),
            attempts: 1,
            retry: Duration::from_secs(1),
            poll: Duration::from_secs(1),
            worker: uuid::Uuid::now_v7().to_string(),
            clock: Clock::system(),
            wake: Notify::new(),
            http: reqwest::Client::new(),
        }
    }

    /// Decides what is due by `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Composes the members' emails (without it, they are not written).
    pub fn with_letters(mut self, letters: Arc<dyn Letters>) -> Self {
        self.letters = Some(letters);
        self
    }

    pub fn enabled(&self) -> bool {
        !self.webhooks.is_empty() || self.mailer.is_some()
    }

    /// Whether members get their emails (invitations, resets, assignments).
    pub fn emails_members(&self) -> bool {
        self.mailer.is_some() && self.letters.is_some()
    }

    /// A notification of `kind` about `prospect` through `channel`, due now.
    fn pending(
        kind: NotificationKind,
        channel: NotificationChannel,
        target: &str,
        prospect: Option<&Prospect>,
        at: prost_types::Timestamp,
    ) -> Notification {
        Notification {
            id: uuid::Uuid::now_v7().to_string(),
            prospect_id: prospect.map(|p| p.id.clone()).unwrap_or_default(),
            channel: channel as i32,
            target: target.to_owned(),
            state: NotificationState::Pending as i32,
            queue: queue_of(NotificationState::Pending).to_owned(),
            due_at: Some(at),
            prospect: prospect.map(|p| Prospect { events: Vec::new(), ..p.clone() }),
            subject: prospect.map(|p| p.email.clone()).unwrap_or_default(),
            created_at: Some(at),
            version: 1,
            kind: kind as i32,
            ..Default::default()
        }
    }

    /// A member's email to write with what it tells; `None` when members
    /// get no email (no SMTP configured).
    pub fn member_email(
        &self,
        kind: NotificationKind,
        to: &str,
        subject_id: &str,
        prospect: Option<&Prospect>,
        at: prost_types::Timestamp,
    ) -> Option<Notification> {
        self.emails_members().then(|| Notification {
            subject_id: subject_id.to_owned(),
            ..Self::pending(kind, NotificationChannel::Email, to, prospect, at)
        })
    }

    /// The notifications of a new prospect, to write with it: one per
    /// webhook, one email to every recipient, and one to its owner.
    pub fn outbox(&self, prospect: &Prospect, at: prost_types::Timestamp) -> Vec<Notification> {
        let kind = NotificationKind::NewProspect;
        let mut out: Vec<Notification> = self
            .webhooks
            .iter()
            .map(|t| Self::pending(kind, NotificationChannel::Webhook, t.url(), Some(prospect), at))
            .collect();
        if let Some(mailer) = self.mailer.as_ref().filter(|m| m.tells_the_team()) {
            out.push(Self::pending(kind, NotificationChannel::Email, &mailer.target(), Some(prospect), at));
        }
        if !prospect.owner.is_empty() {
            out.extend(self.member_email(
                NotificationKind::Assigned,
                &prospect.owner,
                &prospect.id,
                Some(prospect),
                at,
            ));
        }
        out
    }

    /// The announcement of a HOT prospect, to write with the write that
    /// made it HOT: one per webhook (event type `prospect.hot`), and an
    /// email to its owner — or, without one, to the configured recipients.
    pub fn hot(&self, prospect: &Prospect, at: prost_types::Timestamp) -> Vec<Notification> {
        let kind = NotificationKind::HotProspect;
        let mut out: Vec<Notification> = self
            .webhooks
            .iter()
            .map(|t| Self::pending(kind, NotificationChannel::Webhook, t.url(), Some(prospect), at))
            .collect();
        let to = match &self.mailer {
            Some(_) if !prospect.owner.is_empty() => Some(prospect.owner.clone()),
            Some(mailer) if mailer.tells_the_team() => Some(mailer.target()),
            _ => None,
        };
        out.extend(to.map(|to| Self::pending(kind, NotificationChannel::Email, &to, Some(prospect), at)));
        out
    }

    /// The reminders of a NEW prospect's first-contact deadline, to write
    /// with it, due at the deadline: one per webhook (event type
    /// `prospect.overdue`), and an email whose recipient is decided when it
    /// comes due (the card's owner then, else the configured recipients).
    /// When they come due, a card that has left NEW cancels them.
    pub fn reminders(&self, prospect: &Prospect, due: prost_types::Timestamp) -> Vec<Notification> {
        let kind = NotificationKind::FirstContactReminder;
        let mut out: Vec<Notification> = self
            .webhooks
            .iter()
            .map(|t| Self::pending(kind, NotificationChannel::Webhook, t.url(), Some(prospect), due))
            .collect();
        if self.mailer.is_some() {
            out.push(Self::pending(kind, NotificationChannel::Email, "", Some(prospect), due));
        }
        for n in &mut out {
            n.created_at = prospect.created_at;
        }
        out
    }

    /// A local create committed: look at the outbox now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs the worker until the process ends.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let notifier = self.clone();
        tokio::spawn(async move {
            loop {
                match notifier.work().await {
                    Ok(0) => {
                        tokio::select! {
                            _ = notifier.wake.notified() => {}
                            _ = tokio::time::sleep(notifier.poll) => {}
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read the outbox; retrying");
                        tokio::time::sleep(notifier.poll).await;
                    }
                }
            }
        })
    }

    /// One look at the outbox: claims and sends what is due; returns how
    /// many it handled.
    pub async fn work(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let due = self.store.due_notifications(&now, BATCH).await?;
        let mut handled = 0;
        let mut sends = tokio::task::JoinSet::new();
        for n in due {
            // Held by a worker (maybe one that died: its lease runs out).
            if n.lease_until.as_ref().is_some_and(|until| later(until, &now)) {
                continue;
            }
            let mut claimed = n.clone();
            claimed.attempts += 1;
            claimed.lease_until = Some(after(&now, self.lease));
            claimed.leased_by = self.worker.clone();
            claimed.version = n.version + 1;
            match self.store.save_notification(&claimed, n.version).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_) | StoreError::NotFound) => continue,
                Err(e) => return Err(e),
            }
            handled += 1;
            let send = self.send(&claimed);
            sends.spawn(async move { (claimed, send.await) });
        }
        while let Some(done) = sends.join_next().await {
            let Ok((claimed, outcome)) = done else { continue };
            self.record(claimed, outcome).await;
        }
        Ok(handled)
    }

    fn send(&self, n: &Notification) -> impl Future<Output = Result<Delivery, SendError>> + Send + 'static {
        let (http, signer, mailer) = (self.http.clone(), self.signer.clone(), self.mailer.clone());
        let letters = self.letters.clone();
        let timeout = self.lease / 3;
        let target = self.webhooks.iter().find(|t| t.url() == n.target).cloned();
        let store = self.store.clone();
        let mut n = n.clone();
        async move {
            if n.kind() == NotificationKind::FirstContactReminder {
                // Still waiting? Then about the card as it is now, to its owner now.
                let card = match store.get_prospect(&n.prospect_id, false).await {
                    Ok(Some(card)) if card.status() == ProspectStatus::New && card.first_contacted_at.is_none() => card,
                    Ok(_) => return Ok(Delivery::NotNeeded("the card left NEW before its deadline")),
                    Err(e) => return Err(SendError { message: e.to_string(), permanent: false }),
                };
                if n.channel() == NotificationChannel::Email {
                    n.target = match (&mailer, card.owner.as_str()) {
                        (_, owner) if !owner.is_empty() => owner.to_owned(),
                        (Some(mailer), _) if mailer.tells_the_team() => mailer.target(),
                        _ => return Ok(Delivery::NotNeeded("nobody to remind: no owner and no recipients")),
                    };
                }
                n.prospect = Some(card);
            }
            let sent = Self::deliver(&n, http, signer, mailer, letters, timeout, target).await;
            sent.map(|()| Delivery::Sent)
        }
    }

    async fn deliver(
        n: &Notification,
        http: reqwest::Client,
        signer: Option<webhook::Signer>,
        mailer: Option<email::Mailer>,
        letters: Option<Arc<dyn Letters>>,
        timeout: Duration,
        target: Option<webhook::Target>,
    ) -> Result<(), SendError> {
        let gone = |what: &str| SendError { message: format!("{what} is no longer configured"), permanent: true };
        match NotificationChannel::try_from(n.channel) {
            Ok(NotificationChannel::Webhook) => match (target, signer) {
                (Some(target), Some(signer)) => webhook::send(&http, timeout, &target, &signer, n).await,
                _ => Err(gone("this webhook")),
            },
            Ok(NotificationChannel::Email) => match (mailer, n.kind()) {
                (None, _) => Err(gone("email")),
                (Some(mailer), NotificationKind::Unspecified | NotificationKind::NewProspect) => mailer.send(n).await,
                (Some(mailer), NotificationKind::HotProspect) => mailer.send_hot(n).await,
                (Some(mailer), NotificationKind::FirstContactReminder) => mailer.send_reminder(n).await,
                (Some(mailer), _) => match letters {
                    Some(letters) => mailer.send_letter(n, &letters.compose(n).await?).await,
                    None => Err(gone("members' email")),
                },
            },
            _ => Err(SendError { message: "no channel sends this".into(), permanent: true }),
        }
    }

    /// Records a send's outcome, if the claim still holds.
    async fn record(&self, claimed: Notification, outcome: Result<Delivery, SendError>) {
        let now = self.clock.now();
        let mut next = Notification {
            lease_until: None,
            leased_by: String::new(),
            version: claimed.version + 1,
            ..claimed.clone()
        };
        match &outcome {
            Ok(Delivery::Sent) => {
                next.state = NotificationState::Delivered as i32;
                next.delivered_at = Some(now);
                next.last_error.clear();
                next.expires_at = Some(after(&now, KEEP_DELIVERED));
            }
            Ok(Delivery::NotNeeded(why)) => {
                next.state = NotificationState::Cancelled as i32;
                next.last_error = (*why).to_owned();
                next.expires_at = Some(after(&now, KEEP_DELIVERED));
            }
            Err(e) if e.permanent || claimed.attempts >= self.attempts as i32 => {
                next.state = NotificationState::Failed as i32;
                next.due_at = Some(now);
                next.last_error = e.message.clone();
            }
            Err(e) => {
                next.due_at = Some(after(&now, backoff(self.retry, claimed.attempts as u32)));
                next.last_error = e.message.clone();
            }
        }
        next.queue = queue_of(next.state()).to_owned();
        let state = next.state();
        match self.store.save_notification(&next, claimed.version).await {
            Ok(()) => match outcome {
                Ok(Delivery::Sent) => {
                    tracing::info!(id = %next.id, prospect = %next.prospect_id, attempts = next.attempts, "notification delivered")
                }
                Ok(Delivery::NotNeeded(why)) => {
                    tracing::info!(id = %next.id, prospect = %next.prospect_id, why, "notification not needed")
                }
                Err(e) => tracing::warn!(
                    id = %next.id, attempts = next.attempts, error = %e.message, state = state.as_str_name(),
                    "notification not delivered"
                ),
            },
            Err(e) => {
                tracing::warn!(id = %next.id, error = %e, "could not record a notification's outcome (its lease ran out?)")
            }
        }
    }

    /// Puts a failed notification back in the queue with a fresh set of tries.
    pub async fn retry(&self, id: &str) -> Result<Notification, StoreError> {
        let stored = self.store.get_notification(id).await?.ok_or(StoreError::NotFound)?;
        if stored.state() != NotificationState::Failed {
            return Err(StoreError::Conflict(format!(
                "notification {id} is {}: only a FAILED one can be retried",
                stored.state().as_str_name()
            )));
        }
        let next = Notification {
            state: NotificationState::Pending as i32,
            queue: queue_of(NotificationState::Pending).to_owned(),
            due_at: Some(self.clock.now()),
            attempts: 0,
            version: stored.version + 1,
            ..stored.clone()
        };
        self.store.save_notification(&next, stored.version).await?;
        self.wake();
        Ok(next)
    }
}
