//! The board as a spreadsheet: the cards a listing selects, as a CSV file
//! (RFC 4180) written one page at a time, so that its size never shows in
//! the process's memory.

use std::borrow::Cow;

use astro_authorizer::Claims;
use astro_proto::v1::{
    Budget, ExportProspectsRequest, ExportProspectsResponse, FitGrade, ListProspectsRequest, Prospect, ProspectStatus,
    Timeline,
};
use tokio::sync::mpsc;

use super::{
    DomainError, DomainResult, FieldViolation,
    prospects::{COLUMNS, MAX_PAGE_SIZE, Prospects, check},
    validation::Violations,
};

/// The language of the header row and of the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

/// How the file is written.
#[derive(Debug, Clone, Copy)]
pub struct CsvOptions {
    pub separator: u8,
    pub byte_order_mark: bool,
    pub lang: Lang,
}

impl CsvOptions {
    fn parse(v: &mut Violations, request: &ExportProspectsRequest) -> Self {
        let separator = match request.separator.as_str() {
            "" | "," => b',',
            ";" => b';',
            _ => {
                v.add("separator", "\",\" (the default) or \";\"");
                b','
            }
        };
        let lang = match request.language.as_str() {
            "" | "en" => Lang::En,
            "fr" => Lang::Fr,
            _ => {
                v.add("language", "\"en\" (the default) or \"fr\"");
                Lang::En
            }
        };
        Self { separator, byte_order_mark: request.byte_order_mark, lang }
    }
}

/// One column of the file: its header in each language and its cell.
struct Field {
    en: &'static str,
    fr: &'static str,
    cell: for<'a> fn(&'a Prospect, Lang) -> Cow<'a, str>,
}

const fn field(en: &'static str, fr: &'static str, cell: for<'a> fn(&'a Prospect, Lang) -> Cow<'a, str>) -> Field {
    Field { en, fr, cell }
}

/// The file's columns, in order.
const FIELDS: [Field; 29] = [
    field("Id", "Identifiant", |p, _| p.id.as_str().into()),
    field("Created at", "Créé le", |p, _| date(&p.created_at)),
    field("Status", "Statut", |p, l| status_word(p.status(), l).into()),
    field("First name", "Prénom", |p, _| p.first_name.as_str().into()),
    field("Last name", "Nom", |p, _| p.last_name.as_str().into()),
    field("Email", "E-mail", |p, _| p.email.as_str().into()),
    field("Phone", "Téléphone", |p, _| p.phone.as_str().into()),
    field("Company", "Entreprise", |p, _| p.company.as_str().into()),
    field("Job title", "Fonction", |p, _| p.job_title.as_str().into()),
    field("Budget", "Budget", |p, l| budget_word(p.budget(), l).into()),
    field("Timeline", "Échéance", |p, l| timeline_word(p.timeline(), l).into()),
    field("Message", "Message", |p, _| p.message.as_str().into()),
    field("Owner", "Responsable", |p, _| p.owner.as_str().into()),
    field("Fit", "Adéquation", |p, l| grade_word(p.fit.as_ref().map(|f| f.grade()), l).into()),
    field("Fit score", "Score d’adéquation", |p, _| match &p.fit {
        Some(fit) if fit.grade() != FitGrade::Unspecified => fit.score.to_string().into(),
        _ => "".into(),
    }),
    field("Consent", "Consentement", |p, l| yes_no(p.consent.as_ref().is_some_and(|c| c.given), l).into()),
    field("Consent given at", "Consentement donné le", |p, _| date(&p.consent.as_ref().and_then(|c| c.given_at))),
    field("Consent text version", "Version du texte de consentement", |p, _| {
        p.consent.as_ref().map(|c| c.text_version.as_str()).unwrap_or_default().into()
    }),
    field("Consent language", "Langue du consentement", |p, _| {
        p.consent.as_ref().map(|c| c.language.as_str()).unwrap_or_default().into()
    }),
    field("UTM source", "Source UTM", |p, _| source(p, |s| &s.utm_source)),
    field("UTM medium", "Support UTM", |p, _| source(p, |s| &s.utm_medium)),
    field("UTM campaign", "Campagne UTM", |p, _| source(p, |s| &s.utm_campaign)),
    field("Referrer", "Page d’origine", |p, _| source(p, |s| &s.referrer)),
    field("Duplicate of", "Doublon de", |p, _| p.duplicate_of.as_str().into()),
    field("In column since", "Dans la colonne depuis", |p, _| date(&p.status_changed_at)),
    field("First contacted at", "Premier contact le", |p, _| date(&p.first_contacted_at)),
    field("Updated at", "Modifié le", |p, _| date(&p.updated_at)),
    field("Form", "Formulaire", |p, _| match &p.form {
        Some(form) if !form.name.is_empty() => format!("{} v{}", form.name, form.version).into(),
        _ => "".into(),
    }),
    field("Answers", "Réponses", answers),
];

