//! Reading a spreadsheet's CSV for an import: the file checked as a whole
//! (size, encoding, shape), its columns mapped to the card's fields by their
//! headers (French or English, our own export's included), and each row made
//! into a card or refused with the columns at fault named.
//!
//! This is the import's reader; the import job (drafts, the background run
//! that resumes after a restart, undo) is built on it.

use astro_proto::v1::{Budget, Consent, Prospect, ProspectStatus, Source, Timeline};

use super::{
    FieldViolation,
    export::{Lang, budget_word, status_word, timeline_word},
    validation::{self, Violations},
};

/// The largest file: one gRPC-web call through API Gateway (10 MB a
/// payload), with room for the rest of the request.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;
/// The most data rows a file may have.
pub const MAX_ROWS: usize = 50_000;
/// The most columns a file may have.
pub const MAX_COLUMNS: usize = 200;

/// A card field a column can feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    FirstName,
    LastName,
    Email,
    Phone,
    Company,
    JobTitle,
    Message,
    Budget,
    Timeline,
    Status,
    Owner,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    Referrer,
    Consent,
}

impl Target {
    pub const ALL: [Target; 16] = [
        Target::FirstName,
        Target::LastName,
        Target::Email,
        Target::Phone,
        Target::Company,
        Target::JobTitle,
        Target::Message,
        Target::Budget,
        Target::Timeline,
        Target::Status,
        Target::Owner,
        Target::UtmSource,
        Target::UtmMedium,
        Target::UtmCampaign,
        Target::Referrer,
        Target::Consent,
    ];

    /// The contract's field path (`first_name`, `source.utm_source`).
    pub fn field(self) -> &'static str {
        match self {
            Target::FirstName => "first_name",
            Target::LastName => "last_name",
            Target::Email => "email",
            Target::Phone => "phone",
            Target::Company => "company",
            Target::JobTitle => "job_title",
            Target::Message => "message",
            Target::Budget => "budget",
            Target::Timeline => "timeline",
            Target::Status => "status",
            Target::Owner => "owner",
            Target::UtmSource => "source.utm_source",
            Target::UtmMedium => "source.utm_medium",
            Target::UtmCampaign => "source.utm_campaign",
            Target::Referrer => "source.referrer",
            Target::Consent => "consent",
        }
    }

    pub fn from_field(field: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.field() == field)
    }

    /// Headers that name it, in French and English (our export's included),
    /// compared without case, accents, spaces or punctuation.
    fn headers(self) -> &'static [&'static str] {
        match self {
            Target::FirstName => &["first name", "firstname", "given name", "forename", "prénom", "prenom"],
            Target::LastName => &["last name", "lastname", "surname", "family name", "name", "nom", "nom de famille"],
            Target::Email => &[
                "email",
                "e-mail",
                "email address",
                "e-mail address",
                "mail",
                "courriel",
                "adresse e-mail",
                "adresse mail",
            ],
            Target::Phone => &["phone", "phone number", "telephone", "téléphone", "tel", "tél", "mobile", "portable"],
            Target::Company => &[
                "company",
                "company name",
                "organization",
                "organisation",
                "account",
                "entreprise",
                "société",
                "societe",
            ],
            Target::JobTitle => &["job title", "title", "position", "role", "fonction", "poste", "titre"],
            Target::Message => {
                &["message", "notes", "note", "comment", "comments", "commentaire", "commentaires", "description"]
            }
            Target::Budget => &["budget"],
            Target::Timeline => &["timeline", "timeframe", "échéance", "echeance", "délai", "delai"],
            Target::Status => &["status", "stage", "statut", "étape", "etape", "colonne", "column"],
            Target::Owner => &["owner", "assigned to", "sales rep", "responsable", "commercial"],
            Target::UtmSource => &["utm source", "utm_source", "source utm", "source"],
            Target::UtmMedium => &["utm medium", "utm_medium", "support utm", "medium"],
            Target::UtmCampaign => &["utm campaign", "utm_campaign", "campagne utm", "campaign", "campagne"],
            Target::Referrer => &["referrer", "referer", "page d’origine", "page d'origine"],
            Target::Consent => &["consent", "consentement", "opt-in", "optin"],
        }
    }
}

/// Lower-cased, without accents, letters and digits only: how headers and
/// words compare.
fn folded(text: &str) -> String {
    validation::search_key(text).chars().filter(|c| c.is_alphanumeric()).collect()
}

/// The field each column feeds, guessed from the headers; a field is fed by
/// its first column only.
pub fn guess(headers: &[String]) -> Vec<Option<Target>> {
    let mut taken = Vec::new();
    headers
        .iter()
        .map(|header| {
            let header = folded(header);
            let found =
                Target::ALL.into_iter().find(|t| !taken.contains(t) && t.headers().iter().any(|h| folded(h) == header));
            taken.extend(found);
            found
        })
        .collect()
}

