//! The REST API's JSON, in camelCase as in the seed, and its mapping to and
//! from the contract's messages. Enums travel as lower-case names.

use astro_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Maps a REST enum to and from the contract's (`json_enum!(Status => ProspectStatus { New, … })`).
/// The enums themselves are written out, so the OpenAPI derive sees their names.
macro_rules! json_enum {
    ($name:ident => $proto:ident { $($variant:ident),+ $(,)? }) => {
        impl $name {
            pub fn to_proto(self) -> i32 {
                match self {
                    $($name::$variant => pb::$proto::$variant as i32),+
                }
            }

            pub fn from_proto(value: i32) -> Option<Self> {
                match pb::$proto::try_from(value).ok()? {
                    $(pb::$proto::$variant => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

/// The card's column on the Kanban.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    Contacted,
    Qualified,
    Won,
    Lost,
}
json_enum!(Status => ProspectStatus { New, Contacted, Qualified, Won, Lost });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Budget {
    #[serde(rename = "under_5k")]
    Under5k,
    #[serde(rename = "5k_to_20k")]
    Budget5kTo20k,
    #[serde(rename = "20k_to_50k")]
    Budget20kTo50k,
    #[serde(rename = "over_50k")]
    Over50k,
}
json_enum!(Budget => Budget { Under5k, Budget5kTo20k, Budget20kTo50k, Over50k });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Timeline {
    #[serde(rename = "immediate")]
    Immediate,
    #[serde(rename = "within_3_months")]
    Within3Months,
    #[serde(rename = "within_6_months")]
    Within6Months,
    #[serde(rename = "later")]
    Later,
}
json_enum!(Timeline => Timeline { Immediate, Within3Months, Within6Months, Later });

/// How well a prospect fits (the team's scoring rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    Cold,
    Warm,
    Hot,
}
json_enum!(Grade => FitGrade { Cold, Warm, Hot });

/// A card's fit score: the sum of the points of the rules it meets.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fit {
    pub score: i32,
    pub grade: Option<Grade>,
    /// The version of the scoring rules that computed it.
    pub rules_version: i64,
}

/// What happened to a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Created,
    StatusChanged,
    Edited,
}
json_enum!(EventKind => ProspectEventKind { Created, StatusChanged, Edited });

/// Where the prospect came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    #[serde(default)]
    #[schema(max_length = 200)]
    pub utm_source: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub utm_medium: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub utm_campaign: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub referrer: String,
}

impl Source {
    fn to_proto(&self) -> pb::Source {
        pb::Source {
            utm_source: self.utm_source.clone(),
            utm_medium: self.utm_medium.clone(),
            utm_campaign: self.utm_campaign.clone(),
            referrer: self.referrer.clone(),
        }
    }

    fn from_proto(s: pb::Source) -> Self {
        Self { utm_source: s.utm_source, utm_medium: s.utm_medium, utm_campaign: s.utm_campaign, referrer: s.referrer }
    }
}

/// The public form's submission.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProspectSubmission {
    /// Required (1–100 characters), unless the `form` named does not
    /// require it.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub first_name: String,
    /// As `firstName`.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub last_name: String,
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254)]
    pub email: String,
    #[serde(default)]
    #[schema(max_length = 32, example = "+33 6 12 34 56 78")]
    pub phone: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub company: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub job_title: String,
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub message: String,
    #[serde(default)]
    pub budget: Option<Budget>,
    #[serde(default)]
    pub timeline: Option<Timeline>,
    /// Consent to be contacted: must be `true`.
    #[serde(default)]
    #[schema(required = true)]
    pub consent: bool,
    /// The version of the consent text the visitor was shown (kept with the
    /// card; the hosted form's texts: docs/consent.md).
    #[serde(default)]
    #[schema(max_length = 32, example = "2026-11")]
    pub consent_version: String,
    /// The language the form was shown in: `fr` or `en`.
    #[serde(default)]
    pub consent_language: Option<ConsentLanguage>,
    #[serde(default)]
    pub source: Option<Source>,
    /// The solved captcha: for the proof of work, the widget's base64
    /// payload; for reCAPTCHA, hCaptcha or Turnstile, their response token.
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 4096)]
    pub captcha_token: String,
    /// Leave empty: a field people do not see, that bots fill in.
    #[serde(default)]
    #[schema(max_length = 0)]
    pub website: String,
    /// The form filled in (`GET /forms/{name}`), with `formVersion`.
    #[serde(default)]
    #[schema(max_length = 40, example = "default")]
    pub form: Option<String>,
    /// The form's `version` as the page got it.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub form_version: Option<i64>,
    /// The answers to the form's own questions.
    #[serde(default)]
    #[schema(max_items = 30)]
    pub answers: Vec<SubmittedAnswer>,
}

