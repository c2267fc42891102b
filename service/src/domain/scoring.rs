//! The fit score: the team's rules turn a prospect's answers into points
//! and a grade, in the write that creates or edits the card.
//!
//! The rules are one item (absent: the shipped defaults, version 1); each
//! change is the next version, saved with a copy kept for the record. An
//! instance keeps the rules it read for [`RULES_TTL`]. When they change,
//! every card is scored again by the [`Rescorer`]: one `Rescore` item says
//! how far it has got, and whichever instance holds its lease moves it on a
//! page at a time — so it resumes after a restart, and a card already on
//! the new version is never written again. It starts [`RULES_TTL`] after
//! the change: from then on every instance scores the cards it writes with
//! the new rules, so a card moved into a column already done is scored by
//! its own move.

use std::{
    collections::HashSet,
    sync::{Arc, LazyLock, Mutex},
    time::Duration,
};

use astro_authorizer::Claims;
use astro_proto::{
    storage::timestamp_key,
    v1::{
        AnswerPoints, BoardChangeKind, Budget, BudgetPoints, FitGrade, FitRule, FitScore, FitScorePart,
        ListScoringRulesRevisionsRequest, ListScoringRulesRevisionsResponse, Prospect, ProspectStatus, QuestionType,
        Rescore, RescoreState, ScoringRules, Timeline, TimelinePoints, WordGroup,
    },
};
use tokio::sync::Notify;

use super::{
    DomainError, DomainResult, board,
    clock::{Clock, after, plus},
    page_token::{PagePosition, page_size},
    prospects::COLUMNS,
    validation::{self, Violations},
};
use crate::{
    keys::KeyRing,
    store::{Column, ColumnPosition, ProspectChange, Store, StoreError},
};

/// How long an instance keeps the rules it read.
pub const RULES_TTL: Duration = Duration::from_secs(2);
/// How long a rescorer holds the job between two pages.
pub const LEASE: Duration = Duration::from_secs(30);
/// Cards a rescorer scores per step.
pub const PAGE: usize = 100;
/// The board's record of a re-scored card names this as its author.
pub const ACTOR: &str = "scoring";
/// Fields an update may name.
pub const UPDATABLE_FIELDS: [&str; 9] = [
    "budget",
    "timeline",
    "job_title",
    "business_email_points",
    "phone_points",
    "message",
    "hot_threshold",
    "warm_threshold",
    "answers",
];
/// Answer rules at most.
const MAX_ANSWER_RULES: usize = 200;

const MAX_POINTS: i32 = 100;
const MAX_THRESHOLD: i32 = 1000;
const MAX_GROUPS: usize = 10;
const MAX_WORDS: usize = 50;
const MAX_TEXT: usize = 40;
/// Added to a score in its key: every possible score (at most 2,400 either
/// way) has a positive six-digit key.
const SCORE_OFFSET: i32 = 100_000;

