//! Email: plain-text messages over SMTP (`lettre`) — a local relay, or
//! SES's SMTP interface on AWS: a new prospect to the configured recipients,
//! and the members' own emails (an assignment, an invitation, a password
//! reset) to one address each. The `Message-ID` is made from the event id,
//! so a repeated try is the same message to mail clients that deduplicate.

use astro_proto::v1::{Notification, Prospect};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
    transport::smtp::authentication::Credentials,
};

use super::SendError;

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Told of every new prospect; may be empty (members' emails only).
    to: Vec<Mailbox>,
}

/// A member's email, composed when it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub subject: String,
    pub text: String,
}

impl Mailer {
    pub fn new(
        url: &str,
        credentials: Option<(String, String)>,
        from: &str,
        to: &[String],
        timeout: std::time::Duration,
    ) -> anyhow::Result<Self> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("ASTRO_SMTP_URL {url:?}: {e}"))?
            .timeout(Some(timeout));
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        let from: Mailbox = from.parse().map_err(|e| anyhow::anyhow!("ASTRO_NOTIFY_FROM {from:?}: {e}"))?;
        let to = to
            .iter()
            .map(|a| a.trim().parse::<Mailbox>().map_err(|e| anyhow::anyhow!("ASTRO_NOTIFY_EMAILS {a:?}: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { transport: builder.build(), from, to })
    }

    /// Whether new prospects are emailed (to the configured recipients).
    pub fn tells_the_team(&self) -> bool {
        !self.to.is_empty()
    }

    /// The recipients, as the notification's target.
    pub fn target(&self) -> String {
        self.to.iter().map(|m| m.email.to_string()).collect::<Vec<_>>().join(",")
    }

    /// A new prospect, to the configured recipients.
    pub async fn send(&self, n: &Notification) -> Result<(), SendError> {
        let card = n.prospect.clone().unwrap_or_default();
        let letter = Letter { subject: subject(&card), text: text(&card, &n.id) };
        self.deliver(&self.to, &letter, &n.id).await
    }

    /// A HOT prospect, to the notification's addresses (its owner, or the
    /// configured recipients).
    pub async fn send_hot(&self, n: &Notification) -> Result<(), SendError> {
        let card = n.prospect.clone().unwrap_or_default();
        let score = card.fit.as_ref().map_or(0, |f| f.score);
        let name = card_name(&card);
        let letter = Letter {
            subject: format!("Hot prospect ({score} points): {name}"),
            text: format!("This prospect scores {score} points: contact them first.\n\n{}", text(&card, &n.id)),
        };
        self.send_to_target(n, &letter).await
    }

    /// A NEW prospect past its first-contact deadline, to its owner (or the
    /// configured recipients).
    pub async fn send_reminder(&self, n: &Notification) -> Result<(), SendError> {
        let card = n.prospect.clone().unwrap_or_default();
        let name = card_name(&card);
        let letter = Letter {
            subject: format!("Waiting for a first contact: {name}"),
            text: format!(
                "This prospect is past its first-contact deadline and still in New: contact them now.\n\n{}",
                text(&card, &n.id)
            ),
        };
        self.send_to_target(n, &letter).await
    }

    /// `letter` to the notification's addresses (comma-separated).
    async fn send_to_target(&self, n: &Notification, letter: &Letter) -> Result<(), SendError> {
        let to = n
            .target
            .split(',')
            .map(|a| a.trim().parse::<Mailbox>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SendError { message: format!("recipient {:?}: {e}", n.target), permanent: true })?;
        self.deliver(&to, letter, &n.id).await
    }

    /// A member's email, to the notification's one address.
    pub async fn send_letter(&self, n: &Notification, letter: &Letter) -> Result<(), SendError> {
        let to: Mailbox = n
            .target
            .parse()
            .map_err(|e| SendError { message: format!("recipient {:?}: {e}", n.target), permanent: true })?;
        self.deliver(&[to], letter, &n.id).await
    }

    async fn deliver(&self, to: &[Mailbox], letter: &Letter, id: &str) -> Result<(), SendError> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .message_id(Some(format!("<{id}@astro-qualif>")))
            .subject(one_line(&letter.subject));
        for to in to {
            message = message.to(to.clone());
        }
        let message = message
            .header(ContentType::TEXT_PLAIN)
            .body(letter.text.clone())
            .map_err(|e| SendError { message: format!("building the email: {e}"), permanent: true })?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| SendError {
            message: format!("SMTP: {e}"),
            // A permanent SMTP refusal (5xx) will not change on a retry.
            permanent: e.is_permanent(),
        })
    }
}

/// One line: no line breaks from user data reach a header.
pub fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_owned()
}

/// How emails name a card: its names, else (a form that did not ask them)
/// its address.
pub fn card_name(p: &Prospect) -> String {
    match one_line(&format!("{} {}", p.first_name, p.last_name)) {
        name if name.is_empty() => one_line(&p.email),
        name => name,
    }
}

fn subject(p: &Prospect) -> String {
    let name = card_name(p);
    match p.company.is_empty() {
        true => format!("New prospect: {name}"),
        false => format!("New prospect: {name} ({})", one_line(&p.company)),
    }
}

/// A prospect's details, as the emails about it list them.
pub fn text(p: &Prospect, event_id: &str) -> String {
    let source = p.source.clone().unwrap_or_default();
    let mut lines =
        vec![format!("{} wants to hear from us.", card_name(p)), String::new(), format!("Email:     {}", p.email)];
    for (label, value) in [
        ("Phone:    ", p.phone.as_str()),
        ("Company:  ", p.company.as_str()),
        ("Job title:", p.job_title.as_str()),
        ("UTM source:", source.utm_source.as_str()),
    ] {
        if !value.is_empty() {
            lines.push(format!("{label} {value}"));
        }
    }
    lines.push(format!("Budget:    {}", p.budget().as_str_name()));
    lines.push(format!("Timeline:  {}", p.timeline().as_str_name()));
    if !p.message.is_empty() {
        lines.push(String::new());
        lines.push(p.message.clone());
    }
    lines.push(String::new());
    lines.push(format!("Prospect {} · event {event_id}", p.id));
    lines.join("\n")
}