/// An answer to one of a form's questions: the value for its kind.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubmittedAnswer {
    #[schema(min_length = 1, max_length = 40)]
    pub question_id: String,
    /// Text questions.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub text: Option<String>,
    /// Choice questions: the ids of the choices taken.
    #[serde(default)]
    #[schema(max_items = 30)]
    pub choices: Vec<String>,
    /// Number questions.
    #[serde(default)]
    pub number: Option<f64>,
    /// Yes/no questions.
    #[serde(default)]
    pub yes: Option<bool>,
}

/// An answer kept on a card, with the question as its visitor saw it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardAnswer {
    pub question_id: String,
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub choices: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub choice_labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yes: Option<bool>,
}

impl CardAnswer {
    fn from_proto(a: pb::Answer) -> Self {
        let kind = pb::QuestionType::try_from(a.kind).unwrap_or_default();
        use pb::QuestionType as K;
        Self {
            question_id: a.question_id,
            label: a.label,
            text: matches!(kind, K::ShortText | K::LongText).then_some(a.text),
            choices: a.choices,
            choice_labels: a.choice_labels,
            number: (kind == K::Number).then_some(a.number),
            yes: (kind == K::YesNo).then_some(a.yes),
        }
    }
}

impl ProspectSubmission {
    pub fn to_proto(&self) -> pb::Prospect {
        pb::Prospect {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            company: self.company.clone(),
            job_title: self.job_title.clone(),
            message: self.message.clone(),
            budget: self.budget.map(Budget::to_proto).unwrap_or_default(),
            timeline: self.timeline.map(Timeline::to_proto).unwrap_or_default(),
            consent: Some(pb::Consent {
                given: self.consent,
                given_at: None,
                text_version: self.consent_version.clone(),
                language: match self.consent_language {
                    Some(ConsentLanguage::Fr) => "fr".into(),
                    Some(ConsentLanguage::En) => "en".into(),
                    None => String::new(),
                },
            }),
            source: self.source.as_ref().map(Source::to_proto),
            form: self
                .form
                .as_ref()
                .map(|name| pb::FormRef { name: name.clone(), version: self.form_version.unwrap_or_default() }),
            answers: self
                .answers
                .iter()
                .map(|a| pb::Answer {
                    question_id: a.question_id.clone(),
                    text: a.text.clone().unwrap_or_default(),
                    choices: a.choices.clone(),
                    number: a.number.unwrap_or_default(),
                    yes: a.yes.unwrap_or_default(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// The language a form was shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsentLanguage {
    Fr,
    En,
}

/// The answer to a submission.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionReceipt {
    /// The new prospect's id.
    pub id: String,
}

/// A change in a card's life.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProspectEvent {
    pub id: String,
    pub kind: Option<EventKind>,
    /// Who did it (an email, or the gateway's identity for the public form).
    pub actor: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_status: Option<Status>,
    /// The fields an edit changed, by their JSON names.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub changed_fields: Vec<String>,
}

/// A prospect's card.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Prospect {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub company: String,
    pub job_title: String,
    pub message: String,
    pub budget: Option<Budget>,
    pub timeline: Option<Timeline>,
    pub consent: bool,
    /// When consent was given (RFC 3339).
    pub consent_at: Option<String>,
    /// The version of the consent text agreed to, when a form sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_version: Option<String>,
    /// The language the consent text was shown in, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_language: Option<ConsentLanguage>,
    pub source: Source,
    pub status: Option<Status>,
    pub created_at: String,
    pub updated_at: String,
    /// Increases with every change; send it back in `If-Match` to change the card.
    pub version: i64,
    /// The first prospect with the same email, when this one repeats it.
    pub duplicate_of: Option<String>,
    /// The member who works the card (their email), if anyone does.
    pub owner: Option<String>,
    /// How well the prospect fits; absent until first scored.
    pub fit: Option<Fit>,
    /// When the card entered its column.
    pub status_changed_at: Option<String>,
    /// When a new card should be contacted by (the team's deadline); absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_contact_due: Option<String>,
    /// When the card first left `new`; absent before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_contacted_at: Option<String>,
    /// The card's history, oldest first (`view=full` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<ProspectEvent>>,
    /// The form it came from, and its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form_version: Option<i64>,
    /// The answers to that form's own questions.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub answers: Vec<CardAnswer>,
    /// `pending` or `confirmed` when its form asks visitors to confirm
    /// their address (double opt-in); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_confirmation: Option<AddressConfirmation>,
    /// When the address was confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_confirmed_at: Option<String>,
}

/// A card's email confirmation (double opt-in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddressConfirmation {
    Pending,
    Confirmed,
}

pub fn timestamp(ts: Option<prost_types::Timestamp>) -> String {
    let Some(ts) = ts else { return String::new() };
    time::OffsetDateTime::from_unix_timestamp(ts.seconds)
        .map(|t| t + time::Duration::nanoseconds(i64::from(ts.nanos)))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// A contract field name (`job_title`) as the REST API spells it (`jobTitle`).
pub fn json_name(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

impl Prospect {
    pub fn from_proto(p: pb::Prospect, with_events: bool) -> Self {
        let consent = p.consent.unwrap_or_default();
        let events = with_events.then(|| {
            p.events
                .into_iter()
                .map(|e| ProspectEvent {
                    id: e.id,
                    kind: EventKind::from_proto(e.kind),
                    actor: e.actor,
                    created_at: timestamp(e.created_at),
                    from_status: Status::from_proto(e.from_status),
                    to_status: Status::from_proto(e.to_status),
                    changed_fields: e.changed_fields.iter().map(|f| json_name(f)).collect(),
                })
                .collect()
        });
        Self {
            id: p.id,
            first_name: p.first_name,
            last_name: p.last_name,
            email: p.email,
            phone: p.phone,
            company: p.company,
            job_title: p.job_title,
            message: p.message,
            budget: Budget::from_proto(p.budget),
            timeline: Timeline::from_proto(p.timeline),
            consent: consent.given,
            consent_at: consent.given_at.map(|t| timestamp(Some(t))),
            consent_version: Some(consent.text_version).filter(|v| !v.is_empty()),
            consent_language: match consent.language.as_str() {
                "fr" => Some(ConsentLanguage::Fr),
                "en" => Some(ConsentLanguage::En),
                _ => None,
            },
            source: p.source.map(Source::from_proto).unwrap_or_default(),
            status: Status::from_proto(p.status),
            created_at: timestamp(p.created_at),
            updated_at: timestamp(p.updated_at),
            version: p.version,
            duplicate_of: Some(p.duplicate_of).filter(|d| !d.is_empty()),
            owner: Some(p.owner).filter(|o| !o.is_empty()),
            fit: p.fit.map(|f| Fit {
                score: f.score,
                grade: Grade::from_proto(f.grade),
                rules_version: f.rules_version,
            }),
            status_changed_at: p.status_changed_at.map(|t| timestamp(Some(t))),
            first_contact_due: p.first_contact_due.map(|t| timestamp(Some(t))),
            first_contacted_at: p.first_contacted_at.map(|t| timestamp(Some(t))),
            form: p.form.as_ref().map(|f| f.name.clone()),
            form_version: p.form.as_ref().map(|f| f.version),
            answers: p.answers.into_iter().map(CardAnswer::from_proto).collect(),
            email_confirmation: match pb::EmailConfirmation::try_from(p.email_confirmation) {
                Ok(pb::EmailConfirmation::Pending) => Some(AddressConfirmation::Pending),
                Ok(pb::EmailConfirmation::Confirmed) => Some(AddressConfirmation::Confirmed),
                _ => None,
            },
            email_confirmed_at: p.email_confirmed_at.map(|t| timestamp(Some(t))),
            events,
        }
    }
}

/// How many cards each column holds.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCount {
    pub status: Option<Status>,
    pub count: i64,
}

/// One page of prospects, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProspectPage {
    pub prospects: Vec<Prospect>,
    /// Pass as `pageToken` for the next page; absent on the last page.
    pub next_page_token: Option<String>,
    /// Cards per column (on the first page).
    pub status_counts: Vec<StatusCount>,
}

/// The fields to change; the ones left out keep their value.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProspectPatch {
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(max_length = 32)]
    pub phone: Option<String>,
    #[schema(max_length = 200)]
    pub company: Option<String>,
    #[schema(max_length = 200)]
    pub job_title: Option<String>,
    #[schema(max_length = 5000)]
    pub message: Option<String>,
    pub budget: Option<Budget>,
    pub timeline: Option<Timeline>,
    /// Moves the card to another column.
    pub status: Option<Status>,
    pub source: Option<Source>,
}