static FREE_MAIL: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("free-mail-domains.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// Whether `email` is at a free-mail provider (the shipped list).
pub fn is_free_mail(email: &str) -> bool {
    email.rsplit_once('@').is_some_and(|(_, domain)| FREE_MAIL.contains(domain.to_lowercase().as_str()))
}

fn group(name: &str, words: &[&str], points: i32) -> WordGroup {
    WordGroup { name: name.to_owned(), words: words.iter().map(|w| (*w).to_owned()).collect(), points }
}

/// The rules a team starts with (version 1). A CEO with a budget over 50 k€
/// starting now, at a company address with a phone, scores 90: HOT; a
/// student asking for a brochure from a free-mail address, -10: COLD.
pub fn defaults() -> ScoringRules {
    ScoringRules {
        budget: [
            (Budget::Under5k, 0),
            (Budget::Budget5kTo20k, 10),
            (Budget::Budget20kTo50k, 20),
            (Budget::Over50k, 30),
        ]
        .map(|(budget, points)| BudgetPoints { budget: budget as i32, points })
        .to_vec(),
        timeline: [
            (Timeline::Immediate, 25),
            (Timeline::Within3Months, 15),
            (Timeline::Within6Months, 5),
            (Timeline::Later, 0),
        ]
        .map(|(timeline, points)| TimelinePoints { timeline: timeline as i32, points })
        .to_vec(),
        job_title: vec![
            group(
                "Decision makers",
                &[
                    "ceo",
                    "cto",
                    "cfo",
                    "coo",
                    "cmo",
                    "founder",
                    "co-founder",
                    "fondateur",
                    "fondatrice",
                    "cofondateur",
                    "president",
                    "présidente",
                    "owner",
                    "gérant",
                    "gérante",
                    "pdg",
                    "dg",
                    "directeur",
                    "directrice",
                    "director",
                    "head of",
                    "vp",
                    "vice president",
                    "partner",
                    "associé",
                ],
                20,
            ),
            group("Managers", &["manager", "responsable", "lead", "chef de", "chef", "manageur"], 10),
            group("Students", &["student", "étudiant", "étudiante", "stagiaire", "intern", "alternant"], -10),
        ],
        business_email_points: 10,
        phone_points: 5,
        message: vec![group(
            "Buying signals",
            &[
                "devis",
                "quote",
                "pricing",
                "tarif",
                "tarifs",
                "prix",
                "demo",
                "démo",
                "urgent",
                "asap",
                "rapidement",
                "contrat",
                "contract",
            ],
            10,
        )],
        hot_threshold: 60,
        warm_threshold: 30,
        version: 1,
        ..Default::default()
    }
}

/// Lower-cased, without accents, every run of characters other than
/// letters and digits one space: "Co-Founder & CEO" → "co founder ceo".
pub fn fold(text: &str) -> String {
    let key = validation::search_key(text);
    validation::joined(key.split(|c: char| !c.is_alphanumeric()), |word, out| out.push_str(word))
}

/// The first of `words` found in `folded` as whole words: its index.
/// `padded` are the words folded, each between two spaces.
fn find_word(folded: &str, padded: &[String]) -> Option<usize> {
    let text = format!(" {folded} ");
    padded.iter().position(|w| w.len() > 2 && text.contains(w.as_str()))
}

fn padded(words: &[String]) -> Vec<String> {
    words.iter().map(|w| format!(" {} ", fold(w))).collect()
}

fn part(rule: FitRule, points: i32, group: &str, matched: &str) -> FitScorePart {
    FitScorePart { rule: rule as i32, points, group: group.to_owned(), matched: matched.to_owned() }
}

/// Rules ready to score cards: every group's words folded once (scoring a
/// card then folds only the card's own texts).
#[derive(Debug)]
pub struct Scorer {
    rules: ScoringRules,
    job_title: Vec<Vec<String>>,
    message: Vec<Vec<String>>,
}

impl Scorer {
    pub fn new(rules: ScoringRules) -> Self {
        let job_title = rules.job_title.iter().map(|g| padded(&g.words)).collect();
        let message = rules.message.iter().map(|g| padded(&g.words)).collect();
        Self { rules, job_title, message }
    }

    pub fn rules(&self) -> &ScoringRules {
        &self.rules
    }

    /// The card's score under these rules, with each rule it meets.
    pub fn score(&self, p: &Prospect) -> FitScore {
        let rules = &self.rules;
        let mut parts = Vec::new();
        if let Some(b) = rules.budget.iter().find(|b| b.budget == p.budget && p.budget != 0 && b.points != 0) {
            parts.push(part(FitRule::Budget, b.points, "", p.budget().as_str_name()));
        }
        if let Some(t) = rules.timeline.iter().find(|t| t.timeline == p.timeline && p.timeline != 0 && t.points != 0) {
            parts.push(part(FitRule::Timeline, t.points, "", p.timeline().as_str_name()));
        }
        let groups = |rule: FitRule, text: &str, groups: &[WordGroup], words: &[Vec<String>], parts: &mut Vec<_>| {
            if text.trim().is_empty() {
                return;
            }
            let folded = fold(text);
            for (g, padded) in groups.iter().zip(words).filter(|(g, _)| g.points != 0) {
                if let Some(i) = find_word(&folded, padded) {
                    parts.push(part(rule, g.points, &g.name, &g.words[i]));
                }
            }
        };
        groups(FitRule::JobTitle, &p.job_title, &rules.job_title, &self.job_title, &mut parts);
        if rules.business_email_points != 0 && p.email.contains('@') && !is_free_mail(&p.email) {
            let domain = p.email.rsplit_once('@').map_or("", |(_, d)| d);
            parts.push(part(FitRule::BusinessEmail, rules.business_email_points, "", domain));
        }
        if rules.phone_points != 0 && !p.phone.trim().is_empty() {
            parts.push(part(FitRule::Phone, rules.phone_points, "", ""));
        }
        groups(FitRule::Message, &p.message, &rules.message, &self.message, &mut parts);
        if let Some(form) = p.form.as_ref().filter(|f| !f.name.is_empty() && !rules.answers.is_empty()) {
            for a in &p.answers {
                let chosen: Vec<&str> = match QuestionType::try_from(a.kind).unwrap_or_default() {
                    QuestionType::YesNo => vec![if a.yes { "yes" } else { "no" }],
                    _ => a.choices.iter().map(String::as_str).collect(),
                };
                for rule in rules.answers.iter().filter(|r| {
                    r.points != 0
                        && r.form == form.name
                        && r.question_id == a.question_id
                        && chosen.contains(&r.choice_id.as_str())
                }) {
                    parts.push(part(FitRule::Answer, rule.points, &rule.question_id, &rule.choice_id));
                }
            }
        }
        let score: i32 = parts.iter().map(|p| p.points).sum();
        let grade = match score {
            s if s >= rules.hot_threshold => FitGrade::Hot,
            s if s >= rules.warm_threshold => FitGrade::Warm,
            _ => FitGrade::Cold,
        };
        FitScore { score, grade: grade as i32, rules_version: rules.version, parts }
    }
}

/// The card's score under `rules` (folding the rules' words: to score many
/// cards, make a [`Scorer`] once).
pub fn score(rules: &ScoringRules, p: &Prospect) -> FitScore {
    Scorer::new(rules.clone()).score(p)
}

/// `Prospect.score_key` of a card: empty before it is scored.
pub fn score_key(p: &Prospect) -> String {
    match &p.fit {
        None => String::new(),
        Some(fit) => format!(
            "{}#{:06}#{}",
            fit.grade,
            fit.score.clamp(-SCORE_OFFSET + 1, SCORE_OFFSET - 1) + SCORE_OFFSET,
            p.created_at.as_ref().map(timestamp_key).unwrap_or_default()
        ),
    }
}

/// The `score_key` prefix of one grade's cards.
pub fn grade_prefix(grade: FitGrade) -> String {
    format!("{}#", grade as i32)
}

fn check_points(v: &mut Violations, field: &str, points: i32) {
    if !(-MAX_POINTS..=MAX_POINTS).contains(&points) {
        v.add(field, format!("must be between -{MAX_POINTS} and {MAX_POINTS}"));
    }
}

fn check_groups(v: &mut Violations, field: &str, groups: &mut [WordGroup]) {
    if groups.len() > MAX_GROUPS {
        v.add(field, format!("at most {MAX_GROUPS} groups"));
    }
    let mut names = HashSet::new();
    for (i, g) in groups.iter_mut().enumerate() {
        let f = format!("{field}[{i}]");
        g.name = g.name.trim().to_owned();
        if g.name.is_empty() || g.name.chars().count() > MAX_TEXT || g.name.chars().any(char::is_control) {
            v.add(format!("{f}.name"), format!("1–{MAX_TEXT} printable characters"));
        } else if !names.insert(g.name.to_lowercase()) {
            v.add(format!("{f}.name"), "another group has this name");
        }
        for w in &mut g.words {
            *w = w.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        g.words.retain(|w| !w.is_empty());
        if g.words.is_empty() || g.words.len() > MAX_WORDS {
            v.add(format!("{f}.words"), format!("1–{MAX_WORDS} words or phrases"));
        }
        if let Some(w) = g.words.iter().find(|w| w.chars().count() > MAX_TEXT || fold(w).is_empty()) {
            v.add(
                format!("{f}.words"),
                format!("{w:?}: each word has 1–{MAX_TEXT} characters, with a letter or digit"),
            );
        }
        check_points(v, &format!("{f}.points"), g.points);
    }
}

/// Answer rules: each names a form, a question and a choice (as forms name
/// them: the rule may come before the question is published), once.
fn check_answers(v: &mut Violations, answers: &mut [AnswerPoints]) {
    if answers.len() > MAX_ANSWER_RULES {
        v.add("rules.answers", format!("at most {MAX_ANSWER_RULES} answer rules"));
    }
    let mut seen = HashSet::new();
    for (i, a) in answers.iter_mut().enumerate() {
        let f = format!("rules.answers[{i}]");
        a.form = a.form.trim().to_owned();
        a.question_id = a.question_id.trim().to_owned();
        a.choice_id = a.choice_id.trim().to_owned();
        super::forms::check_name(v, &format!("{f}.form"), &a.form);
        super::forms::check_id(v, &format!("{f}.question_id"), &a.question_id);
        super::forms::check_id(v, &format!("{f}.choice_id"), &a.choice_id);
        if !seen.insert((a.form.clone(), a.question_id.clone(), a.choice_id.clone())) {
            v.add(format!("{f}.choice_id"), "each form, question and choice once");
        }
        check_points(v, &format!("{f}.points"), a.points);
    }
}

/// Checks (and tidies: names and words trimmed) rules before they are saved.
pub fn check(v: &mut Violations, rules: &mut ScoringRules) {
    let mut seen = HashSet::new();
    for (i, b) in rules.budget.iter().enumerate() {
        let f = format!("rules.budget[{i}]");
        match Budget::try_from(b.budget) {
            Ok(Budget::Unspecified) | Err(_) => v.add(format!("{f}.budget"), "must be a budget band"),
            Ok(_) if !seen.insert(b.budget) => v.add(format!("{f}.budget"), "each band once"),
            Ok(_) => {}
        }
        check_points(v, &format!("{f}.points"), b.points);
    }
    let mut seen = HashSet::new();
    for (i, t) in rules.timeline.iter().enumerate() {
        let f = format!("rules.timeline[{i}]");
        match Timeline::try_from(t.timeline) {
            Ok(Timeline::Unspecified) | Err(_) => v.add(format!("{f}.timeline"), "must be a timeline"),
            Ok(_) if !seen.insert(t.timeline) => v.add(format!("{f}.timeline"), "each timeline once"),
            Ok(_) => {}
        }
        check_points(v, &format!("{f}.points"), t.points);
    }
    check_groups(v, "rules.job_title", &mut rules.job_title);
    check_groups(v, "rules.message", &mut rules.message);
    check_answers(v, &mut rules.answers);
    check_points(v, "rules.business_email_points", rules.business_email_points);
    check_points(v, "rules.phone_points", rules.phone_points);
    if rules.warm_threshold < 0 {
        v.add("rules.warm_threshold", "must be 0 or more");
    }
    if rules.hot_threshold <= rules.warm_threshold {
        v.add("rules.hot_threshold", "must be above warm_threshold");
    } else if rules.hot_threshold > MAX_THRESHOLD {
        v.add("rules.hot_threshold", format!("must be at most {MAX_THRESHOLD}"));
    }
}

/// The rules, their cache, and the signal that they changed.
#[derive(Clone)]
pub struct Scoring {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Clock,
    keys: KeyRing,
    cache: Mutex<Option<(Arc<Scorer>, prost_types::Timestamp)>>,
    changed: Notify,
}

impl Scoring {
    pub fn new(store: Arc<dyn Store>, clock: Clock, keys: KeyRing) -> Self {
        Self { inner: Arc::new(Inner { store, clock, keys, cache: Mutex::new(None), changed: Notify::new() }) }
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The rules in force, as stored (the defaults when never changed). A
    /// newer version than this instance had (another's change) wakes its
    /// rescorer.
    async fn read(&self) -> DomainResult<Arc<Scorer>> {
        let rules = self.inner.store.get_scoring_rules().await?.unwrap_or_else(defaults);
        let scorer = Arc::new(Scorer::new(rules));
        let previous = self.inner.cache.lock().expect("rules cache").replace((scorer.clone(), self.inner.clock.now()));
        if previous.is_some_and(|(known, _)| known.rules.version < scorer.rules.version) {
            self.inner.changed.notify_one();
        }
        Ok(scorer)
    }

    /// The rules to score a write with: as read at most [`RULES_TTL`] ago.
    pub async fn rules(&self) -> DomainResult<Arc<Scorer>> {
        let now = self.inner.clock.now();
        let cached = self.inner.cache.lock().expect("rules cache").clone();
        match cached {
            Some((rules, read_at)) if !after(&now, &plus(&read_at, RULES_TTL)) => Ok(rules),
            _ => self.read().await,
        }
    }

    /// Scores `p` with the rules in force and keeps its keys in step.
    pub async fn apply(&self, p: &mut Prospect) -> DomainResult<()> {
        let scorer = self.rules().await?;
        p.fit = Some(scorer.score(p));
        validation::set_search_keys(p);
        Ok(())
    }

    /// The rules in force with the progress of their re-scoring.
    pub async fn get(&self) -> DomainResult<ScoringRules> {
        let (rules, job) = tokio::join!(self.read(), self.inner.store.get_rescore());
        let mut rules = rules?.rules().clone();
        rules.rescore = job?.map(|j| Rescore { leased_by: String::new(), lease_until: None, ..j });
        Ok(rules)
    }

    /// Sets the fields named by `paths` (all when empty) from `input`, as
    /// the next version, if `input.version` is still the version in force.
    pub async fn update(&self, caller: &Claims, input: ScoringRules, paths: &[String]) -> DomainResult<ScoringRules> {
        let mut v = Violations::default();
        for path in paths {
            if !UPDATABLE_FIELDS.contains(&path.as_str()) {
                v.add("update_mask", format!("{path:?} cannot be updated; updatable: {}", UPDATABLE_FIELDS.join(", ")));
            }
        }
        if input.version <= 0 {
            v.add("rules.version", "is required: the version you last read");
        }
        if !v.is_empty() {
            return Err(DomainError::Invalid(v.0));
        }
        let stored = self.inner.store.get_scoring_rules().await?;
        let current = stored.clone().unwrap_or_else(defaults);
        if current.version != input.version {
            return Err(DomainError::Conflict(format!(
                "the scoring rules were changed by someone else (you had version {}, they are at {}): reload them",
                input.version, current.version
            )));
        }
        let all = paths.is_empty();
        let wants = |f: &str| all || paths.iter().any(|p| p == f);
        let mut next = current.clone();
        if wants("budget") {
            next.budget = input.budget;
        }
        if wants("timeline") {
            next.timeline = input.timeline;
        }
        if wants("job_title") {
            next.job_title = input.job_title;
        }
        if wants("business_email_points") {
            next.business_email_points = input.business_email_points;
        }
        if wants("phone_points") {
            next.phone_points = input.phone_points;
        }
        if wants("message") {
            next.message = input.message;
        }
        if wants("hot_threshold") {
            next.hot_threshold = input.hot_threshold;
        }
        if wants("warm_threshold") {
            next.warm_threshold = input.warm_threshold;
        }
        if wants("answers") {
            next.answers = input.answers;
        }
        let mut v = Violations::default();
        check(&mut v, &mut next);
        if !v.is_empty() {
            return Err(DomainError::Invalid(v.0));
        }
        next.version = current.version + 1;
        next.updated_by = caller.email.clone();
        next.updated_at = Some(self.inner.clock.now());
        next.rescore = None;
        let expected = stored.map_or(0, |s| s.version);
        match self.inner.store.save_scoring_rules(&next, expected).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(DomainError::Conflict(
                    "the scoring rules were changed by someone else at the same time: reload them".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(version = next.version, by = %caller.email, "scoring rules changed");
        *self.inner.cache.lock().expect("rules cache") =
            Some((Arc::new(Scorer::new(next.clone())), self.inner.clock.now()));
        self.inner.changed.notify_one();
        Ok(next)
    }

    /// The versions of the rules, newest first.
    pub async fn revisions(
        &self,
        request: ListScoringRulesRevisionsRequest,
    ) -> DomainResult<ListScoringRulesRevisionsResponse> {
        const QUERY: &str = "scoring-revisions";
        let size = page_size(request.page_size, 20, 100)?;
        let pages = self.inner.keys.page_tokens();
        let after = pages.position(&request.page_token, QUERY)?.map(|p| p.sort);
        let mut found = self.inner.store.scoring_revisions(after, size + 1).await?;
        let next_page_token = match found.len() > size {
            true => {
                found.truncate(size);
                let last = found.last().and_then(|r| r.updated_at.as_ref()).map(timestamp_key).unwrap_or_default();
                pages.encode(&PagePosition { query: QUERY.into(), sort: last, id: String::new() })
            }
            false => String::new(),
        };
        let rules = found.into_iter().filter_map(|r| r.rules).collect();
        Ok(ListScoringRulesRevisionsResponse { rules, next_page_token })
    }
}

/// What a step of the rescorer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Every card is on the rules in force.
    Idle,
    /// A job is due but may not move yet: the rules are too fresh, or
    /// another instance holds it.
    Waiting,
    /// A page was done.
    Worked,
}

/// Scores every card again when the rules change (see the module).
pub struct Rescorer {
    scoring: Scoring,
    board: Arc<board::Board>,
    worker: String,
    page: usize,
}

impl Rescorer {
    pub fn new(scoring: Scoring, board: Arc<board::Board>) -> Self {
        Self { scoring, board, worker: uuid::Uuid::now_v7().to_string(), page: PAGE }
    }

    /// Cards per step (tests use small pages).
    pub fn with_page(self, page: usize) -> Self {
        Self { page: page.max(1), ..self }
    }

    /// Runs until the process ends: a step at a time, waiting for a change
    /// of the rules (or another instance's, every `poll`) when idle.
    pub fn spawn(self, poll: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let pause = match self.step().await {
                    Ok(Step::Worked) => continue,
                    Ok(Step::Waiting) => RULES_TTL.min(poll),
                    Ok(Step::Idle) => poll,
                    Err(e) => {
                        tracing::warn!(error = %e, "re-scoring: retrying");
                        poll
                    }
                };
                tokio::select! {
                    _ = self.scoring.inner.changed.notified() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        })
    }

    /// Moves the re-scoring on by one page, if one is due and this
    /// instance may take it.
    pub async fn step(&self) -> DomainResult<Step> {
        let store = &self.scoring.inner.store;
        let clock = &self.scoring.inner.clock;
        let scorer = self.scoring.read().await?;
        let rules = scorer.rules();
        let stored = store.get_rescore().await?;
        let now = clock.now();
        let mut job = match stored {
            Some(job) if job.rules_version >= rules.version => job,
            // New rules (or none ever scored): a job for them, from the first column.
            previous => {
                let total: i64 = store.status_counts().await?.iter().map(|c| c.count.max(0)).sum();
                let job = Rescore {
                    rules_version: rules.version,
                    state: RescoreState::Running as i32,
                    total,
                    started_at: Some(now),
                    column: COLUMNS[0] as i32,
                    version: previous.as_ref().map_or(0, |p| p.version) + 1,
                    ..Default::default()
                };
                match store.save_rescore(&job, previous.map_or(0, |p| p.version)).await {
                    Ok(()) => job,
                    Err(StoreError::Conflict(_)) => return Ok(Step::Waiting),
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if job.state() == RescoreState::Done || job.rules_version > rules.version {
            return Ok(Step::Idle);
        }
        let changed_at = rules.updated_at.unwrap_or_default();
        let held = job.lease_until.as_ref().is_some_and(|until| after(until, &now)) && job.leased_by != self.worker;
        if held || after(&plus(&changed_at, RULES_TTL), &now) {
            return Ok(Step::Waiting);
        }
        // The claim: of two instances, one moves the job.
        let claimed_from = job.version;
        job.lease_until = Some(plus(&now, LEASE));
        job.leased_by = self.worker.clone();
        job.version += 1;
        match store.save_rescore(&job, claimed_from).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(Step::Waiting),
            Err(e) => return Err(e.into()),
        }

        let status = ProspectStatus::try_from(job.column).unwrap_or(ProspectStatus::New);
        let position = (!job.after_id.is_empty())
            .then(|| ColumnPosition { sort: job.after_created_at.clone(), id: job.after_id.clone() });
        let cards = store.list_column(&Column::all(status), position, self.page).await?;
        let mut wrote = false;
        for card in &cards {
            wrote |= self.rescore(card.clone(), &scorer).await?;
        }
        if wrote {
            self.board.changed();
        }
        job.scored += cards.len() as i64;
        match cards.last().filter(|_| cards.len() >= self.page) {
            Some(last) => {
                job.after_created_at = last.created_at.as_ref().map(timestamp_key).unwrap_or_default();
                job.after_id = last.id.clone();
            }
            None => {
                job.after_created_at.clear();
                job.after_id.clear();
                match COLUMNS.iter().position(|c| *c == status).and_then(|i| COLUMNS.get(i + 1)) {
                    Some(next) => job.column = *next as i32,
                    None => {
                        job.state = RescoreState::Done as i32;
                        job.finished_at = Some(clock.now());
                        // Cards created while it ran were counted too.
                        job.total = job.total.max(job.scored);
                        job.lease_until = None;
                        job.leased_by.clear();
                        tracing::info!(version = job.rules_version, cards = job.scored, "every card re-scored");
                    }
                }
            }
        }
        let from = job.version;
        job.version += 1;
        store.save_rescore(&job, from).await?;
        Ok(Step::Worked)
    }

    /// Writes `card` scored with `rules`, unless it already is; a card
    /// changed meanwhile is read again. Whether it wrote.
    async fn rescore(&self, mut card: Prospect, scorer: &Scorer) -> DomainResult<bool> {
        let rules = scorer.rules();
        let store = &self.scoring.inner.store;
        for _ in 0..3 {
            if card.fit.as_ref().is_some_and(|f| f.rules_version >= rules.version) {
                return Ok(false);
            }
            let mut next = card.clone();
            next.fit = Some(scorer.score(&next));
            next.version = card.version + 1;
            // Cards from before the column's age was kept: from their last change.
            if next.status_changed_at.is_none() {
                next.status_changed_at = next.updated_at.or(next.created_at);
            }
            validation::set_search_keys(&mut next);
            let status = card.status();
            let change = ProspectChange {
                board: board::change(
                    BoardChangeKind::Edited,
                    &next.id,
                    Some(&next),
                    status,
                    ACTOR,
                    self.scoring.inner.clock.now(),
                ),
                prospect: next,
                expected_version: card.version,
                previous_status: status,
                events: Vec::new(),
                notifications: Vec::new(),
                insights: Vec::new(),
            };
            match store.update_prospect(change).await {
                Ok(()) => return Ok(true),
                Err(StoreError::Conflict(_)) => match store.get_prospect(&card.id, false).await? {
                    Some(fresh) => card = fresh,
                    None => return Ok(false),
                },
                Err(StoreError::NotFound) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        Err(DomainError::Unavailable(format!("prospect {} kept changing while it was re-scored", card.id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(f: impl FnOnce(&mut Prospect)) -> Prospect {
        let mut p = Prospect { email: "someone@example.com".into(), ..Default::default() };
        f(&mut p);
        p
    }

    #[test]
    fn a_forms_answers_score_their_choices_points_and_only_that_forms() {
        use astro_proto::v1::{Answer, FormRef};
        let rule = |form: &str, question: &str, choice: &str, points| AnswerPoints {
            form: form.into(),
            question_id: question.into(),
            choice_id: choice.into(),
            points,
        };
        let rules = ScoringRules {
            answers: vec![
                rule("salon", "sector", "saas", 40),
                rule("salon", "tools", "excel", 15),
                rule("salon", "tools", "crm", -5),
                rule("salon", "demo", "yes", 10),
                rule("website", "sector", "saas", 99),
            ],
            hot_threshold: 50,
            warm_threshold: 20,
            ..Default::default()
        };
        let answer = |id: &str, kind: QuestionType, choices: &[&str]| Answer {
            question_id: id.into(),
            kind: kind as i32,
            choices: choices.iter().map(|c| (*c).into()).collect(),
            ..Default::default()
        };
        let p = card(|p| {
            p.form = Some(FormRef { name: "salon".into(), version: 2 });
            p.answers = vec![
                answer("sector", QuestionType::SingleChoice, &["saas"]),
                answer("tools", QuestionType::MultipleChoice, &["excel", "crm"]),
                Answer { yes: true, ..answer("demo", QuestionType::YesNo, &[]) },
            ];
        });
        let fit = score(&rules, &p);
        let parts: Vec<_> =
            fit.parts.iter().map(|x| (x.rule(), x.points, x.group.as_str(), x.matched.as_str())).collect();
        assert_eq!(
            parts,
            [
                (FitRule::Answer, 40, "sector", "saas"),
                (FitRule::Answer, 15, "tools", "excel"),
                (FitRule::Answer, -5, "tools", "crm"),
                (FitRule::Answer, 10, "demo", "yes"),
            ]
        );
        assert_eq!((fit.score, fit.grade()), (60, FitGrade::Hot));
        // The same answers from another form score that form's rules only.
        let other = Prospect { form: Some(FormRef { name: "fair".into(), version: 1 }), ..p };
        assert_eq!(score(&rules, &other).score, 0);

        let mut bad = ScoringRules {
            answers: vec![
                rule("salon", "sector", "saas", 1),
                rule("salon", "sector", "saas", 2),
                rule("Bad Form", "q", "c", 500),
            ],
            ..defaults()
        };
        let mut v = Violations::default();
        check(&mut v, &mut bad);
        let fields: Vec<&str> = v.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["rules.answers[1].choice_id", "rules.answers[2].form", "rules.answers[2].points"]);
    }

    #[test]
    fn the_defaults_grade_a_ceo_hot_and_a_student_cold() {
        let rules = defaults();
        let ceo = card(|p| {
            p.job_title = "Co-Founder & CEO".into();
            p.email = "ada@acme.fr".into();
            p.phone = "+33 6 12 34 56 78".into();
            p.budget = Budget::Over50k as i32;
            p.timeline = Timeline::Immediate as i32;
        });
        let fit = score(&rules, &ceo);
        assert_eq!((fit.score, fit.grade()), (90, FitGrade::Hot));
        let rules_met: Vec<(FitRule, i32, &str)> =
            fit.parts.iter().map(|p| (p.rule(), p.points, p.matched.as_str())).collect();
        assert_eq!(
            rules_met,
            [
                (FitRule::Budget, 30, "BUDGET_OVER_50K"),
                (FitRule::Timeline, 25, "TIMELINE_IMMEDIATE"),
                (FitRule::JobTitle, 20, "ceo"),
                (FitRule::BusinessEmail, 10, "acme.fr"),
                (FitRule::Phone, 5, ""),
            ]
        );
        assert_eq!(fit.rules_version, 1);

        let student = card(|p| {
            p.job_title = "Étudiant".into();
            p.email = "leo@gmail.com".into();
            p.message = "Pouvez-vous m'envoyer une brochure ?".into();
            p.budget = Budget::Under5k as i32;
            p.timeline = Timeline::Later as i32;
        });
        let fit = score(&rules, &student);
        assert_eq!((fit.score, fit.grade()), (-10, FitGrade::Cold));

        // A manager asking for a quote, from a company, in three months: warm.
        let manager = card(|p| {
            p.job_title = "Responsable achats".into();
            p.email = "chloe@industrie.fr".into();
            p.message = "Nous voudrions un DEVIS rapidement".into();
            p.timeline = Timeline::Within3Months as i32;
        });
        let fit = score(&rules, &manager);
        assert_eq!((fit.score, fit.grade()), (45, FitGrade::Warm));
        assert_eq!(fit.parts.last().map(|p| (p.group.as_str(), p.matched.as_str())), Some(("Buying signals", "devis")));
    }

    #[test]
    fn words_match_whole_words_with_case_and_accents_ignored() {
        assert_eq!(fold("  Directrice Générale / Head-of Sales "), "directrice generale head of sales");
        let words = padded(&["head of".to_owned(), "présidente".to_owned()]);
        assert_eq!(find_word(&fold("HEAD OF growth"), &words), Some(0));
        assert_eq!(find_word(&fold("Presidente"), &words), Some(1));
        // "ceo" is not inside "ceonaut"; "lead" is not in "leader".
        assert!(find_word(&fold("Ceonaut"), &padded(&["ceo".to_owned()])).is_none());
        assert!(find_word(&fold("Team leader"), &padded(&["lead".to_owned()])).is_none());
        assert!(is_free_mail("x@Orange.fr") && is_free_mail("y@gmail.com") && !is_free_mail("z@acme.fr"));
    }

    #[test]
    fn score_keys_sort_by_grade_then_score_then_newest() {
        let at = |s| Some(prost_types::Timestamp { seconds: s, nanos: 0 });
        let keyed = |grade: FitGrade, score: i32, created: i64| {
            score_key(&Prospect {
                fit: Some(FitScore { score, grade: grade as i32, ..Default::default() }),
                created_at: at(created),
                ..Default::default()
            })
        };
        let mut keys = [
            keyed(FitGrade::Warm, 40, 1),
            keyed(FitGrade::Hot, 61, 1),
            keyed(FitGrade::Hot, 90, 1),
            keyed(FitGrade::Cold, -10, 5),
            keyed(FitGrade::Cold, 5, 1),
            keyed(FitGrade::Hot, 90, 2),
        ];
        keys.sort();
        keys.reverse();
        assert!(keys[0].starts_with("3#100090#") && keys[0].ends_with("02.000000Z"));
        assert!(keys[1].starts_with("3#100090#"));
        assert!(keys[2].starts_with("3#100061#"));
        assert!(keys[3].starts_with("2#100040#"));
        assert!(keys[4].starts_with("1#100005#"));
        assert!(keys[5].starts_with("1#099990#"));
        assert!(keys.iter().filter(|k| k.starts_with(&grade_prefix(FitGrade::Hot))).count() == 3);
        assert_eq!(score_key(&Prospect::default()), "");
    }

    #[test]
    fn bad_rules_are_refused_naming_the_field() {
        let problems = |f: fn(&mut ScoringRules)| {
            let mut rules = defaults();
            f(&mut rules);
            let mut v = Violations::default();
            check(&mut v, &mut rules);
            v.0.into_iter().map(|v| v.field).collect::<Vec<_>>()
        };
        assert!(problems(|_| {}).is_empty());
        assert_eq!(problems(|r| r.warm_threshold = -5), ["rules.warm_threshold"]);
        assert_eq!(problems(|r| r.hot_threshold = 20), ["rules.hot_threshold"]);
        assert_eq!(problems(|r| r.phone_points = 101), ["rules.phone_points"]);
        assert_eq!(problems(|r| r.job_title[0].words = vec!["x".into(); 51]), ["rules.job_title[0].words"]);
        assert_eq!(problems(|r| r.message[0].words.push("—".into())), ["rules.message[0].words"]);
        assert_eq!(problems(|r| r.job_title[1].name = "decision MAKERS".into()), ["rules.job_title[1].name"]);
        assert_eq!(problems(|r| r.budget.push(r.budget[0])), ["rules.budget[4].budget"]);
        assert_eq!(problems(|r| r.timeline[0].timeline = 0), ["rules.timeline[0].timeline"]);
        assert_eq!(
            problems(|r| r.job_title = vec![r.job_title[0].clone(); 11]).first().map(String::as_str),
            Some("rules.job_title")
        );
    }
}