/// Why a file cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    #[error("the file is {bytes} bytes; at most {max} ({} MB): split it", max / (1024 * 1024))]
    TooBig { bytes: usize, max: usize },
    #[error("the file is empty")]
    Empty,
    #[error(
        "the file is not UTF-8 (line {line}): in your spreadsheet, save it as \"CSV UTF-8\" (Excel: File › Save as › CSV UTF-8)"
    )]
    NotUtf8 { line: usize },
    #[error("the file has {rows} rows; at most {max}: split it")]
    TooManyRows { rows: usize, max: usize },
    #[error("the header row has {columns} columns; at most {max}")]
    TooManyColumns { columns: usize, max: usize },
    #[error("line {line} is not CSV: {why}")]
    Malformed { line: u64, why: String },
}

/// A file read: its separator, its header row and its data rows (each with
/// the line it starts on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub separator: u8,
    pub headers: Vec<String>,
    pub rows: Vec<(u64, Vec<String>)>,
}

/// Reads a CSV file: UTF-8 (a byte order mark is dropped), cells separated
/// by `,`, `;` or tabs (the most frequent in the header row).
pub fn read(bytes: &[u8]) -> Result<Table, FileProblem> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileProblem::TooBig { bytes: bytes.len(), max: MAX_FILE_BYTES });
    }
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| FileProblem::NotUtf8 {
        line: 1 + bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count(),
    })?;
    if text.trim().is_empty() {
        return Err(FileProblem::Empty);
    }
    let first_line = text.lines().next().unwrap_or_default();
    let separator =
        [b',', b';', b'\t'].into_iter().max_by_key(|s| first_line.bytes().filter(|b| b == s).count()).unwrap_or(b',');
    let mut reader =
        csv::ReaderBuilder::new().delimiter(separator).has_headers(false).flexible(true).from_reader(text.as_bytes());
    let malformed = |e: csv::Error| FileProblem::Malformed {
        line: e.position().map(|p| p.line()).unwrap_or_default(),
        why: e.to_string(),
    };
    let mut record = csv::StringRecord::new();
    if !reader.read_record(&mut record).map_err(malformed)? {
        return Err(FileProblem::Empty);
    }
    let headers: Vec<String> = record.iter().map(|h| h.trim().to_owned()).collect();
    if headers.len() > MAX_COLUMNS {
        return Err(FileProblem::TooManyColumns { columns: headers.len(), max: MAX_COLUMNS });
    }
    let mut rows = Vec::new();
    // Lines counted up to `counted` so far (rows come in file order).
    let (mut counted, mut lines_before) = (0usize, 0u64);
    loop {
        if !reader.read_record(&mut record).map_err(malformed)? {
            break;
        }
        // The line the row starts on (counted from its byte offset: the
        // reader's own line count lags behind CRLF line ends).
        let mut start = record.position().map_or(0, |p| p.byte() as usize).min(text.len());
        // It may point at the previous line's end (CRLF): the row starts after it.
        start += text.as_bytes()[start..].iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
        if start > counted {
            lines_before += text.as_bytes()[counted..start].iter().filter(|b| **b == b'\n').count() as u64;
            counted = start;
        }
        let line = 1 + lines_before;
        // A line of nothing but separators is no row.
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(FileProblem::TooManyRows { rows: rows.len() + 1, max: MAX_ROWS });
        }
        rows.push((line, record.iter().map(str::to_owned).collect()));
    }
    Ok(Table { separator, headers, rows })
}

/// A cell as a spreadsheet formula would start: refused, never stored. A
/// phone number (`+33 …`) or a negative number is not one; our export's
/// `'` before a neutralised cell is dropped first.
fn cell_text(cell: &str) -> Result<String, &'static str> {
    let cell = cell.trim();
    let cell = match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    };
    let mut chars = cell.chars();
    let formula = match chars.next() {
        Some('=' | '@') => true,
        Some('+' | '-') => chars.next().is_some_and(|c| !(c.is_ascii_digit() || c == ' ' || c == '(')),
        _ => false,
    };
    match formula {
        true => Err("looks like a spreadsheet formula: not imported"),
        false => Ok(cell.to_owned()),
    }
}

/// The value of an enum written as our export writes it (either language)
/// or by its name (`UNDER_5K`, `under_5k`, `PROSPECT_STATUS_WON`).
fn word<E: Copy>(
    text: &str,
    values: &[E],
    words: fn(E, Lang) -> &'static str,
    name: fn(E) -> &'static str,
) -> Option<E> {
    let text = folded(text);
    values.iter().copied().find(|v| {
        [folded(words(*v, Lang::En)), folded(words(*v, Lang::Fr)), folded(name(*v))]
            .iter()
            .any(|w| !w.is_empty() && (*w == text || w.ends_with(&text) && text.len() >= 3))
    })
}

