//! Field rules shared by create and update. Each rule names the field it
//! checks so the caller learns exactly what to fix.

use astro_proto::v1::{Budget, Prospect, ProspectStatus, Timeline};

use super::FieldViolation;

pub const MAX_NAME: usize = 100;
pub const MAX_EMAIL: usize = 254;
pub const MAX_PHONE: usize = 32;
pub const MAX_SHORT_TEXT: usize = 200;
pub const MAX_MESSAGE: usize = 5_000;
pub const MAX_URL: usize = 2_000;

/// Collects the violations of one request.
#[derive(Debug, Default)]
pub struct Violations(pub Vec<FieldViolation>);

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Trims `value` and checks its length and characters. Line breaks and tabs
/// are allowed only where `multiline`.
pub fn text(v: &mut Violations, field: &str, value: &str, required: bool, max: usize, multiline: bool) -> String {
    let value = value.trim();
    if value.is_empty() {
        if required {
            v.add(field, "is required");
        }
        return String::new();
    }
    if value.chars().count() > max {
        v.add(field, format!("must be at most {max} characters"));
    }
    if value.chars().any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'))) {
        v.add(field, "must not contain control characters");
    }
    value.to_owned()
}

/// A valid email address, lower-cased.
pub fn email(v: &mut Violations, field: &str, value: &str) -> String {
    let value = value.trim().to_lowercase();
    if value.is_empty() {
        v.add(field, "is required");
    } else if value.len() > MAX_EMAIL {
        v.add(field, format!("must be at most {MAX_EMAIL} characters"));
    } else if !email_address::EmailAddress::is_valid(&value) || !value.contains('@') || value.contains(['<', '>', ' '])
    {
        v.add(field, "must be a valid email address");
    }
    value
}

pub fn phone(v: &mut Violations, field: &str, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        return String::new();
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if value.chars().count() > MAX_PHONE {
        v.add(field, format!("must be at most {MAX_PHONE} characters"));
    } else if !value.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) || digits < 6 {
        v.add(field, "must be a phone number: at least 6 digits, and only digits, spaces and + - ( ) .");
    }
    value.to_owned()
}

pub fn known_enum<E: TryFrom<i32>>(v: &mut Violations, field: &str, value: i32) {
    if E::try_from(value).is_err() {
        v.add(field, format!("unknown value {value}"));
    }
}

/// Status of a stored card: one of the five columns.
pub fn status(v: &mut Violations, field: &str, value: i32) -> ProspectStatus {
    match ProspectStatus::try_from(value) {
        Ok(ProspectStatus::Unspecified) => {
            v.add(field, "must be one of NEW, CONTACTED, QUALIFIED, WON, LOST");
            ProspectStatus::Unspecified
        }
        Ok(status) => status,
        Err(_) => {
            v.add(field, format!("unknown value {value}"));
            ProspectStatus::Unspecified
        }
    }
}

/// Checks and normalises every client-writable field of a prospect, in place.
/// `prefix` is the prospect's path in the request (`prospect`).
pub fn prospect_fields(v: &mut Violations, prefix: &str, p: &mut Prospect) {
    let f = |name: &str| format!("{prefix}.{name}");
    // A card is known by its names, unless its form did not ask them
    // (the form's own rules then say which it requires).
    let named = p.form.as_ref().is_none_or(|form| form.name.is_empty());
    p.first_name = text(v, &f("first_name"), &p.first_name, named, MAX_NAME, false);
    p.last_name = text(v, &f("last_name"), &p.last_name, named, MAX_NAME, false);
    p.email = email(v, &f("email"), &p.email);
    p.phone = phone(v, &f("phone"), &p.phone);
    p.company = text(v, &f("company"), &p.company, false, MAX_SHORT_TEXT, false);
    p.job_title = text(v, &f("job_title"), &p.job_title, false, MAX_SHORT_TEXT, false);
    p.message = text(v, &f("message"), &p.message, false, MAX_MESSAGE, true);
    known_enum::<Budget>(v, &f("budget"), p.budget);
    known_enum::<Timeline>(v, &f("timeline"), p.timeline);
    if let Some(source) = &mut p.source {
        source.utm_source = text(v, &f("source.utm_source"), &source.utm_source, false, MAX_SHORT_TEXT, false);
        source.utm_medium = text(v, &f("source.utm_medium"), &source.utm_medium, false, MAX_SHORT_TEXT, false);
        source.utm_campaign = text(v, &f("source.utm_campaign"), &source.utm_campaign, false, MAX_SHORT_TEXT, false);
        source.referrer = text(v, &f("source.referrer"), &source.referrer, false, MAX_URL, false);
    }
}