impl ProspectPatch {
    /// The prospect carrying the new values, and the contract's field mask.
    pub fn to_proto(&self, id: &str, version: i64) -> (pb::Prospect, Vec<String>) {
        let mut p = pb::Prospect { id: id.to_owned(), version, ..Default::default() };
        let mut paths = Vec::new();
        let mut set = |path: &str, present: bool| {
            if present {
                paths.push(path.to_owned());
            }
        };
        set("first_name", self.first_name.is_some());
        set("last_name", self.last_name.is_some());
        set("email", self.email.is_some());
        set("phone", self.phone.is_some());
        set("company", self.company.is_some());
        set("job_title", self.job_title.is_some());
        set("message", self.message.is_some());
        set("budget", self.budget.is_some());
        set("timeline", self.timeline.is_some());
        set("status", self.status.is_some());
        set("source", self.source.is_some());
        p.first_name = self.first_name.clone().unwrap_or_default();
        p.last_name = self.last_name.clone().unwrap_or_default();
        p.email = self.email.clone().unwrap_or_default();
        p.phone = self.phone.clone().unwrap_or_default();
        p.company = self.company.clone().unwrap_or_default();
        p.job_title = self.job_title.clone().unwrap_or_default();
        p.message = self.message.clone().unwrap_or_default();
        p.budget = self.budget.map(Budget::to_proto).unwrap_or_default();
        p.timeline = self.timeline.map(Timeline::to_proto).unwrap_or_default();
        p.status = self.status.map(Status::to_proto).unwrap_or_default();
        p.source = self.source.as_ref().map(Source::to_proto);
        (p, paths)
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254)]
    pub email: String,
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 1024)]
    pub password: String,
    /// A solved captcha: needed only after too many failed sign-ins for the
    /// account or from your address (the 401 then names `captchaToken` and
    /// says which captcha to solve, with a fresh challenge for the proof of
    /// work). Ignored while not needed; good for one sign-in.
    #[serde(default)]
    #[schema(max_length = 4096)]
    pub captcha_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`. Empty while a second step
    /// is needed (`secondStep`).
    pub token: String,
    /// RFC 3339; 24 hours after issue. Empty with `secondStep`.
    pub expires_at: String,
    pub email: String,
    pub role: String,
    /// Present when the password was right and a second factor is needed
    /// first: `POST /auth/second-step` with its ticket and a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_step: Option<SecondStep>,
}

/// What a sign-in needs after the password.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecondStep {
    /// For `POST /auth/second-step`: proves the password, for 5 minutes.
    pub ticket: String,
    /// RFC 3339.
    pub expires_at: String,
    /// The team requires two-factor sign-in and the member has none yet:
    /// enrol in the web app (or over gRPC) first.
    pub enrol: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    /// The address the member signs in with.
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254)]
    pub email: String,
    /// A solved captcha, needed only past the failed-sign-in budgets (as
    /// for `POST /auth/login`).
    #[serde(default)]
    #[schema(max_length = 4096)]
    pub captcha_token: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The token of the emailed link (after `#` in `/admin/reset#…`).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 4096)]
    pub token: String,
    /// 12 characters or more, at most 72 bytes, not a common password.
    #[serde(default)]
    #[schema(required = true, min_length = 12, max_length = 72)]
    pub new_password: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecondStepRequest {
    /// From the sign-in's `secondStep`.
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 4096)]
    pub ticket: String,
    /// 6 digits from the authenticator app, or a recovery code.
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 64)]
    pub code: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaptchaCheck {
    /// The solved captcha, as for `POST /prospects`.
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 4096)]
    pub token: String,
}