fn yes_no(text: &str) -> Option<bool> {
    match folded(text).as_str() {
        "yes" | "y" | "oui" | "o" | "true" | "vrai" | "1" | "x" => Some(true),
        "no" | "n" | "non" | "false" | "faux" | "0" | "" => Some(false),
        _ => None,
    }
}

/// Makes a card of one row, or names each column at fault (by its header;
/// `row` for the row itself). Consent comes from its column when mapped,
/// else from the import's confirmation (`consent_confirmed`).
pub fn card(
    headers: &[String],
    mapping: &[Option<Target>],
    cells: &[String],
    consent_confirmed: bool,
) -> Result<Prospect, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    if cells.len() > headers.len() {
        errors.push(FieldViolation::new(
            "row",
            format!(
                "has {} cells where the header row has {}: a separator inside an unquoted cell?",
                cells.len(),
                headers.len()
            ),
        ));
        return Err(errors);
    }
    let mut p = Prospect { source: Some(Source::default()), ..Default::default() };
    let mut consent = None;
    let mut column_of = std::collections::HashMap::new();
    for ((header, target), cell) in
        headers.iter().zip(mapping).zip(cells.iter().map(String::as_str).chain(std::iter::repeat("")))
    {
        let Some(target) = *target else { continue };
        column_of.insert(target.field(), header.clone());
        let text = match cell_text(cell) {
            Ok(text) => text,
            Err(why) => {
                errors.push(FieldViolation::new(header, why));
                continue;
            }
        };
        let source = p.source.get_or_insert_default();
        let mut bad = |why: &str| errors.push(FieldViolation::new(header, why));
        match target {
            Target::FirstName => p.first_name = text,
            Target::LastName => p.last_name = text,
            Target::Email => p.email = text,
            Target::Phone => p.phone = text,
            Target::Company => p.company = text,
            Target::JobTitle => p.job_title = text,
            Target::Message => p.message = text,
            Target::Owner => p.owner = text,
            Target::UtmSource => source.utm_source = text,
            Target::UtmMedium => source.utm_medium = text,
            Target::UtmCampaign => source.utm_campaign = text,
            Target::Referrer => source.referrer = text,
            Target::Budget if text.is_empty() => {}
            Target::Budget => {
                const ALL: [Budget; 4] =
                    [Budget::Under5k, Budget::Budget5kTo20k, Budget::Budget20kTo50k, Budget::Over50k];
                match word(&text, &ALL, budget_word, |b| b.as_str_name()) {
                    Some(b) => p.budget = b as i32,
                    None => bad("is not a budget: Under €5k, €5k to €20k, €20k to €50k, Over €50k (or in French)"),
                }
            }
            Target::Timeline if text.is_empty() => {}
            Target::Timeline => {
                const ALL: [Timeline; 4] =
                    [Timeline::Immediate, Timeline::Within3Months, Timeline::Within6Months, Timeline::Later];
                match word(&text, &ALL, timeline_word, |t| t.as_str_name()) {
                    Some(t) => p.timeline = t as i32,
                    None => bad("is not a timeline: As soon as possible, Within 3 months, Within 6 months, Later"),
                }
            }
            Target::Status if text.is_empty() => {}
            Target::Status => match word(&text, &super::prospects::COLUMNS, status_word, |s| s.as_str_name()) {
                Some(s) => p.status = s as i32,
                None => bad("is not a column: New, Contacted, Qualified, Won, Lost (or in French)"),
            },
            Target::Consent => match yes_no(&text) {
                Some(given) => consent = Some(given),
                None => bad("is not yes or no"),
            },
        }
    }
    let given = consent.unwrap_or(consent_confirmed);
    if !given {
        let column = column_of.get("consent").cloned().unwrap_or_else(|| "consent".to_owned());
        errors.push(FieldViolation::new(column, "no consent to be contacted: not imported"));
    }
    p.consent = Some(Consent { given, ..Default::default() });
    let mut v = Violations::default();
    validation::prospect_fields(&mut v, "p", &mut p);
    if !p.owner.is_empty() {
        p.owner = validation::email(&mut v, "p.owner", &p.owner);
    }
    for violation in v.0 {
        let field = violation.field.trim_start_matches("p.");
        let column = column_of.get(field).cloned().unwrap_or_else(|| field.to_owned());
        if !errors.iter().any(|e| e.field == column) {
            errors.push(FieldViolation::new(column, violation.description));
        }
    }
    if p.status == 0 {
        p.status = ProspectStatus::New as i32;
    }
    match errors.is_empty() {
        true => Ok(p),
        false => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn columns_are_guessed_from_french_and_english_headers() {
        let french = strings(&[
            "Prénom",
            "NOM",
            "Adresse e-mail",
            "Téléphone",
            "Société",
            "Poste",
            "Échéance",
            "Statut",
            "Divers",
        ]);
        let guessed: Vec<_> = guess(&french).into_iter().map(|t| t.map(Target::field)).collect();
        assert_eq!(
            guessed,
            [
                Some("first_name"),
                Some("last_name"),
                Some("email"),
                Some("phone"),
                Some("company"),
                Some("job_title"),
                Some("timeline"),
                Some("status"),
                None
            ]
        );
        let english = strings(&["First Name", "Last name", "E-mail", "Company", "UTM Campaign", "Notes", "Email"]);
        let guessed: Vec<_> = guess(&english).into_iter().map(|t| t.map(Target::field)).collect();
        assert_eq!(
            guessed,
            [
                Some("first_name"),
                Some("last_name"),
                Some("email"),
                Some("company"),
                Some("source.utm_campaign"),
                Some("message"),
                None
            ],
            "a field is fed by its first column only"
        );
        // Our own export reads back, in both languages.
        for lang in [Lang::En, Lang::Fr] {
            let headers = strings(&super::super::export::headers(lang));
            let guessed = guess(&headers);
            for target in
                [Target::FirstName, Target::LastName, Target::Email, Target::Status, Target::Budget, Target::Owner]
            {
                assert!(guessed.contains(&Some(target)), "{lang:?} export: {target:?} in {headers:?}");
            }
        }
    }

    #[test]
    fn bad_files_get_clear_answers() {
        assert!(matches!(read(&vec![b'a'; MAX_FILE_BYTES + 1]), Err(FileProblem::TooBig { .. })));
        let latin1 = b"Pr\xe9nom;Nom\nL\xe9a;Martin\n";
        let refused = read(latin1).unwrap_err();
        assert_eq!(refused, FileProblem::NotUtf8 { line: 1 });
        assert!(refused.to_string().contains("CSV UTF-8"));
        assert_eq!(read(b"  \n").unwrap_err(), FileProblem::Empty);
        let wide = (0..=MAX_COLUMNS).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
        assert!(matches!(read(wide.as_bytes()), Err(FileProblem::TooManyColumns { .. })));
    }

    #[test]
    fn a_file_is_read_with_its_separator_and_lines() {
        let table = read("\u{feff}Prénom;Nom;E-mail\r\nLéa;Martin;lea@example.com\r\n;;\r\n\"Jean; Paul\";\"Du\nPont\";jp@example.com\r\n".as_bytes()).unwrap();
        assert_eq!(table.separator, b';');
        assert_eq!(table.headers, ["Prénom", "Nom", "E-mail"]);
        assert_eq!(table.rows.len(), 2, "the empty line is no row");
        assert_eq!(table.rows[0], (2, strings(&["Léa", "Martin", "lea@example.com"])));
        assert_eq!(table.rows[1], (4, strings(&["Jean; Paul", "Du\nPont", "jp@example.com"])));
    }

    #[test]
    fn a_row_becomes_a_card_or_names_its_bad_columns() {
        let headers = strings(&["First name", "Last name", "Email", "Phone", "Budget", "Status", "Consent"]);
        let mapping = guess(&headers);
        let row = strings(&["Léa", "Martin", "Lea@Example.com", "'+33 6 12 34 56 78", "Plus de 50 k€", "Gagné", "oui"]);
        let made = card(&headers, &mapping, &row, false).unwrap();
        assert_eq!((made.email.as_str(), made.phone.as_str()), ("lea@example.com", "+33 6 12 34 56 78"));
        assert_eq!((made.budget, made.status), (Budget::Over50k as i32, ProspectStatus::Won as i32));
        assert!(made.consent.unwrap().given);

        let row = strings(&["=HYPERLINK(\"x\")", "", "not an email", "", "a lot", "Archived", "non"]);
        let errors = card(&headers, &mapping, &row, true).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["First name", "Budget", "Status", "Consent", "Last name", "Email"]);
        assert!(errors[0].description.contains("formula"));

        let too_many = strings(&["a", "b", "c", "d", "e", "f", "g", "h"]);
        assert_eq!(card(&headers, &mapping, &too_many, true).unwrap_err()[0].field, "row");
        // Without a consent column, the import's confirmation speaks for every row.
        let headers = strings(&["Prénom", "Nom", "Courriel"]);
        let row = strings(&["Léa", "Martin", "lea@example.com"]);
        assert!(card(&headers, &guess(&headers), &row, true).is_ok());
        let refused = card(&headers, &guess(&headers), &row, false).unwrap_err();
        assert_eq!(refused[0].field, "consent");
    }
}