/// A card's answers, one line each: "label: value", as the visitor saw the
/// question (a later version of the form changes none).
fn answers(p: &Prospect, lang: Lang) -> Cow<'_, str> {
    use astro_proto::v1::QuestionType as Kind;
    let lines: Vec<String> = p
        .answers
        .iter()
        .map(|a| {
            let value = match Kind::try_from(a.kind).unwrap_or_default() {
                Kind::SingleChoice | Kind::MultipleChoice => a.choice_labels.join(", "),
                Kind::Number => a.number.to_string(),
                Kind::YesNo => yes_no(a.yes, lang).to_owned(),
                Kind::ShortText | Kind::LongText | Kind::Unspecified => a.text.clone(),
            };
            format!("{}: {value}", a.label)
        })
        .collect();
    lines.join("\n").into()
}

/// The header row's names in `lang`.
pub(super) fn headers(lang: Lang) -> Vec<&'static str> {
    FIELDS.iter().map(|f| if lang == Lang::Fr { f.fr } else { f.en }).collect()
}

fn source<'a>(p: &'a Prospect, part: fn(&'a astro_proto::v1::Source) -> &'a String) -> Cow<'a, str> {
    p.source.as_ref().map(|s| part(s).as_str()).unwrap_or_default().into()
}

/// ISO 8601 in UTC, to the second (`2026-11-30T18:05:00Z`); empty when unset.
fn date(at: &Option<prost_types::Timestamp>) -> Cow<'static, str> {
    match at.as_ref().and_then(|t| jiff::Timestamp::new(t.seconds, 0).ok()) {
        Some(at) => at.to_string().into(),
        None => "".into(),
    }
}

pub(super) fn status_word(status: ProspectStatus, lang: Lang) -> &'static str {
    use ProspectStatus::*;
    match (status, lang) {
        (New, Lang::En) => "New",
        (New, Lang::Fr) => "Nouveau",
        (Contacted, Lang::En) => "Contacted",
        (Contacted, Lang::Fr) => "Contacté",
        (Qualified, Lang::En) => "Qualified",
        (Qualified, Lang::Fr) => "Qualifié",
        (Won, Lang::En) => "Won",
        (Won, Lang::Fr) => "Gagné",
        (Lost, Lang::En) => "Lost",
        (Lost, Lang::Fr) => "Perdu",
        (Unspecified, _) => "",
    }
}

/// The words the form shows for each choice.
pub(super) fn budget_word(budget: Budget, lang: Lang) -> &'static str {
    use Budget::*;
    match (budget, lang) {
        (Under5k, Lang::En) => "Under €5k",
        (Under5k, Lang::Fr) => "Moins de 5 k€",
        (Budget5kTo20k, Lang::En) => "€5k to €20k",
        (Budget5kTo20k, Lang::Fr) => "5 à 20 k€",
        (Budget20kTo50k, Lang::En) => "€20k to €50k",
        (Budget20kTo50k, Lang::Fr) => "20 à 50 k€",
        (Over50k, Lang::En) => "Over €50k",
        (Over50k, Lang::Fr) => "Plus de 50 k€",
        (Unspecified, _) => "",
    }
}

pub(super) fn timeline_word(timeline: Timeline, lang: Lang) -> &'static str {
    use Timeline::*;
    match (timeline, lang) {
        (Immediate, Lang::En) => "As soon as possible",
        (Immediate, Lang::Fr) => "Dès que possible",
        (Within3Months, Lang::En) => "Within 3 months",
        (Within3Months, Lang::Fr) => "Sous 3 mois",
        (Within6Months, Lang::En) => "Within 6 months",
        (Within6Months, Lang::Fr) => "Sous 6 mois",
        (Later, Lang::En) => "Later",
        (Later, Lang::Fr) => "Plus tard",
        (Unspecified, _) => "",
    }
}

fn grade_word(grade: Option<FitGrade>, lang: Lang) -> &'static str {
    match (grade, lang) {
        (Some(FitGrade::Hot), Lang::En) => "Hot",
        (Some(FitGrade::Hot), Lang::Fr) => "Chaud",
        (Some(FitGrade::Warm), Lang::En) => "Warm",
        (Some(FitGrade::Warm), Lang::Fr) => "Tiède",
        (Some(FitGrade::Cold), Lang::En) => "Cold",
        (Some(FitGrade::Cold), Lang::Fr) => "Froid",
        (Some(FitGrade::Unspecified) | None, _) => "",
    }
}

