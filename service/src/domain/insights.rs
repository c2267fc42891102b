//! The pipeline's figures: weekly aggregates (`PipelineWeek`) that each
//! write of a card adds to in its own transaction, and the page that reads
//! them back — three `Query`s (one per dimension) over the period, whatever
//! the number of prospects.
//!
//! What is counted where:
//! - a creation: `created` in its ISO week (UTC), for ALL, its UTM source
//!   and its UTM campaign;
//! - a move: in the card's creation week (its cohort), each column it
//!   reaches for the first time (`Prospect.reached`: a move to WON reaches
//!   CONTACTED and QUALIFIED too), and on its first move out of NEW its time
//!   to first contact; in the move's week, the time it spent in the column
//!   it leaves.

use std::{collections::BTreeMap, sync::Arc};

use astro_proto::v1::{
    ColumnTime, GetPipelineInsightsRequest, PeriodFigures, PipelineInsights, PipelineWeek, Prospect, ProspectStatus,
    WeekFigures,
};

use super::{DomainError, DomainResult, FieldViolation, clock::Clock};
use crate::store::Store;

pub const ALL: &str = "ALL";
pub const SOURCE: &str = "SOURCE";
pub const CAMPAIGN: &str = "CAMPAIGN";
/// Shards of each week's aggregate (see the column counters).
pub const SHARDS: u32 = 4;
/// The longest period a page reads.
pub const MAX_WEEKS: i64 = 106;
const DEFAULT_WEEKS: i64 = 12;

/// The ladder of the pipeline: reaching one column reaches those before it.
const LADDER: [ProspectStatus; 3] = [ProspectStatus::Contacted, ProspectStatus::Qualified, ProspectStatus::Won];

fn datetime(ts: &prost_types::Timestamp) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(ts.seconds).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// The ISO week of `ts` (UTC): "2026-W48".
pub fn week_of(ts: &prost_types::Timestamp) -> String {
    let (year, week, _) = datetime(ts).to_iso_week_date();
    format!("{year}-W{week:02}")
}

/// The Monday of an ISO week, or `None` for a text that is not one.
fn monday(week: &str) -> Option<time::Date> {
    let (year, number) = week.split_once("-W")?;
    let (year, number): (i32, u8) = (year.parse().ok()?, number.parse().ok()?);
    (number.to_string().len() <= 2 && week.len() == 8)
        .then(|| time::Date::from_iso_week_date(year, number, time::Weekday::Monday).ok())
        .flatten()
}

/// The weeks from `from` to `to`, both included.
fn weeks_between(from: time::Date, to: time::Date) -> Vec<String> {
    let mut out = Vec::new();
    let mut day = from;
    while day <= to {
        let (year, week, _) = day.to_iso_week_date();
        out.push(format!("{year}-W{week:02}"));
        day += time::Duration::weeks(1);
    }
    out
}

