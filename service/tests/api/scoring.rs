//! The fit score over the contract: the defaults on a set of answers, a
//! change of the rules that re-scores every card (and resumes after a kill),
//! bad rules refused, and the board ordered by score and filtered on HOT.

use std::time::{Duration, Instant};

use astro_authorizer::{Claims, Role};
use astro_proto::v1::{
    Budget, FitGrade, FitRule, GetScoringRulesRequest, ListProspectsRequest, ListScoringRulesRevisionsRequest,
    Prospect, ProspectStatus, RescoreState, ScoringRules, Timeline, UpdateProspectRequest, UpdateScoringRulesRequest,
    scoring_service_client::ScoringServiceClient,
};
use astro_service::{
    domain::{
        clock::Clock,
        prospects::Prospects as Domain,
        scoring::{LEASE, RULES_TTL, Rescorer, Scoring, Step},
    },
    keys::KeyRing,
};
use prost_types::FieldMask;
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};

use crate::helpers::{
    Bearer, Prospects, TestApp, assert_code, on_dynamodb, prospect, spawn_app, token, violated_fields,
};

type Rules = ScoringServiceClient<InterceptedService<Channel, Bearer>>;

pub async fn rules_client(app: &TestApp, token: String) -> Rules {
    ScoringServiceClient::with_interceptor(app.channel().await, Bearer(Some(token)))
}

/// A CEO with a budget over 50 k€ starting now, at a company, with a phone.
fn ceo(email: &str) -> Prospect {
    Prospect {
        job_title: "Co-founder & CEO".into(),
        phone: "+33 6 12 34 56 78".into(),
        budget: Budget::Over50k as i32,
        timeline: Timeline::Immediate as i32,
        ..prospect("Grace", email)
    }
}

/// A student asking for a brochure from a free-mail address.
fn student(email: &str) -> Prospect {
    Prospect {
        job_title: "Étudiante".into(),
        company: String::new(),
        message: "Pourriez-vous m'envoyer une brochure ?".into(),
        budget: Budget::Under5k as i32,
        timeline: Timeline::Later as i32,
        ..prospect("Léa", email)
    }
}

async fn create(client: &mut Prospects, p: Prospect) -> Prospect {
    let request = astro_proto::v1::CreateProspectRequest { prospect: Some(p), request_id: String::new() };
    client.create_prospect(request).await.expect("create").into_inner()
}

fn grade(p: &Prospect) -> FitGrade {
    p.fit.as_ref().map_or(FitGrade::Unspecified, |f| f.grade())
}

#[tokio::test]
async fn the_default_rules_score_each_submission_and_say_why() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let hot = create(&mut admin, ceo("grace@navy.example")).await;
    let fit = hot.fit.clone().expect("scored in the create");
    assert_eq!((fit.score, fit.grade(), fit.rules_version), (90, FitGrade::Hot, 1));
    let why: Vec<(FitRule, i32)> = fit.parts.iter().map(|p| (p.rule(), p.points)).collect();
    assert_eq!(
        why,
        [
            (FitRule::Budget, 30),
            (FitRule::Timeline, 25),
            (FitRule::JobTitle, 20),
            (FitRule::BusinessEmail, 10),
            (FitRule::Phone, 5)
        ]
    );
    assert_eq!(fit.parts[2].group, "Decision makers");

    let cold = create(&mut admin, student("lea@gmail.com")).await;
    assert_eq!(cold.fit.as_ref().map(|f| (f.score, f.grade())), Some((-10, FitGrade::Cold)));

    // An edit scores again in its write: a student who becomes a director.
    let request = UpdateProspectRequest {
        prospect: Some(Prospect {
            id: cold.id.clone(),
            version: cold.version,
            job_title: "Directrice".into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask { paths: vec!["job_title".into()] }),
    };
    let edited = admin.update_prospect(request).await.unwrap().into_inner();
    assert_eq!(edited.fit.as_ref().map(|f| (f.score, f.grade())), Some((20, FitGrade::Cold)));

    // Every member reads the rules; they are the defaults, version 1.
    app.add_member("vera@example.com", "vera's long passphrase", Role::Viewer).await;
    let viewer = token("vera@example.com", Role::Viewer);
    let rules =
        rules_client(&app, viewer).await.get_scoring_rules(GetScoringRulesRequest {}).await.unwrap().into_inner();
    assert_eq!((rules.version, rules.hot_threshold, rules.warm_threshold), (1, 60, 30));
    assert!(rules.updated_by.is_empty());
}

