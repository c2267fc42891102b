//! Forms as data (`FormService`): definitions checked field by field,
//! drafts edited from the version read, publications kept for ever as
//! versions, and a submission's answers judged by the version its visitor
//! saw.
//!
//! A submission names a form and a version. The version in force is
//! accepted, and so is the one it replaced for [`GRACE`] after the
//! replacement (a visitor who opened the page before a publication can
//! still send it); older versions are refused (`FAILED_PRECONDITION`-like
//! field error on `prospect.form.version`: reload the form).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use astro_authorizer::Claims;
use astro_proto::v1::{
    Answer, Choice, Form, FormDefinition, FormField, FormRef, FormVersion, ListFormsResponse, LocalizedText, Prospect,
    QuestionType, StandardField,
};

use super::{
    DomainError, DomainResult,
    clock::{Clock, after, plus},
    validation::{self, Violations},
};
use crate::store::{Store, StoreError};

/// How long a replaced version is still accepted.
pub const GRACE: Duration = Duration::from_secs(24 * 3600);
/// The form of the hosted page, which exists until changed.
pub const DEFAULT_FORM: &str = "default";
pub const MAX_FORMS: usize = 100;
const MAX_NAME: usize = 40;
const MAX_TITLE: usize = 100;
const MAX_LABEL: usize = 200;
const MAX_HELP: usize = 500;
const MAX_CHOICE_LABEL: usize = 100;
const MAX_THANK_YOU: usize = 1_000;
const MAX_QUESTIONS: usize = 30;
const MIN_CHOICES: usize = 2;
const MAX_CHOICES: usize = 30;
const MAX_ORIGINS: usize = 20;
const MAX_TEXT_LENGTH: i32 = 5_000;
const SHORT_TEXT_DEFAULT: usize = 200;
const LONG_TEXT_DEFAULT: usize = 2_000;
/// Versions kept in memory (they never change).
const CACHED_VERSIONS: usize = 256;

/// A name or id: 1–`max` lower-case ASCII letters, digits and the given
/// punctuation, starting with a letter or digit.
fn slug(v: &mut Violations, field: &str, value: &str, max: usize, punctuation: &[char]) -> bool {
    let ok = !value.is_empty()
        && value.len() <= max
        && value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || punctuation.contains(&c));
    if !ok {
        let allowed: String = punctuation.iter().map(|c| format!(" `{c}`")).collect();
        v.add(
            field,
            format!("1–{max} characters: lower-case letters, digits and{allowed}, starting with a letter or digit"),
        );
    }
    ok
}

/// Checks a form's name (`/f/<name>`).
pub fn check_name(v: &mut Violations, field: &str, name: &str) -> bool {
    slug(v, field, name, MAX_NAME, &['-'])
}

/// Checks a question's or a choice's id.
pub fn check_id(v: &mut Violations, field: &str, id: &str) -> bool {
    slug(v, field, id, MAX_NAME, &['-', '_'])
}

/// Both languages: trimmed, each at most `max` characters, and with
/// `required`, neither empty.
fn localized(
    v: &mut Violations,
    field: &str,
    text: &mut Option<LocalizedText>,
    required: bool,
    max: usize,
    multiline: bool,
) {
    let t = text.get_or_insert_default();
    t.fr = validation::text(v, &format!("{field}.fr"), &t.fr, required, max, multiline);
    t.en = validation::text(v, &format!("{field}.en"), &t.en, required, max, multiline);
}

/// An origin a page may embed from: `https://host[:port]` (or `http://`
/// on a loopback host), nothing after it.
fn origin(v: &mut Violations, field: &str, value: &str) -> String {
    let value = value.trim().trim_end_matches('/').to_lowercase();
    let parsed = reqwest::Url::parse(&value).ok();
    let ok = parsed.as_ref().is_some_and(|u| {
        let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        (u.scheme() == "https" || (u.scheme() == "http" && loopback))
            && u.host_str().is_some()
            && u.path() == "/"
            && u.query().is_none()
            && u.fragment().is_none()
            && u.username().is_empty()
            && u.origin().ascii_serialization() == value
    });
    if !ok {
        v.add(field, "must be an origin: https://host or https://host:port, without a path (http only for localhost)");
    }
    value
}

