//! Speed to lead: when a new prospect should be contacted by, counting
//! every minute or only business hours (a time zone, a start and an end,
//! the working days), and whether a card has sat too long in its column.
//! Pure functions of the times given: the tests move them.

use std::time::Duration;

use astro_proto::v1::{BusinessHours, ProspectStatus, TeamSettings};
use jiff::{Span, ZonedDateTime as Zoned, tz::TimeZone};

use super::validation::Violations;

/// The longest deadline: 30 days.
pub const MAX_MINUTES: i32 = 30 * 24 * 60;
const MAX_STALE_DAYS: i32 = 365;
/// The longest retention: ten years.
pub const MAX_RETENTION_MONTHS: i32 = 120;

fn timestamp(ts: &prost_types::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::new(ts.seconds, ts.nanos).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn proto(ts: jiff::Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: ts.as_second(), nanos: ts.subsec_nanosecond() }
}

/// When a card created at `created` should be contacted by: `minutes`
/// later, counting only business hours when they are on. `None` without a
/// deadline.
pub fn first_contact_due(settings: &TeamSettings, created: &prost_types::Timestamp) -> Option<prost_types::Timestamp> {
    let minutes = settings.first_contact_minutes;
    if minutes <= 0 {
        return None;
    }
    let start = timestamp(created);
    let hours = settings.business_hours.as_ref().filter(|h| h.enabled);
    let due = match hours.and_then(|h| TimeZone::get(&h.time_zone).ok().map(|tz| (h, tz))) {
        Some((hours, tz)) => in_business_hours(&start.to_zoned_datetime(tz), i64::from(minutes), hours).timestamp(),
        None => start + Span::new().minutes(i64::from(minutes)),
    };
    Some(proto(due))
}

/// `from` plus `minutes` of working time.
fn in_business_hours(from: &Zoned, minutes: i64, hours: &BusinessHours) -> Zoned {
    let (open, close) = (i64::from(hours.start_minute), i64::from(hours.end_minute));
    let works = |day: &Zoned| hours.working_days.contains(&i32::from(day.weekday().to_monday_one_offset()));
    let at_minute = |day: &Zoned, minute: i64| {
        let midnight = day.start_of_day().unwrap_or_else(|_| day.clone());
        midnight.checked_add(Span::new().minutes(minute)).unwrap_or(midnight)
    };
    let mut now = from.clone();
    let mut left = minutes;
    // At most a year of days: working days are checked to be there.
    for _ in 0..400 {
        let minute_of_day = i64::from(now.hour()) * 60 + i64::from(now.minute());
        if works(&now) && minute_of_day < close {
            let begin = if minute_of_day < open { at_minute(&now, open) } else { now.clone() };
            let end = at_minute(&now, close);
            let available = (end.timestamp().as_second() - begin.timestamp().as_second()) / 60;
            if left <= available {
                return begin.checked_add(Span::new().minutes(left)).unwrap_or(begin);
            }
            left -= available.max(0);
        }
        // The next day's midnight.
        now = now.tomorrow().and_then(|d| d.start_of_day()).unwrap_or_else(|_| now.clone());
    }
    now
}

/// Whether a card that entered `status` at `since` is stale at `now`.
pub fn is_stale(
    settings: &TeamSettings,
    status: ProspectStatus,
    since: &prost_types::Timestamp,
    now: &prost_types::Timestamp,
) -> bool {
    stale_before(settings, status, now).is_some_and(|limit| (since.seconds, since.nanos) < (limit.seconds, limit.nanos))
}

/// The time before which a card that entered `status` is stale at `now`.
pub fn stale_before(
    settings: &TeamSettings,
    status: ProspectStatus,
    now: &prost_types::Timestamp,
) -> Option<prost_types::Timestamp> {
    let days = settings.stale_after.iter().find(|s| s.status == status as i32)?.days;
    (days > 0).then(|| prost_types::Timestamp {
        seconds: now.seconds - Duration::from_secs(u64::from(days.unsigned_abs()) * 86_400).as_secs() as i64,
        nanos: now.nanos,
    })
}

/// Checks the speed-to-lead settings (tidying the time zone and the days).
pub fn check(v: &mut Violations, settings: &mut TeamSettings) {
    if !(0..=MAX_MINUTES).contains(&settings.first_contact_minutes) {
        v.add("settings.first_contact_minutes", format!("must be from 0 (no deadline) to {MAX_MINUTES}"));
    }
    if let Some(hours) = settings.business_hours.as_mut() {
        hours.time_zone = hours.time_zone.trim().to_owned();
        hours.working_days.sort_unstable();
        hours.working_days.dedup();
        if hours.enabled || !hours.time_zone.is_empty() {
            if TimeZone::get(&hours.time_zone).is_err() {
                v.add("settings.business_hours.time_zone", "must be an IANA time zone, e.g. Europe/Paris");
            }
            if !(0..1440).contains(&hours.start_minute) || !(1..=1440).contains(&hours.end_minute) {
                v.add("settings.business_hours.start_minute", "minutes after midnight: 0–1439, and the end 1–1440");
            } else if hours.start_minute >= hours.end_minute {
                v.add("settings.business_hours.end_minute", "must be after start_minute");
            }
            if hours.working_days.is_empty() || hours.working_days.iter().any(|d| !(1..=7).contains(d)) {
                v.add("settings.business_hours.working_days", "one or more of 1 (Monday) … 7 (Sunday)");
            }
        }
    }
    let stale = settings.stale_after.iter().map(|s| (s.status, s.days));
    per_column(v, "settings.stale_after", "days", stale, MAX_STALE_DAYS);
    let kept = settings.retention.iter().map(|k| (k.status, k.months));
    per_column(v, "settings.retention", "months", kept, MAX_RETENTION_MONTHS);
}