fn yes_no(yes: bool, lang: Lang) -> &'static str {
    match (yes, lang) {
        (true, Lang::En) => "Yes",
        (true, Lang::Fr) => "Oui",
        (false, Lang::En) => "No",
        (false, Lang::Fr) => "Non",
    }
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab,
/// carriage return first) gets a leading `'`, after OWASP's advice on CSV
/// injection: the spreadsheet shows it as text.
pub fn neutralised(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Writes rows of cards into CSV bytes.
pub struct CsvWriter {
    options: CsvOptions,
    header_written: bool,
}

impl CsvWriter {
    pub fn new(options: CsvOptions) -> Self {
        Self { options, header_written: false }
    }

    /// The next bytes of the file: the byte order mark and the header row
    /// before the first cards, then one row per card.
    pub fn rows(&mut self, cards: &[Prospect]) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 * (cards.len() + 1));
        let header = !std::mem::replace(&mut self.header_written, true);
        if header && self.options.byte_order_mark {
            out.extend_from_slice("\u{feff}".as_bytes());
        }
        let mut csv = csv::WriterBuilder::new()
            .delimiter(self.options.separator)
            .quote_style(csv::QuoteStyle::Always)
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        let lang = self.options.lang;
        // Writing into memory cannot fail.
        if header {
            csv.write_record(headers(lang)).expect("CSV into memory");
        }
        for card in cards {
            let cells = FIELDS.iter().map(|f| neutralised(&(f.cell)(card, lang)).into_owned());
            csv.write_record(cells).expect("CSV into memory");
        }
        csv.into_inner().expect("CSV into memory")
    }
}

/// The listings an export reads one after the other: the filter itself, or
/// with no column, no search and no email, the filter once per column; and
/// with `overdue` and `stale` both, the board's late view: NEW's overdue
/// cards, then each other column's stale ones.
fn listings(filter: &ListProspectsRequest) -> Vec<ListProspectsRequest> {
    let whole_board = filter.status == 0 && filter.query.trim().is_empty() && filter.email.trim().is_empty();
    let per_column = |status: ProspectStatus| ListProspectsRequest { status: status as i32, ..filter.clone() };
    match (whole_board, filter.overdue, filter.stale) {
        (true, false, false) => COLUMNS.map(per_column).to_vec(),
        (true, true, true) => COLUMNS
            .map(|status| ListProspectsRequest {
                overdue: status == ProspectStatus::New,
                stale: status != ProspectStatus::New,
                ..per_column(status)
            })
            .to_vec(),
        _ => vec![filter.clone()],
    }
}

/// The pages of an export, read one at a time.
struct Pages {
    prospects: Prospects,
    caller: Claims,
    listings: std::vec::IntoIter<ListProspectsRequest>,
    current: Option<ListProspectsRequest>,
}

impl Pages {
    /// The next page with cards, `None` after the last.
    async fn next(&mut self) -> DomainResult<Option<Vec<Prospect>>> {
        loop {
            let Some(listing) = self.current.take().or_else(|| self.listings.next()) else { return Ok(None) };
            let request = ListProspectsRequest { page_size: MAX_PAGE_SIZE as i32, ..listing.clone() };
            let page = self.prospects.page_of(&self.caller, request, false).await?;
            if !page.next_page_token.is_empty() {
                self.current = Some(ListProspectsRequest { page_token: page.next_page_token, ..listing });
            }
            if !page.prospects.is_empty() {
                return Ok(Some(page.prospects));
            }
        }
    }
}

/// A field of the filter, as the export request names it.
fn in_filter(error: DomainError) -> DomainError {
    match error {
        DomainError::Invalid(violations) => DomainError::Invalid(
            violations.into_iter().map(|v| FieldViolation::new(format!("filter.{}", v.field), v.description)).collect(),
        ),
        other => other,
    }
}

/// Chunks of the file in flight between the reader and the caller: the
/// reader waits while they are unread, so memory stays at a few pages.
const CHUNKS_IN_FLIGHT: usize = 2;