/// Checks a definition, naming each field at fault under `prefix`, and
/// tidies it (texts trimmed, origins lower-cased).
pub fn check_definition(v: &mut Violations, prefix: &str, d: &mut FormDefinition) {
    let f = |name: &str| format!("{prefix}.{name}");
    localized(v, &f("title"), &mut d.title, true, MAX_TITLE, false);
    let mut shown = Vec::new();
    for (i, field) in d.fields.iter().enumerate() {
        match StandardField::try_from(field.field) {
            Ok(StandardField::Unspecified) | Err(_) => v.add(
                f(&format!("fields[{i}].field")),
                "a standard field: FIRST_NAME, LAST_NAME, PHONE, COMPANY, JOB_TITLE, MESSAGE, BUDGET or TIMELINE",
            ),
            Ok(s) if shown.contains(&s) => v.add(f(&format!("fields[{i}].field")), "is shown once"),
            Ok(s) => shown.push(s),
        }
    }
    if d.questions.len() > MAX_QUESTIONS {
        v.add(f("questions"), format!("at most {MAX_QUESTIONS} questions"));
    }
    let mut ids: Vec<String> = Vec::new();
    for (i, q) in d.questions.iter_mut().enumerate() {
        let at = |name: &str| f(&format!("questions[{i}].{name}"));
        q.id = q.id.trim().to_owned();
        if check_id(v, &at("id"), &q.id) {
            if ids.contains(&q.id) {
                v.add(at("id"), format!("{:?} is the id of an earlier question: ids are unique", q.id));
            }
            ids.push(q.id.clone());
        }
        localized(v, &at("label"), &mut q.label, true, MAX_LABEL, false);
        localized(v, &at("help"), &mut q.help, false, MAX_HELP, false);
        let kind = QuestionType::try_from(q.kind).unwrap_or(QuestionType::Unspecified);
        let choices = matches!(kind, QuestionType::SingleChoice | QuestionType::MultipleChoice);
        match kind {
            QuestionType::Unspecified => {
                v.add(at("kind"), "SHORT_TEXT, LONG_TEXT, SINGLE_CHOICE, MULTIPLE_CHOICE, NUMBER or YES_NO")
            }
            _ if choices && !(MIN_CHOICES..=MAX_CHOICES).contains(&q.choices.len()) => {
                v.add(at("choices"), format!("a choice question has {MIN_CHOICES}–{MAX_CHOICES} choices"))
            }
            _ if !choices && !q.choices.is_empty() => v.add(at("choices"), "only choice questions have choices"),
            _ => {}
        }
        let mut choice_ids: Vec<String> = Vec::new();
        for (j, c) in q.choices.iter_mut().enumerate() {
            let at = |name: &str| f(&format!("questions[{i}].choices[{j}].{name}"));
            c.id = c.id.trim().to_owned();
            if check_id(v, &at("id"), &c.id) {
                if choice_ids.contains(&c.id) {
                    v.add(at("id"), "is the id of an earlier choice: ids are unique");
                }
                choice_ids.push(c.id.clone());
            }
            localized(v, &at("label"), &mut c.label, true, MAX_CHOICE_LABEL, false);
        }
        let text = matches!(kind, QuestionType::ShortText | QuestionType::LongText);
        if q.max_length != 0 && (!text || !(1..=MAX_TEXT_LENGTH).contains(&q.max_length)) {
            v.add(at("max_length"), format!("1–{MAX_TEXT_LENGTH}, for a text question only"));
        }
        if q.max_choices != 0
            && (kind != QuestionType::MultipleChoice || q.max_choices < 1 || q.max_choices as usize > q.choices.len())
        {
            v.add(at("max_choices"), "for a multiple choice: 1 to its number of choices");
        }
        if let Some(bounds) = &q.bounds {
            if kind != QuestionType::Number {
                v.add(at("bounds"), "for a number question only");
            } else if !(bounds.min.is_finite() && bounds.max.is_finite() && bounds.min <= bounds.max) {
                v.add(at("bounds"), "min and max are numbers, min at most max");
            }
        }
    }
    localized(v, &f("thank_you"), &mut d.thank_you, false, MAX_THANK_YOU, true);
    d.redirect_url = d.redirect_url.trim().to_owned();
    if !d.redirect_url.is_empty() {
        let ok = reqwest::Url::parse(&d.redirect_url).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
        if !ok || d.redirect_url.len() > validation::MAX_URL {
            v.add(f("redirect_url"), format!("an https URL of at most {} characters", validation::MAX_URL));
        }
    }
    if !matches!(d.default_language.as_str(), "fr" | "en") {
        v.add(f("default_language"), "\"fr\" or \"en\"");
    }
    if d.allowed_origins.len() > MAX_ORIGINS {
        v.add(f("allowed_origins"), format!("at most {MAX_ORIGINS}"));
    }
    for (i, o) in d.allowed_origins.iter_mut().enumerate() {
        *o = origin(v, &f(&format!("allowed_origins[{i}]")), o);
    }
}