/// A list (and the live board) carries each card without its fit's reasons
/// and the storage keys; GetProspect has them. Both stores.
#[tokio::test]
async fn a_list_carries_cards_and_get_prospect_the_whole_prospect() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let hot = create(&mut admin, ceo("grace@navy.example")).await;
    let request = ListProspectsRequest { status: ProspectStatus::New as i32, ..Default::default() };
    let page = admin.list_prospects(request).await.unwrap().into_inner();
    let card = page.prospects.iter().find(|p| p.id == hot.id).expect("listed");
    let fit = card.fit.as_ref().expect("the grade on the card");
    assert_eq!((fit.score, fit.grade(), fit.rules_version), (90, FitGrade::Hot, 1));
    assert!(fit.parts.is_empty(), "the reasons are GetProspect's");
    assert!(
        card.search_first_name.is_empty() && card.search_partition.is_empty() && card.deadline_partition.is_empty()
    );
    assert_eq!((card.first_name.as_str(), card.version, &card.score_key), ("Grace", hot.version, &hot.score_key));
    assert!(card.status_changed_at.is_some() && card.created_at.is_some());

    let get = astro_proto::v1::GetProspectRequest { id: hot.id.clone(), view: 0 };
    let whole = admin.get_prospect(get).await.unwrap().into_inner();
    assert_eq!(whole.fit.as_ref().map(|f| f.parts.len()), Some(5));
    assert_eq!(whole.search_first_name, "grace");
    let mut as_card = whole.clone();
    astro_service::domain::prospects::card_view(&mut as_card);
    assert_eq!(&as_card, card, "a listed card is the whole prospect less what a card leaves out");
}