impl Prospects {
    /// Checks the request and reads its first page, then streams the file:
    /// an invalid filter fails here, before any byte is sent.
    pub async fn export(
        &self,
        caller: &Claims,
        request: ExportProspectsRequest,
    ) -> DomainResult<mpsc::Receiver<DomainResult<ExportProspectsResponse>>> {
        let mut v = Violations::default();
        let options = CsvOptions::parse(&mut v, &request);
        let filter = request.filter.unwrap_or_default();
        if filter.page_size != 0 {
            v.add("filter.page_size", "an export reads every page: leave it unset");
        }
        if !filter.page_token.is_empty() {
            v.add("filter.page_token", "an export reads every page: leave it unset");
        }
        check(v)?;
        let mut pages = Pages {
            prospects: self.clone(),
            caller: caller.clone(),
            listings: listings(&filter).into_iter(),
            current: None,
        };
        let first = pages.next().await.map_err(in_filter)?;
        let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
        tokio::spawn(async move {
            let mut writer = CsvWriter::new(options);
            let mut rows = 0;
            let mut page = Ok(first);
            // The header row goes out even when nothing matches.
            let mut first_chunk = true;
            loop {
                let cards = match page {
                    Ok(Some(cards)) => cards,
                    Ok(None) if first_chunk => Vec::new(),
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                rows += cards.len() as i64;
                let data = writer.rows(&cards);
                if tx.send(Ok(ExportProspectsResponse { data, rows })).await.is_err() {
                    return; // the caller went away
                }
                if first_chunk && cards.is_empty() {
                    return;
                }
                first_chunk = false;
                page = pages.next().await;
            }
        });
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use astro_proto::v1::{Prospect, ProspectStatus};

    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_start_with_an_apostrophe() {
        for formula in ["=1+2", "+33 6", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralised(formula), format!("'{formula}"));
        }
        for text in ["Ada", "", " =1", "1-2", "'quoted"] {
            assert_eq!(neutralised(text), text);
        }
    }

    #[test]
    fn the_mark_and_the_header_come_once_before_the_first_rows() {
        let options = CsvOptions { separator: b';', byte_order_mark: true, lang: Lang::Fr };
        let mut writer = CsvWriter::new(options);
        let card = Prospect { id: "a".into(), status: ProspectStatus::Won as i32, ..Default::default() };
        let first = String::from_utf8(writer.rows(&[])).unwrap();
        assert!(first.starts_with("\u{feff}\"Identifiant\";\"Créé le\";\"Statut\";"), "{first}");
        assert!(first.ends_with("\"Modifié le\";\"Formulaire\";\"Réponses\"\r\n"));
        let next = String::from_utf8(writer.rows(std::slice::from_ref(&card))).unwrap();
        assert!(next.starts_with("\"a\";\"\";\"Gagné\";"), "{next}");
        assert_eq!(next.matches('\u{feff}').count() + next.matches("Identifiant").count(), 0);
        assert_eq!(next.matches(';').count(), FIELDS.len() - 1);
    }

    #[test]
    fn a_cards_answers_are_one_line_each_in_the_files_language() {
        use astro_proto::v1::{Answer, FormRef, QuestionType as Kind};
        let answer = |label: &str, kind: Kind| Answer { label: label.into(), kind: kind as i32, ..Default::default() };
        let card = Prospect {
            form: Some(FormRef { name: "salon-2027".into(), version: 3 }),
            answers: vec![
                Answer {
                    choice_labels: vec!["Retail".into(), "Software".into()],
                    ..answer("Sectors", Kind::MultipleChoice)
                },
                Answer { number: 12.5, ..answer("Seats", Kind::Number) },
                Answer { yes: true, ..answer("A demo?", Kind::YesNo) },
                Answer { text: "=HYPERLINK()".into(), ..answer("Tool", Kind::ShortText) },
            ],
            ..Default::default()
        };
        let cell = |name: &str| {
            let i = headers(Lang::Fr).iter().position(|h| *h == name).unwrap();
            (FIELDS[i].cell)(&card, Lang::Fr).into_owned()
        };
        assert_eq!(cell("Formulaire"), "salon-2027 v3");
        assert_eq!(cell("Réponses"), "Sectors: Retail, Software\nSeats: 12.5\nA demo?: Oui\nTool: =HYPERLINK()");
        // A label starts each line, so the cell never starts a formula.
        assert_eq!(neutralised(&cell("Réponses")), cell("Réponses"));
    }

    #[test]
    fn every_listing_of_the_whole_board_is_read_column_by_column() {
        let by_owner = ListProspectsRequest { owner: "me".into(), ..Default::default() };
        let read = listings(&by_owner);
        assert_eq!(read.iter().map(|l| l.status).collect::<Vec<_>>(), COLUMNS.map(|c| c as i32));
        assert!(read.iter().all(|l| l.owner == "me"));
        for one in [
            ListProspectsRequest { status: ProspectStatus::Lost as i32, ..Default::default() },
            ListProspectsRequest { query: "ada".into(), ..Default::default() },
            ListProspectsRequest { email: "a@example.com".into(), ..Default::default() },
            ListProspectsRequest { overdue: true, ..Default::default() },
        ] {
            assert_eq!(listings(&one), std::slice::from_ref(&one));
        }
        let late = listings(&ListProspectsRequest { overdue: true, stale: true, ..Default::default() });
        let read: Vec<_> = late.iter().map(|l| (l.status, l.overdue, l.stale)).collect();
        let new = ProspectStatus::New as i32;
        let expected: Vec<_> = COLUMNS.map(|c| (c as i32, c as i32 == new, c as i32 != new)).to_vec();
        assert_eq!(read, expected, "NEW's overdue cards, then each other column's stale ones");
    }
}