fn text(fr: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText { fr: fr.into(), en: en.into() })
}

/// The hosted page's form until an admin changes it: the fields the page
/// always had, no questions of its own.
pub fn default_definition() -> FormDefinition {
    let shown = |field: StandardField, required: bool| FormField { field: field as i32, required };
    FormDefinition {
        title: text("Parlons de votre projet", "Tell us about your project"),
        fields: vec![
            shown(StandardField::FirstName, true),
            shown(StandardField::LastName, true),
            shown(StandardField::Company, false),
            shown(StandardField::JobTitle, false),
            shown(StandardField::Phone, false),
            shown(StandardField::Budget, false),
            shown(StandardField::Timeline, false),
            shown(StandardField::Message, false),
        ],
        thank_you: text("Merci ! Nous revenons vers vous très vite.", "Thank you! We will be in touch shortly."),
        default_language: "fr".into(),
        ..Default::default()
    }
}

fn version_key(version: i64) -> String {
    format!("{version:06}")
}

/// Published versions by form name and number.
type VersionCache = HashMap<(String, i64), Arc<FormVersion>>;

/// The forms (see the module).
#[derive(Clone)]
pub struct Forms {
    store: Arc<dyn Store>,
    clock: Clock,
    versions: Arc<Mutex<VersionCache>>,
    /// Whether emails go out (double opt-in needs them).
    mail: bool,
}

fn stale(form: &Form, seen: i64) -> DomainError {
    DomainError::Conflict(format!(
        "form {} was changed by someone else (you had version {seen}, it is at {}): reload it",
        form.name, form.version
    ))
}

fn not_found(name: &str) -> DomainError {
    DomainError::NotFound(format!("form {name}"))
}

impl Forms {
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Self {
        Self { store, clock, versions: Arc::default(), mail: false }
    }

    /// Emails go out (SMTP configured): forms may ask for double opt-in.
    pub fn with_mail(self, mail: bool) -> Self {
        Self { mail, ..self }
    }

    /// The stored form, or the built-in `default` (never stored yet).
    async fn read(&self, name: &str) -> DomainResult<Option<Form>> {
        let mut v = Violations::default();
        check_name(&mut v, "name", name);
        super::prospects::check(v)?;
        Ok(match self.store.get_form(name).await? {
            Some(form) => Some(form),
            None if name == DEFAULT_FORM => {
                Some(Form { name: DEFAULT_FORM.into(), draft: Some(default_definition()), ..Default::default() })
            }
            None => None,
        })
    }