/// Checks a per-column list: each entry a column, each column once, each
/// value (its field `unit`) from 1 to `max`.
fn per_column(v: &mut Violations, field: &str, unit: &str, entries: impl Iterator<Item = (i32, i32)>, max: i32) {
    let mut seen = Vec::new();
    for (i, (status, value)) in entries.enumerate() {
        match ProspectStatus::try_from(status) {
            Ok(ProspectStatus::Unspecified) | Err(_) => v.add(format!("{field}[{i}].status"), "must be a column"),
            Ok(_) if seen.contains(&status) => v.add(format!("{field}[{i}].status"), "each column once"),
            Ok(_) => seen.push(status),
        }
        if !(1..=max).contains(&value) {
            v.add(format!("{field}[{i}].{unit}"), format!("must be from 1 to {max}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use astro_proto::v1::{KeepFor, StaleAfter};

    use super::*;

    fn at(text: &str) -> prost_types::Timestamp {
        proto(text.parse::<jiff::Timestamp>().unwrap())
    }

    fn paris(minutes: i32) -> TeamSettings {
        TeamSettings {
            first_contact_minutes: minutes,
            business_hours: Some(BusinessHours {
                enabled: true,
                time_zone: "Europe/Paris".into(),
                start_minute: 9 * 60,
                end_minute: 18 * 60,
                working_days: vec![1, 2, 3, 4, 5],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn without_business_hours_every_minute_counts() {
        let settings = TeamSettings { first_contact_minutes: 60, ..Default::default() };
        assert_eq!(first_contact_due(&settings, &at("2026-11-28T17:30:00Z")), Some(at("2026-11-28T18:30:00Z")));
        assert_eq!(first_contact_due(&TeamSettings::default(), &at("2026-11-28T17:30:00Z")), None);
    }

    #[test]
    fn business_hours_skip_the_night_and_the_weekend() {
        // Friday 17:30 in Paris (16:30 UTC, winter time): 30 minutes on
        // Friday, the other 30 on Monday from 09:00.
        let friday = at("2026-11-27T16:30:00Z");
        assert_eq!(first_contact_due(&paris(60), &friday), Some(at("2026-11-30T08:30:00Z")));
        // Saturday: nothing counts until Monday 09:00.
        assert_eq!(first_contact_due(&paris(60), &at("2026-11-28T10:00:00Z")), Some(at("2026-11-30T09:00:00Z")));
        // Before opening on a Tuesday: from 09:00.
        assert_eq!(first_contact_due(&paris(90), &at("2026-12-01T05:00:00Z")), Some(at("2026-12-01T09:30:00Z")));
        // Within the day.
        assert_eq!(first_contact_due(&paris(60), &at("2026-12-01T10:00:00Z")), Some(at("2026-12-01T11:00:00Z")));
        // Two days' worth (18 h of 9 h days) from Thursday 09:00 Paris: Friday 18:00.
        assert_eq!(first_contact_due(&paris(18 * 60), &at("2026-12-03T08:00:00Z")), Some(at("2026-12-04T17:00:00Z")));
    }

    #[test]
    fn a_card_is_stale_past_its_columns_days() {
        let settings = TeamSettings {
            stale_after: vec![StaleAfter { status: ProspectStatus::Contacted as i32, days: 7 }],
            ..Default::default()
        };
        let now = at("2026-11-30T12:00:00Z");
        assert!(is_stale(&settings, ProspectStatus::Contacted, &at("2026-11-23T11:59:59Z"), &now));
        assert!(!is_stale(&settings, ProspectStatus::Contacted, &at("2026-11-23T12:00:01Z"), &now));
        assert!(!is_stale(&settings, ProspectStatus::New, &at("2020-01-01T00:00:00Z"), &now), "no limit for New");
    }

    #[test]
    fn bad_settings_are_refused_naming_the_field() {
        let fields = |f: fn(&mut TeamSettings)| {
            let mut s = paris(60);
            f(&mut s);
            let mut v = Violations::default();
            check(&mut v, &mut s);
            v.0.into_iter().map(|v| v.field).collect::<Vec<_>>()
        };
        assert!(fields(|_| {}).is_empty());
        assert_eq!(fields(|s| s.first_contact_minutes = -1), ["settings.first_contact_minutes"]);
        assert_eq!(
            fields(|s| s.business_hours.as_mut().unwrap().time_zone = "Mars/Olympus".into()),
            ["settings.business_hours.time_zone"]
        );
        assert_eq!(
            fields(|s| s.business_hours.as_mut().unwrap().end_minute = 60),
            ["settings.business_hours.end_minute"]
        );
        assert_eq!(
            fields(|s| s.business_hours.as_mut().unwrap().working_days = vec![0]),
            ["settings.business_hours.working_days"]
        );
        assert_eq!(
            fields(|s| s.stale_after = vec![StaleAfter { status: 2, days: 0 }]),
            ["settings.stale_after[0].days"]
        );
        assert_eq!(
            fields(|s| s.retention = vec![KeepFor { status: 5, months: 12 }, KeepFor { status: 5, months: 121 }]),
            ["settings.retention[1].status", "settings.retention[1].months"]
        );
        assert_eq!(fields(|s| s.retention = vec![KeepFor { status: 0, months: 1 }]), ["settings.retention[0].status"]);
    }
}
