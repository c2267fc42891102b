//! The pipeline's figures from a known history: cards created and moved at
//! set times (a fixed clock, moved forward) over two weeks and two sources
//! give exactly the expected conversions, medians and percentiles.

use std::time::Duration;

use astro_proto::v1::{
    GetPipelineInsightsRequest, PeriodFigures, Prospect, ProspectStatus, Source, UpdateProspectRequest,
    insights_service_client::InsightsServiceClient,
};
use astro_service::domain::clock::Clock;
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::{Bearer, Prospects, assert_code, prospect, spawn_app_on, violated_fields};

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

async fn make(client: &mut Prospects, name: &str, source: &str, campaign: &str) -> Prospect {
    let card = Prospect {
        source: Some(Source { utm_source: source.into(), utm_campaign: campaign.into(), ..Default::default() }),
        ..prospect(name, &format!("{}@example.com", name.to_lowercase()))
    };
    let request = astro_proto::v1::CreateProspectRequest { prospect: Some(card), request_id: String::new() };
    client.create_prospect(request).await.unwrap().into_inner()
}

async fn move_to(client: &mut Prospects, card: &mut Prospect, status: ProspectStatus) {
    let request = UpdateProspectRequest {
        prospect: Some(Prospect {
            id: card.id.clone(),
            version: card.version,
            status: status as i32,
            ..Default::default()
        }),
        update_mask: Some(FieldMask { paths: vec!["status".into()] }),
    };
    *card = client.update_prospect(request).await.unwrap().into_inner();
}

fn column(f: &PeriodFigures, status: ProspectStatus) -> (i64, i64) {
    let c = f.column_times.iter().find(|c| c.status == status as i32).unwrap();
    (c.median_seconds, c.stays)
}

#[tokio::test]
async fn a_known_history_gives_exactly_the_expected_figures() {
    // Monday 2 November 2026, 09:00 UTC: ISO week 2026-W45.
    let clock = Clock::fixed(prost_types::Timestamp { seconds: 1_793_610_000, nanos: 0 });
    let app = spawn_app_on(clock.clone()).await;
    let token = app.admin_token().await;
    let mut admin = app.prospects_with(Some(token.clone())).await;
    let mut g1 = make(&mut admin, "Gina", "google", "spring").await;
    let mut g2 = make(&mut admin, "Gus", "google", "spring").await;
    let mut l1 = make(&mut admin, "Lea", "linkedin", "").await;
    let mut l2 = make(&mut admin, "Luc", "linkedin", "").await;

    clock.advance(Duration::from_secs(HOUR));
    move_to(&mut admin, &mut g1, ProspectStatus::Contacted).await; // first contact 1 h
    clock.advance(Duration::from_secs(HOUR));
    move_to(&mut admin, &mut g2, ProspectStatus::Contacted).await; // 2 h
    clock.advance(Duration::from_secs(2 * HOUR));
    move_to(&mut admin, &mut l1, ProspectStatus::Won).await; // 4 h, straight to WON
    // A week on (2026-W46): Gina qualified, then won a day later; Luc lost.
    clock.advance(Duration::from_secs(7 * DAY - 4 * HOUR));
    move_to(&mut admin, &mut g1, ProspectStatus::Qualified).await; // 7 d - 1 h in CONTACTED
    clock.advance(Duration::from_secs(DAY));
    move_to(&mut admin, &mut g1, ProspectStatus::Won).await; // 1 d in QUALIFIED
    move_to(&mut admin, &mut l2, ProspectStatus::Lost).await; // first move out of NEW after 8 d
    // A move back and forth counts each column once.
    move_to(&mut admin, &mut g2, ProspectStatus::New).await;
    move_to(&mut admin, &mut g2, ProspectStatus::Contacted).await;

    let mut insights = InsightsServiceClient::with_interceptor(app.channel().await, Bearer(Some(token)));
    let request = GetPipelineInsightsRequest { from_week: "2026-W44".into(), to_week: "2026-W46".into() };
    let page = insights.get_pipeline_insights(request).await.unwrap().into_inner();
    let weeks: Vec<(&str, i64)> = page.weeks.iter().map(|w| (w.week.as_str(), w.created)).collect();
    assert_eq!(weeks, [("2026-W44", 0), ("2026-W45", 4), ("2026-W46", 0)]);

    let total = page.total.unwrap();
    assert_eq!((total.created, total.contacted, total.qualified, total.won, total.lost), (4, 3, 2, 2, 1));
    assert_eq!(
        (total.new_to_contacted, total.contacted_to_qualified, total.qualified_to_won, total.created_to_won),
        (0.75, 2.0 / 3.0, 1.0, 0.5)
    );
    // Times to first contact: 1 h, 2 h, 4 h, 8 d (nearest rank).
    assert_eq!(total.first_contacted, 4);
    assert_eq!(total.first_contact_median_seconds, 2 * HOUR as i64);
    assert_eq!(total.first_contact_p90_seconds, 8 * DAY as i64);
    // NEW: 1 h, 2 h, 4 h, 8 d, and Gus's second stay of 0 s.
    assert_eq!(column(&total, ProspectStatus::New), (2 * HOUR as i64, 5));
    assert_eq!(column(&total, ProspectStatus::Contacted), ((7 * DAY - HOUR) as i64, 2));
    assert_eq!(column(&total, ProspectStatus::Qualified), (DAY as i64, 1));

    let source = |key: &str| page.by_source.iter().find(|f| f.key == key).unwrap().clone();
    let google = source("google");
    assert_eq!((google.created, google.contacted, google.qualified, google.won, google.lost), (2, 2, 1, 1, 0));
    assert_eq!((google.first_contact_median_seconds, google.first_contact_p90_seconds), (HOUR as i64, 2 * HOUR as i64));
    let linkedin = source("linkedin");
    assert_eq!((linkedin.created, linkedin.won, linkedin.lost, linkedin.created_to_won), (2, 1, 1, 0.5));
    assert_eq!(linkedin.first_contact_median_seconds, 4 * HOUR as i64);
    let campaigns: Vec<(&str, i64)> = page.by_campaign.iter().map(|f| (f.key.as_str(), f.created)).collect();
    assert_eq!(campaigns, [("", 2), ("spring", 2)]);

    // The cohort is the creation week: the next week alone has none of it.
    let request = GetPipelineInsightsRequest { from_week: "2026-W46".into(), to_week: "2026-W46".into() };
    let next = insights.get_pipeline_insights(request).await.unwrap().into_inner().total.unwrap();
    assert_eq!((next.created, next.won), (0, 0));
    assert_eq!(column(&next, ProspectStatus::Contacted).1, 2, "a stay counts in the week it ended");

    let bad = GetPipelineInsightsRequest { from_week: "2026-48".into(), to_week: "2026-W48".into() };
    assert_eq!(
        violated_fields(&assert_code(insights.get_pipeline_insights(bad).await, Code::InvalidArgument)),
        ["from_week"]
    );
    let long = GetPipelineInsightsRequest { from_week: "2020-W01".into(), to_week: "2026-W48".into() };
    assert_eq!(
        violated_fields(&assert_code(insights.get_pipeline_insights(long).await, Code::InvalidArgument)),
        ["to_week"]
    );
}