    pub async fn list(&self) -> DomainResult<ListFormsResponse> {
        let mut forms = self.store.forms(MAX_FORMS).await?;
        if !forms.iter().any(|f| f.name == DEFAULT_FORM) {
            forms.push(Form { name: DEFAULT_FORM.into(), draft: Some(default_definition()), ..Default::default() });
            forms.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Ok(ListFormsResponse { forms })
    }

    pub async fn get(&self, name: &str) -> DomainResult<Form> {
        self.read(name).await?.ok_or_else(|| not_found(name))
    }

    pub async fn create(&self, caller: &Claims, input: Form) -> DomainResult<Form> {
        let mut v = Violations::default();
        let name = input.name.trim().to_owned();
        check_name(&mut v, "form.name", &name);
        let mut draft = input.draft.unwrap_or_default();
        check_definition(&mut v, "form.draft", &mut draft);
        super::prospects::check(v)?;
        if name == DEFAULT_FORM || self.store.get_form(&name).await?.is_some() {
            return Err(DomainError::AlreadyExists(format!("form {name} exists: choose another name")));
        }
        if self.store.forms(MAX_FORMS).await?.len() >= MAX_FORMS {
            return Err(DomainError::FailedPrecondition(format!("at most {MAX_FORMS} forms")));
        }
        let now = self.clock.now();
        let form = Form {
            name,
            draft: Some(draft),
            updated_by: caller.email.clone(),
            updated_at: Some(now),
            created_at: Some(now),
            version: 1,
            ..Default::default()
        };
        match self.store.save_form(&form, 0, None).await {
            Ok(()) => Ok(form),
            Err(StoreError::Conflict(_)) => {
                Err(DomainError::AlreadyExists(format!("form {} exists: choose another name", form.name)))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update(&self, caller: &Claims, input: Form, paths: &[String]) -> DomainResult<Form> {
        const FIELDS: [&str; 8] = [
            "draft.title",
            "draft.fields",
            "draft.questions",
            "draft.thank_you",
            "draft.redirect_url",
            "draft.default_language",
            "draft.allowed_origins",
            "draft.double_opt_in",
        ];
        let mut v = Violations::default();
        for path in paths {
            if !FIELDS.contains(&path.as_str()) && path != "draft" {
                v.add("update_mask", format!("{path:?} cannot be updated; updatable: draft, {}", FIELDS.join(", ")));
            }
        }
        super::prospects::check(v)?;
        let stored = self.read(input.name.trim()).await?.ok_or_else(|| not_found(&input.name))?;
        if input.version != stored.version {
            return Err(stale(&stored, input.version));
        }
        let mut draft = stored.draft.clone().unwrap_or_default();
        let given = input.draft.unwrap_or_default();
        let all = paths.is_empty() || paths.iter().any(|p| p == "draft");
        let set = |name: &str| all || paths.iter().any(|p| p == name);
        if set("draft.title") {
            draft.title = given.title.clone();
        }
        if set("draft.fields") {
            draft.fields = given.fields.clone();
        }
        if set("draft.questions") {
            draft.questions = given.questions.clone();
        }
        if set("draft.thank_you") {
            draft.thank_you = given.thank_you.clone();
        }
        if set("draft.redirect_url") {
            draft.redirect_url = given.redirect_url.clone();
        }
        if set("draft.default_language") {
            draft.default_language = given.default_language.clone();
        }
        if set("draft.allowed_origins") {
            draft.allowed_origins = given.allowed_origins.clone();
        }
        if set("draft.double_opt_in") {
            draft.double_opt_in = given.double_opt_in;
        }
        let mut v = Violations::default();
        check_definition(&mut v, "form.draft", &mut draft);
        super::prospects::check(v)?;
        let mut form = Form {
            draft: Some(draft),
            updated_by: caller.email.clone(),
            updated_at: Some(self.clock.now()),
            version: stored.version + 1,
            created_at: stored.created_at.or(Some(self.clock.now())),
            ..stored.clone()
        };
        self.save(&mut form, stored.version, None).await?;
        Ok(form)
    }

    async fn save(&self, form: &mut Form, from: i64, published: Option<&FormVersion>) -> DomainResult<()> {
        match self.store.save_form(form, from, published).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(stale(form, from)),
            Err(e) => Err(e.into()),
        }
    }

    /// Publishes the draft as the next version.
    pub async fn publish(&self, caller: &Claims, name: &str, version: i64) -> DomainResult<Form> {
        let stored = self.read(name.trim()).await?.ok_or_else(|| not_found(name))?;
        if version != stored.version {
            return Err(stale(&stored, version));
        }
        let mut definition = stored.draft.clone().unwrap_or_default();
        let mut v = Violations::default();
        check_definition(&mut v, "form.draft", &mut definition);
        super::prospects::check(v)?;
        if definition.double_opt_in && !self.mail {
            return Err(DomainError::FailedPrecondition(
                "this form asks visitors to confirm their address, and no email goes out: configure SMTP \
                 (ASTRO_SMTP_URL, ASTRO_NOTIFY_FROM) or turn double opt-in off"
                    .into(),
            ));
        }
        let now = self.clock.now();
        let number = stored.published_version + 1;
        let published = FormVersion {
            name: stored.name.clone(),
            version: number,
            number: version_key(number),
            definition: Some(definition),
            published_at: Some(now),
            published_by: caller.email.clone(),
        };
        let mut form = Form {
            published_version: number,
            published_at: Some(now),
            updated_by: caller.email.clone(),
            updated_at: Some(now),
            created_at: stored.created_at.or(Some(now)),
            version: stored.version + 1,
            ..stored.clone()
        };
        self.save(&mut form, stored.version, Some(&published)).await?;
        tracing::info!(form = %form.name, version = number, "form published");
        Ok(form)
    }

    /// One published version (cached: it never changes); version 0 of
    /// `default` is the built-in form.
    pub async fn version(&self, name: &str, number: i64) -> DomainResult<Option<Arc<FormVersion>>> {
        let key = (name.to_owned(), number);
        if let Some(found) = self.versions.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(Some(found.clone()));
        }
        let found = match (name, number) {
            (DEFAULT_FORM, 0) => Some(FormVersion {
                name: DEFAULT_FORM.into(),
                definition: Some(default_definition()),
                ..Default::default()
            }),
            _ => self.store.get_form_version(name, &version_key(number)).await?,
        };
        let Some(found) = found.map(Arc::new) else { return Ok(None) };
        let mut cache = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHED_VERSIONS {
            cache.clear();
        }
        cache.insert(key, found.clone());
        Ok(Some(found))
    }

    /// The version visitors get (`GetPublishedForm`).
    pub async fn published(&self, name: &str) -> DomainResult<FormVersion> {
        let form = self.read(name.trim()).await?.ok_or_else(|| not_found(name))?;
        let never = form.published_version == 0 && form.name != DEFAULT_FORM;
        if never {
            return Err(not_found(name));
        }
        let found = self.version(&form.name, form.published_version).await?.ok_or_else(|| not_found(name))?;
        Ok(FormVersion::clone(&found))
    }

    /// The origins some published form allows (`ListEmbeddingOrigins`).
    pub async fn embedding_origins(&self) -> DomainResult<Vec<String>> {
        let mut origins = std::collections::BTreeSet::new();
        for form in self.list().await?.forms {
            if form.published_version == 0 {
                continue;
            }
            if let Some(version) = self.version(&form.name, form.published_version).await? {
                origins.extend(version.definition.iter().flat_map(|d| d.allowed_origins.iter().cloned()));
            }
        }
        Ok(origins.into_iter().collect())
    }

    /// Judges a submission's form and answers (`prospect.form`,
    /// `prospect.answers`) by the version its visitor saw, filling in each
    /// answer's kind and labels in the consent's language. True when that
    /// version asks the visitor to confirm their address.
    pub async fn check_submission(&self, v: &mut Violations, p: &mut Prospect, language: &str) -> DomainResult<bool> {
        let Some(form_ref) = p.form.clone().filter(|f| !f.name.is_empty()) else {
            if !p.answers.is_empty() {
                v.add("prospect.answers", "answers go with a form: set prospect.form");
            }
            return Ok(false);
        };
        let name = form_ref.name.trim().to_owned();
        let form = match check_name(v, "prospect.form.name", &name) {
            true => self.read(&name).await?,
            false => return Ok(false),
        };
        let Some(form) = form.filter(|f| f.published_version > 0 || f.name == DEFAULT_FORM) else {
            v.add("prospect.form.name", "no published form has this name");
            return Ok(false);
        };
        let current = form.published_version;
        let accepted = match form_ref.version {
            n if n == current => true,
            n if n >= 0 && n < current => {
                // Replaced: still good for GRACE after its replacement.
                let next = self.version(&form.name, n + 1).await?;
                let replaced = next.and_then(|n| n.published_at);
                replaced.is_some_and(|at| after(&plus(&at, GRACE), &self.clock.now()))
            }
            _ => false,
        };
        let version = match accepted {
            true => self.version(&form.name, form_ref.version).await?,
            false => None,
        };
        let Some(version) = version else {
            v.add(
                "prospect.form.version",
                format!(
                    "version {} of this form is not accepted any more (it is at {current}): reload the form",
                    form_ref.version
                ),
            );
            return Ok(false);
        };
        let definition = version.definition.clone().unwrap_or_default();
        required_fields(v, p, &definition);
        p.answers = answers(v, std::mem::take(&mut p.answers), &definition, language);
        p.form = Some(FormRef { name: form.name, version: form_ref.version });
        Ok(definition.double_opt_in)
    }
}

/// The standard fields a version requires, given.
fn required_fields(v: &mut Violations, p: &Prospect, d: &FormDefinition) {
    for field in d.fields.iter().filter(|f| f.required) {
        let (path, empty) = match StandardField::try_from(field.field).unwrap_or_default() {
            StandardField::Phone => ("phone", p.phone.trim().is_empty()),
            StandardField::Company => ("company", p.company.trim().is_empty()),
            StandardField::JobTitle => ("job_title", p.job_title.trim().is_empty()),
            StandardField::Message => ("message", p.message.trim().is_empty()),
            StandardField::Budget => ("budget", p.budget == 0),
            StandardField::Timeline => ("timeline", p.timeline == 0),
            StandardField::FirstName => ("first_name", p.first_name.trim().is_empty()),
            StandardField::LastName => ("last_name", p.last_name.trim().is_empty()),
            StandardField::Unspecified => continue,
        };
        if empty {
            v.add(format!("prospect.{path}"), "is required by this form");
        }
    }
}

fn label(text: &Option<LocalizedText>, language: &str, fallback: &str) -> String {
    let text = text.clone().unwrap_or_default();
    let (first, second) = if language == "en" { (text.en, text.fr) } else { (text.fr, text.en) };
    if !first.is_empty() {
        first
    } else if !second.is_empty() {
        second
    } else {
        fallback.to_owned()
    }
}

/// The answers checked against the questions: each names a question of
/// the version once, holds a value of its kind within its limits, and
/// every required question is answered. Returned in the questions' order,
/// with their kinds and labels.
fn answers(v: &mut Violations, given: Vec<Answer>, d: &FormDefinition, language: &str) -> Vec<Answer> {
    let mut by_id: HashMap<String, (usize, Answer)> = HashMap::new();
    for (i, answer) in given.into_iter().enumerate() {
        let id = answer.question_id.trim().to_owned();
        if !d.questions.iter().any(|q| q.id == id) {
            v.add(format!("prospect.answers[{i}].question_id"), format!("{id:?} is not a question of this form"));
            continue;
        }
        match by_id.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => {
                v.add(format!("prospect.answers[{i}].question_id"), "is answered once")
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert((i, answer));
            }
        }
    }
    let mut out = Vec::new();
    for q in &d.questions {
        let Some((i, mut a)) = by_id.remove(&q.id) else {
            if q.required {
                v.add(format!("prospect.answers.{}", q.id), "this question is required");
            }
            continue;
        };
        let field = format!("prospect.answers[{i}]");
        let kind = QuestionType::try_from(q.kind).unwrap_or_default();
        let empty = match kind {
            QuestionType::ShortText | QuestionType::LongText => {
                let max = match q.max_length {
                    0 if kind == QuestionType::ShortText => SHORT_TEXT_DEFAULT,
                    0 => LONG_TEXT_DEFAULT,
                    n => n as usize,
                };
                a.text =
                    validation::text(v, &format!("{field}.text"), &a.text, false, max, kind == QuestionType::LongText);
                a.text.is_empty()
            }
            QuestionType::SingleChoice | QuestionType::MultipleChoice => {
                a.choices = a.choices.iter().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
                let mut labels = Vec::new();
                for (j, choice) in a.choices.iter().enumerate() {
                    match q.choices.iter().find(|c: &&Choice| &c.id == choice) {
                        Some(_) if a.choices[..j].contains(choice) => {
                            v.add(format!("{field}.choices[{j}]"), "is chosen once")
                        }
                        Some(c) => labels.push(label(&c.label, language, &c.id)),
                        None => v.add(
                            format!("{field}.choices[{j}]"),
                            format!("{choice:?} is not a choice of this question"),
                        ),
                    }
                }
                if kind == QuestionType::SingleChoice && a.choices.len() > 1 {
                    v.add(format!("{field}.choices"), "one choice only");
                }
                if q.max_choices > 0 && a.choices.len() > q.max_choices as usize {
                    v.add(format!("{field}.choices"), format!("at most {} choices", q.max_choices));
                }
                a.choice_labels = labels;
                a.choices.is_empty()
            }
            QuestionType::Number => {
                if !a.number.is_finite() {
                    v.add(format!("{field}.number"), "must be a number");
                } else if let Some(b) = &q.bounds
                    && !(b.min..=b.max).contains(&a.number)
                {
                    v.add(format!("{field}.number"), format!("must be from {} to {}", b.min, b.max));
                }
                false
            }
            QuestionType::YesNo | QuestionType::Unspecified => false,
        };
        if empty && q.required {
            v.add(format!("prospect.answers[{i}]"), "this question is required");
        }
        if empty {
            continue;
        }
        a.question_id.clone_from(&q.id);
        a.kind = q.kind;
        a.label = label(&q.label, language, &q.id);
        // Only the value of its kind is kept.
        let kept = Answer {
            question_id: a.question_id,
            kind: a.kind,
            label: a.label,
            text: a.text,
            choices: a.choices,
            choice_labels: a.choice_labels,
            number: if kind == QuestionType::Number { a.number } else { 0.0 },
            yes: kind == QuestionType::YesNo && a.yes,
        };
        out.push(kept);
    }
    out
}

#[cfg(test)]
mod tests {
    use astro_proto::v1::Question;