/// The provider's verdict. It uses the token up: `POST /prospects` needs
/// a token of its own.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptchaVerdict {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What the web app needs to show the captcha.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptchaSettings {
    /// `pow`, `recaptcha-v3`, `recaptcha-v2`, `hcaptcha`, `turnstile` or `off`.
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_key: Option<String>,
    /// For `pow`: where to get a challenge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_url: Option<String>,
    /// For reCAPTCHA v3 and Turnstile: the action to report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_names_become_camel_case() {
        assert_eq!(json_name("job_title"), "jobTitle");
        assert_eq!(json_name("source.utm_source"), "source.utmSource");
        assert_eq!(json_name("email"), "email");
    }

    #[test]
    fn enums_round_trip_through_the_contract() {
        for s in [Status::New, Status::Contacted, Status::Qualified, Status::Won, Status::Lost] {
            assert_eq!(Status::from_proto(s.to_proto()), Some(s));
        }
        assert_eq!(Status::from_proto(0), None);
        assert_eq!(serde_json::to_value(Budget::Budget5kTo20k).unwrap(), "5k_to_20k");
        assert_eq!(serde_json::from_value::<Timeline>("within_3_months".into()).unwrap(), Timeline::Within3Months);
    }

    #[test]
    fn a_patch_names_exactly_the_fields_it_carries() {
        let patch: ProspectPatch = serde_json::from_str(r#"{"status":"won","jobTitle":"CTO"}"#).unwrap();
        let (p, paths) = patch.to_proto("id", 3);
        assert_eq!(paths, ["job_title", "status"]);
        assert_eq!(p.status, pb::ProspectStatus::Won as i32);
        assert_eq!(p.version, 3);
    }
}