/// A search key: lower-cased, without accents, single-spaced (`Élodie  D'Arc`
/// → `elodie d'arc`), so that a search ignores case and accents.
pub fn search_key(text: &str) -> String {
    use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};
    if text.is_ascii() {
        // No accent to take off (most names and job titles): one pass.
        return joined(text.split_whitespace(), |word, out| out.extend(word.chars().map(|c| c.to_ascii_lowercase())));
    }
    let plain: String = text.nfd().filter(|c| !is_combining_mark(*c)).collect::<String>().to_lowercase();
    joined(plain.split_whitespace(), |word, out| out.push_str(word))
}

/// The non-empty `words`, each written by `write`, one space between them.
pub fn joined<'a>(words: impl Iterator<Item = &'a str>, write: impl Fn(&str, &mut String)) -> String {
    let mut out = String::new();
    for word in words.filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        write(word, &mut out);
    }
    out
}

/// `Prospect.deadline_partition` of a card waiting for its first contact.
pub const DEADLINE_PARTITION: &str = "DUE";

/// Keeps a card's index keys (`Prospect.search_*`, `owner_column`, `form_column`,
/// `score_key`) in step with its fields.
pub fn set_search_keys(p: &mut Prospect) {
    p.score_key = super::scoring::score_key(p);
    // In DeadlineIndex while it waits in NEW for its first contact.
    let waits =
        p.status == ProspectStatus::New as i32 && p.first_contacted_at.is_none() && p.first_contact_due.is_some();
    p.deadline_partition = if waits { DEADLINE_PARTITION.to_owned() } else { String::new() };
    p.search_partition = crate::store::SEARCH_PARTITION.to_owned();
    p.search_first_name = search_key(&p.first_name);
    p.search_last_name = search_key(&p.last_name);
    p.search_company = search_key(&p.company);
    p.owner_column = match p.owner.is_empty() {
        true => String::new(),
        false => crate::store::owner_column(&p.owner, ProspectStatus::try_from(p.status).unwrap_or_default()),
    };
    p.form_column = match p.form.as_ref().filter(|f| !f.name.is_empty()) {
        None => String::new(),
        Some(form) => crate::store::owner_column(&form.name, ProspectStatus::try_from(p.status).unwrap_or_default()),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_keys_ignore_case_accents_and_spacing() {
        assert_eq!(search_key("  Élodie   D'Arc "), "elodie d'arc");
        assert_eq!(search_key("ÅNGSTRÖM Straße"), "angstrom straße");
        // The ASCII path splits on the same white space (\x0b included).
        assert_eq!(search_key("\tHEAD\x0bof  Sales\r\n"), "head of sales");
        assert_eq!(search_key(" \t "), "");
        let mut p = Prospect { first_name: "Zoë".into(), company: "".into(), ..Default::default() };
        set_search_keys(&mut p);
        assert_eq!((p.search_first_name.as_str(), p.search_company.as_str()), ("zoe", ""));
        assert_eq!(p.search_partition, "PROSPECT");
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        let mut v = Violations::default();
        assert_eq!(email(&mut v, "e", " Ada@Example.COM "), "ada@example.com");
        assert!(v.is_empty());
        for bad in ["", "ada", "ada@", "@x.y", "a b@c.d", "<a@b.c>"] {
            let mut v = Violations::default();
            email(&mut v, "e", bad);
            assert_eq!(v.0.len(), 1, "{bad:?} should be refused");
            assert_eq!(v.0[0].field, "e");
        }
    }

    #[test]
    fn text_rules_name_the_field() {
        let mut v = Violations::default();
        text(&mut v, "p.first_name", &"x".repeat(101), true, MAX_NAME, false);
        text(&mut v, "p.last_name", "  ", true, MAX_NAME, false);
        text(&mut v, "p.company", "a\u{7}b", false, MAX_SHORT_TEXT, false);
        assert_eq!(text(&mut v, "p.message", "line\nline", false, MAX_MESSAGE, true), "line\nline");
        let fields: Vec<_> = v.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["p.first_name", "p.last_name", "p.company"]);
    }

    #[test]
    fn phones_need_digits() {
        let mut v = Violations::default();
        assert_eq!(phone(&mut v, "p", "+33 (0)6 12-34.56.78"), "+33 (0)6 12-34.56.78");
        assert_eq!(phone(&mut v, "p", ""), "");
        assert!(v.is_empty());
        phone(&mut v, "p", "call me");
        phone(&mut v, "p", "12");
        assert_eq!(v.0.len(), 2);
    }
}