    use super::*;

    fn question(id: &str, kind: QuestionType) -> Question {
        Question { id: id.into(), kind: kind as i32, label: text("Question", "Question"), ..Default::default() }
    }

    #[test]
    fn the_default_form_is_a_valid_definition() {
        let mut v = Violations::default();
        check_definition(&mut v, "d", &mut default_definition());
        assert!(v.is_empty(), "{:?}", v.0);
    }

    #[test]
    fn bad_definitions_name_their_fields() {
        let mut d = default_definition();
        d.questions = vec![
            question("sector", QuestionType::SingleChoice),
            question("sector", QuestionType::ShortText),
            Question { label: text(&"x".repeat(201), "ok"), ..question("Bad Id", QuestionType::Number) },
        ];
        d.allowed_origins = vec!["https://www.example.com/page".into(), "HTTPS://Shop.Example.com".into()];
        d.redirect_url = "http://example.com/thanks".into();
        let mut v = Violations::default();
        check_definition(&mut v, "d", &mut d);
        let fields: Vec<&str> = v.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "d.questions[0].choices",
                "d.questions[1].id",
                "d.questions[2].id",
                "d.questions[2].label.fr",
                "d.redirect_url",
                "d.allowed_origins[0]"
            ]
        );
        assert_eq!(d.allowed_origins[1], "https://shop.example.com", "lower-cased");
    }

    #[test]
    fn answers_are_judged_by_their_questions() {
        let mut d = default_definition();
        let choices = |ids: &[&str]| {
            ids.iter()
                .map(|id| Choice { id: (*id).into(), label: text(&format!("fr {id}"), &format!("en {id}")) })
                .collect()
        };
        d.questions = vec![
            Question {
                required: true,
                choices: choices(&["saas", "retail"]),
                ..question("sector", QuestionType::SingleChoice)
            },
            Question {
                bounds: Some(astro_proto::v1::NumberBounds { min: 1.0, max: 500.0 }),
                ..question("seats", QuestionType::Number)
            },
            Question {
                max_choices: 1,
                choices: choices(&["a", "b"]),
                ..question("tools", QuestionType::MultipleChoice)
            },
            Question { required: true, ..question("why", QuestionType::LongText) },
        ];
        let answer = |id: &str| Answer { question_id: id.into(), ..Default::default() };
        let mut v = Violations::default();
        let kept = answers(
            &mut v,
            vec![
                Answer { choices: vec!["retail".into()], ..answer("seats") },
                Answer { number: 501.0, ..answer("seats") },
                Answer { choices: vec!["a".into(), "b".into()], ..answer("tools") },
                Answer { text: "x".into(), ..answer("nope") },
            ],
            &d,
            "en",
        );
        let fields: Vec<&str> = v.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "prospect.answers[1].question_id",
                "prospect.answers[3].question_id",
                "prospect.answers.sector",
                "prospect.answers[0].number",
                "prospect.answers[2].choices",
                "prospect.answers.why"
            ]
        );
        assert_eq!(kept.len(), 2);

        let mut v = Violations::default();
        let kept = answers(
            &mut v,
            vec![
                Answer { choices: vec!["saas".into()], ..answer("sector") },
                Answer { text: "Growth".into(), ..answer("why") },
            ],
            &d,
            "en",
        );
        assert!(v.is_empty(), "{:?}", v.0);
        assert_eq!((kept[0].label.as_str(), kept[0].choice_labels[0].as_str()), ("Question", "en saas"));
        assert_eq!(kept[1].text, "Growth");
    }
}