/// The three aggregates a card counts in (ALL, its source, its campaign).
fn dimensions(p: &Prospect) -> [(&'static str, String); 3] {
    let source = p.source.clone().unwrap_or_default();
    [(ALL, String::new()), (SOURCE, source.utm_source), (CAMPAIGN, source.utm_campaign)]
}

fn shard() -> String {
    (rand::random::<u32>() % SHARDS).to_string()
}

fn delta(dimension: &str, value: &str, week: &str, shard: &str) -> PipelineWeek {
    PipelineWeek {
        dimension: dimension.to_owned(),
        week: week.to_owned(),
        value: value.to_owned(),
        shard: shard.to_owned(),
        ..Default::default()
    }
}

/// What a creation adds.
pub fn created(p: &Prospect) -> Vec<PipelineWeek> {
    let (week, shard) = (week_of(&p.created_at.unwrap_or_default()), shard());
    dimensions(p).iter().map(|(d, v)| PipelineWeek { created: 1, ..delta(d, v, &week, &shard) }).collect()
}

fn seconds_between(from: Option<&prost_types::Timestamp>, to: &prost_types::Timestamp) -> i64 {
    from.map_or(0, |from| (to.seconds - from.seconds).max(0))
}

/// What moving `before` (as stored) to `next` at `at` adds; records the
/// columns reached in `next.reached`.
pub fn moved(before: &Prospect, next: &mut Prospect, at: &prost_types::Timestamp) -> Vec<PipelineWeek> {
    let (from, to) = (before.status(), next.status());
    if from == to {
        return Vec::new();
    }
    let shard = shard();
    let cohort = week_of(&before.created_at.unwrap_or_default());
    let mut reached = Vec::new();
    let rank = |s: ProspectStatus| LADDER.iter().position(|l| *l == s);
    let newly = |s: ProspectStatus, reached: &mut Vec<ProspectStatus>| {
        let known = next.reached.contains(&(s as i32)) || reached.contains(&s);
        if !known {
            reached.push(s);
        }
    };
    match rank(to) {
        Some(top) => LADDER[..=top].iter().for_each(|s| newly(*s, &mut reached)),
        None if to == ProspectStatus::Lost => newly(ProspectStatus::Lost, &mut reached),
        None => {}
    }
    next.reached.extend(reached.iter().map(|s| *s as i32));
    let first_contact = (from == ProspectStatus::New && before.first_contacted_at.is_none())
        .then(|| seconds_between(before.created_at.as_ref(), at));
    let stay = seconds_between(before.status_changed_at.as_ref().or(before.created_at.as_ref()), at);
    let leave_week = week_of(at);

    let mut out = Vec::new();
    for (dimension, value) in dimensions(before) {
        let mut cohort_delta = delta(dimension, &value, &cohort, &shard);
        for s in &reached {
            match s {
                ProspectStatus::Contacted => cohort_delta.contacted += 1,
                ProspectStatus::Qualified => cohort_delta.qualified += 1,
                ProspectStatus::Won => cohort_delta.won += 1,
                ProspectStatus::Lost => cohort_delta.lost += 1,
                _ => {}
            }
        }
        cohort_delta.first_contact_seconds.extend(first_contact);
        let mut leave = delta(dimension, &value, &leave_week, &shard);
        match from {
            ProspectStatus::New => leave.new_seconds.push(stay),
            ProspectStatus::Contacted => leave.contacted_seconds.push(stay),
            ProspectStatus::Qualified => leave.qualified_seconds.push(stay),
            ProspectStatus::Won => leave.won_seconds.push(stay),
            ProspectStatus::Lost => leave.lost_seconds.push(stay),
            ProspectStatus::Unspecified => {}
        }
        if leave_week == cohort {
            add(&mut cohort_delta, &leave);
            out.push(cohort_delta);
        } else {
            out.extend([cohort_delta, leave]);
        }
    }
    out.retain(|d| !is_empty(d));
    out
}

fn is_empty(d: &PipelineWeek) -> bool {
    d.created == 0
        && d.contacted == 0
        && d.qualified == 0
        && d.won == 0
        && d.lost == 0
        && d.first_contact_seconds.is_empty()
        && d.new_seconds.is_empty()
        && d.contacted_seconds.is_empty()
        && d.qualified_seconds.is_empty()
        && d.won_seconds.is_empty()
        && d.lost_seconds.is_empty()
}

/// Adds `d` to `into` (same keys): counts summed, lists appended.
pub fn add(into: &mut PipelineWeek, d: &PipelineWeek) {
    into.created += d.created;
    into.contacted += d.contacted;
    into.qualified += d.qualified;
    into.won += d.won;
    into.lost += d.lost;
    into.first_contact_seconds.extend(&d.first_contact_seconds);
    into.new_seconds.extend(&d.new_seconds);
    into.contacted_seconds.extend(&d.contacted_seconds);
    into.qualified_seconds.extend(&d.qualified_seconds);
    into.won_seconds.extend(&d.won_seconds);
    into.lost_seconds.extend(&d.lost_seconds);
}

/// The value at percentile `p` (nearest rank: the ⌈p·n⌉-th smallest); 0 for none.
pub fn percentile(values: &mut [i64], p: f64) -> i64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

fn ratio(a: i64, b: i64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The figures of the aggregates `weeks` (any shards, any weeks).
pub fn figures(value: &str, weeks: &[&PipelineWeek]) -> PeriodFigures {
    let mut sum = PipelineWeek::default();
    for w in weeks {
        add(&mut sum, w);
    }
    let mut first = sum.first_contact_seconds.clone();
    let column = |status: ProspectStatus, values: &[i64]| {
        let mut values = values.to_vec();
        ColumnTime { status: status as i32, stays: values.len() as i64, median_seconds: percentile(&mut values, 0.5) }
    };
    PeriodFigures {
        key: value.to_owned(),
        created: sum.created,
        contacted: sum.contacted,
        qualified: sum.qualified,
        won: sum.won,
        lost: sum.lost,
        new_to_contacted: ratio(sum.contacted, sum.created),
        contacted_to_qualified: ratio(sum.qualified, sum.contacted),
        qualified_to_won: ratio(sum.won, sum.qualified),
        created_to_won: ratio(sum.won, sum.created),
        first_contact_median_seconds: percentile(&mut first, 0.5),
        first_contact_p90_seconds: percentile(&mut first, 0.9),
        first_contacted: first.len() as i64,
        column_times: vec![
            column(ProspectStatus::New, &sum.new_seconds),
            column(ProspectStatus::Contacted, &sum.contacted_seconds),
            column(ProspectStatus::Qualified, &sum.qualified_seconds),
            column(ProspectStatus::Won, &sum.won_seconds),
            column(ProspectStatus::Lost, &sum.lost_seconds),
        ],
    }
}

/// Reads the figures.
#[derive(Clone)]
pub struct Insights {
    store: Arc<dyn Store>,
    clock: Clock,
}

impl Insights {
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Self {
        Self { store, clock }
    }

    pub async fn get(&self, request: GetPipelineInsightsRequest) -> DomainResult<PipelineInsights> {
        let invalid = |field: &str, why: &str| DomainError::Invalid(vec![FieldViolation::new(field, why)]);
        let (from, to) = match (request.from_week.trim(), request.to_week.trim()) {
            ("", "") => {
                let today = datetime(&self.clock.now()).date();
                (today - time::Duration::weeks(DEFAULT_WEEKS - 1), today)
            }
            (from, to) => (
                monday(from).ok_or_else(|| invalid("from_week", "an ISO week, e.g. 2026-W01"))?,
                monday(to).ok_or_else(|| invalid("to_week", "an ISO week, e.g. 2026-W48"))?,
            ),
        };
        if from > to {
            return Err(invalid("to_week", "must not be before from_week"));
        }
        if (to - from).whole_weeks() >= MAX_WEEKS {
            return Err(invalid("to_week", "at most 106 weeks"));
        }
        let weeks = weeks_between(from, to);
        let (first, last) = (weeks[0].clone(), weeks[weeks.len() - 1].clone());
        let (all, sources, campaigns) = tokio::join!(
            self.store.pipeline_weeks(ALL, &first, &last),
            self.store.pipeline_weeks(SOURCE, &first, &last),
            self.store.pipeline_weeks(CAMPAIGN, &first, &last),
        );
        let (all, sources, campaigns) = (all?, sources?, campaigns?);
        let per_week = weeks
            .iter()
            .map(|week| WeekFigures {
                week: week.clone(),
                created: all.iter().filter(|w| &w.week == week).map(|w| w.created).sum(),
            })
            .collect();
        let by = |items: &[PipelineWeek]| {
            let mut groups: BTreeMap<&str, Vec<&PipelineWeek>> = BTreeMap::new();
            for item in items {
                groups.entry(item.value.as_str()).or_default().push(item);
            }
            let mut out: Vec<PeriodFigures> = groups.iter().map(|(value, items)| figures(value, items)).collect();
            out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.key.cmp(&b.key)));
            out
        };
        Ok(PipelineInsights {
            from_week: first,
            to_week: last,
            weeks: per_week,
            total: Some(figures("", &all.iter().collect::<Vec<_>>())),
            by_source: by(&sources),
            by_campaign: by(&campaigns),
        })
    }
}