/// Polls the rules until their re-scoring with `version` is done.
async fn until_rescored(client: &mut Rules, version: i64) -> ScoringRules {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rules = client.get_scoring_rules(GetScoringRulesRequest {}).await.unwrap().into_inner();
        if rules.rescore.as_ref().is_some_and(|r| r.rules_version == version && r.state() == RescoreState::Done) {
            return rules;
        }
        assert!(
            Instant::now() < deadline,
            "re-scoring with version {version} not done within 20 s: {:?}",
            rules.rescore
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_change_of_the_rules_is_a_new_version_and_re_scores_every_card() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let admin_token = app.admin_token().await;
    let mut rules = rules_client(&app, admin_token).await;
    let first = create(&mut admin, ceo("grace@navy.example")).await;
    let second = create(&mut admin, student("lea@gmail.com")).await;
    until_rescored(&mut rules, 1).await;

    // Raising the bar for HOT: the CEO's 90 is now WARM.
    let current = rules.get_scoring_rules(GetScoringRulesRequest {}).await.unwrap().into_inner();
    let change = UpdateScoringRulesRequest {
        rules: Some(ScoringRules { hot_threshold: 95, version: current.version, ..Default::default() }),
        update_mask: Some(FieldMask { paths: vec!["hot_threshold".into()] }),
    };
    let saved = rules.update_scoring_rules(change.clone()).await.unwrap().into_inner();
    assert_eq!((saved.version, saved.hot_threshold, saved.warm_threshold), (2, 95, 30));
    assert_eq!(saved.updated_by, crate::helpers::ADMIN_EMAIL);
    assert_eq!(saved.job_title.len(), 3, "the fields not named are kept");
    // The same change from the old version is refused: someone else's is not overwritten.
    assert_code(rules.update_scoring_rules(change).await, Code::Aborted);

    // A card created now is scored with the new rules at once.
    let third = create(&mut admin, ceo("ada@engines.example")).await;
    assert_eq!(third.fit.as_ref().map(|f| (f.grade(), f.rules_version)), Some((FitGrade::Warm, 2)));

    // The older cards are scored again in the background, once the rules
    // have reached every instance (the clock moves instead of a wait).
    app.clock().advance(RULES_TTL + Duration::from_secs(1));
    let done = until_rescored(&mut rules, 2).await;
    let job = done.rescore.unwrap();
    assert_eq!((job.total, job.scored), (3, 3));
    let get = |id: &str| astro_proto::v1::GetProspectRequest { id: id.into(), view: 0 };
    let first = admin.get_prospect(get(&first.id)).await.unwrap().into_inner();
    assert_eq!(first.fit.as_ref().map(|f| (f.score, f.grade(), f.rules_version)), Some((90, FitGrade::Warm, 2)));
    assert_eq!(first.version, 2, "the re-scoring is one write of the card");
    let second = admin.get_prospect(get(&second.id)).await.unwrap().into_inner();
    assert_eq!(second.fit.as_ref().map(|f| f.rules_version), Some(2));
    let third_now = admin.get_prospect(get(&third.id)).await.unwrap().into_inner();
    assert_eq!(third_now.version, third.version, "a card already on the version is not written again");

    // Both versions are kept, newest first, with who made them.
    let revisions = rules
        .list_scoring_rules_revisions(ListScoringRulesRevisionsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert_eq!(revisions.iter().map(|r| r.version).collect::<Vec<_>>(), [2]);
    assert_eq!(revisions[0].updated_by, crate::helpers::ADMIN_EMAIL);
}

#[tokio::test]
async fn bad_rules_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let admin_token = app.admin_token().await;
    let mut rules = rules_client(&app, admin_token).await;
    let bad = |f: fn(&mut ScoringRules)| {
        let mut r = astro_service::domain::scoring::defaults();
        f(&mut r);
        UpdateScoringRulesRequest { rules: Some(r), update_mask: None }
    };
    for (request, field) in [
        (bad(|r| r.warm_threshold = -1), "rules.warm_threshold"),
        (bad(|r| r.hot_threshold = 10), "rules.hot_threshold"),
        (bad(|r| r.job_title[0].words = (0..51).map(|i| format!("w{i}")).collect()), "rules.job_title[0].words"),
        (bad(|r| r.message[0].points = 500), "rules.message[0].points"),
    ] {
        let refused = assert_code(rules.update_scoring_rules(request).await, Code::InvalidArgument);
        assert_eq!(violated_fields(&refused), [field]);
    }
    let unknown = UpdateScoringRulesRequest {
        rules: Some(ScoringRules { version: 1, ..Default::default() }),
        update_mask: Some(FieldMask { paths: vec!["version".into()] }),
    };
    assert_eq!(
        violated_fields(&assert_code(rules.update_scoring_rules(unknown).await, Code::InvalidArgument)),
        ["update_mask"]
    );
    let kept = rules.get_scoring_rules(GetScoringRulesRequest {}).await.unwrap().into_inner();
    assert_eq!((kept.version, kept.hot_threshold), (1, 60));

    // Salespeople read the rules but do not change them.
    app.add_member("sam@example.com", "sam's long passphrase", Role::Sales).await;
    let mut sales = rules_client(&app, token("sam@example.com", Role::Sales)).await;
    sales.get_scoring_rules(GetScoringRulesRequest {}).await.unwrap();
    let change = UpdateScoringRulesRequest { rules: Some(kept), update_mask: None };
    assert_code(sales.update_scoring_rules(change).await, Code::PermissionDenied);
}

fn admin() -> Claims {
    Claims { email: "admin@example.com".into(), role: Role::Admin, iat: 0, exp: i64::MAX }
}

#[tokio::test]
async fn a_re_scoring_killed_midway_resumes_and_scores_each_card_once() {
    let opened =
        if on_dynamodb() { crate::store_contract::dynamodb().await } else { crate::store_contract::embedded().await };
    let store = opened.0.clone();
    let clock = Clock::system();
    let keys = KeyRing::new(astro_authorizer::TokenSecret::new(vec![7; 32]).unwrap());
    let scoring = Scoring::new(store.clone(), clock.clone(), keys.clone());
    let prospects = Domain::new(store.clone(), keys.clone()).with_scoring(scoring.clone());
    let mut ids = Vec::new();
    for n in 0..7 {
        let card = if n % 2 == 0 { ceo(&format!("ceo{n}@acme.example")) } else { student(&format!("s{n}@gmail.com")) };
        ids.push(prospects.create(&admin(), card, "").await.unwrap().id);
    }
    // One card in another column: the job goes through every column.
    let moved = prospects.get(&ids[0], 0).await.unwrap();
    let moved = Prospect { status: ProspectStatus::Won as i32, ..moved };
    prospects.update(&admin(), moved, &["status".into()]).await.unwrap();
    let versions_before: Vec<i64> = futures_versions(&prospects, &ids).await;

    // The first instance: version 1's job finds every card already on it.
    let first = Rescorer::new(scoring.clone(), prospects.board().clone()).with_page(3);
    while first.step().await.unwrap() == Step::Worked {}
    assert_eq!(futures_versions(&prospects, &ids).await, versions_before, "nothing to write for version 1");

    let current = scoring.get().await.unwrap();
    let change = ScoringRules { hot_threshold: 95, version: current.version, ..Default::default() };
    scoring.update(&admin(), change, &["hot_threshold".into()]).await.unwrap();
    assert_eq!(first.step().await.unwrap(), Step::Waiting, "not before every instance has the rules");
    clock.advance(RULES_TTL + Duration::from_secs(1));
    // One page, and the job's checkpoint is lost with the process: as if it
    // were killed after writing the cards, before recording how far it got.
    let checkpoint = store.get_rescore().await.unwrap().unwrap();
    assert_eq!(first.step().await.unwrap(), Step::Worked);
    let after_page = store.get_rescore().await.unwrap().unwrap();
    assert_eq!(after_page.scored, 3);
    let lost = astro_proto::v1::Rescore {
        version: after_page.version + 1,
        lease_until: after_page.lease_until,
        leased_by: after_page.leased_by.clone(),
        ..checkpoint
    };
    store.save_rescore(&lost, after_page.version).await.unwrap();
    drop(first);

    // Another instance waits for the dead one's lease, then finishes.
    let second = Rescorer::new(scoring.clone(), prospects.board().clone()).with_page(3);
    assert_eq!(second.step().await.unwrap(), Step::Waiting, "the lease of the killed instance holds");
    clock.advance(LEASE + Duration::from_secs(1));
    let mut steps = 0;
    while second.step().await.unwrap() == Step::Worked {
        steps += 1;
        assert!(steps < 20, "the job ends");
    }
    let job = store.get_rescore().await.unwrap().unwrap();
    assert_eq!((job.state(), job.rules_version, job.total, job.scored), (RescoreState::Done, 2, 7, 7));
    let after: Vec<i64> = futures_versions(&prospects, &ids).await;
    for (n, (before, after)) in versions_before.iter().zip(&after).enumerate() {
        assert_eq!(*after, before + 1, "card {n} written once by the re-scoring");
    }
    for id in &ids {
        let card = prospects.get(id, 0).await.unwrap();
        assert_eq!(card.fit.as_ref().map(|f| f.rules_version), Some(2));
        assert_ne!(grade(&card), FitGrade::Hot, "nobody reaches 95");
    }
    assert_eq!(second.step().await.unwrap(), Step::Idle);
}

async fn futures_versions(prospects: &Domain, ids: &[String]) -> Vec<i64> {
    let mut out = Vec::new();
    for id in ids {
        out.push(prospects.get(id, 0).await.unwrap().version);
    }
    out
}

#[tokio::test]
async fn a_column_ordered_by_score_and_the_hot_filter_page_through_the_index() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    // Eleven cards: four HOT (two of them equal), four WARM, three COLD.
    let mut made = Vec::new();
    for n in 0..11 {
        let card = match n % 3 {
            0 => ceo(&format!("ceo{n}@acme.example")),
            1 => Prospect {
                job_title: "Responsable achats".into(),
                timeline: Timeline::Within3Months as i32,
                message: "Un devis svp".into(),
                ..prospect("Chloé", &format!("chloe{n}@industrie.example"))
            },
            _ => student(&format!("s{n}@gmail.com")),
        };
        let card = if n == 9 { Prospect { phone: String::new(), ..card } } else { card };
        made.push(create(&mut admin, card).await);
    }
    let mut expected = made.clone();
    expected.sort_by_key(|p| std::cmp::Reverse((p.score_key.clone(), p.id.clone())));
    let scores: Vec<(i32, &str)> =
        expected.iter().map(|p| (p.fit.as_ref().unwrap().score, p.score_key.as_str())).collect();
    assert!(scores.windows(2).all(|w| w[0].0 >= w[1].0), "{scores:?}");

    let page_through = |grade: FitGrade| {
        let mut admin = admin.clone();
        async move {
            let mut seen = Vec::new();
            let mut token = String::new();
            loop {
                let request = ListProspectsRequest {
                    status: ProspectStatus::New as i32,
                    page_size: 3,
                    page_token: token.clone(),
                    order_by: "score desc".into(),
                    grade: grade as i32,
                    ..Default::default()
                };
                let page = admin.list_prospects(request).await.unwrap().into_inner();
                seen.extend(page.prospects);
                if page.next_page_token.is_empty() {
                    return seen;
                }
                token = page.next_page_token;
            }
        }
    };
    let ids = |cards: &[Prospect]| cards.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    let all = page_through(FitGrade::Unspecified).await;
    assert_eq!(ids(&all), ids(&expected), "best first, over four pages");
    let hot = page_through(FitGrade::Hot).await;
    let expected_hot: Vec<Prospect> = expected.iter().filter(|p| grade(p) == FitGrade::Hot).cloned().collect();
    assert_eq!(expected_hot.len(), 4);
    assert_eq!(ids(&hot), ids(&expected_hot), "only HOT, best first, over two pages");

    // The whole board (every column merged) by score, and a bad order refused.
    let request = ListProspectsRequest { order_by: "score desc".into(), page_size: 2, ..Default::default() };
    let board = admin.list_prospects(request).await.unwrap().into_inner();
    assert_eq!(ids(&board.prospects), ids(&expected[..2]));
    let request = ListProspectsRequest { order_by: "email asc".into(), ..Default::default() };
    assert_eq!(violated_fields(&assert_code(admin.list_prospects(request).await, Code::InvalidArgument)), ["order_by"]);
    let request =
        ListProspectsRequest { order_by: "created_at desc".into(), grade: FitGrade::Hot as i32, ..Default::default() };
    assert_eq!(violated_fields(&assert_code(admin.list_prospects(request).await, Code::InvalidArgument)), ["order_by"]);
}
