//! Forms as data: an admin builds a form with questions of their own and
//! publishes it; visitors get the published version (no token); a
//! submission is judged by the version it names — a required question, a
//! choice not offered, a number out of bounds are refused with the field
//! named and nothing stored — and keeps its answers, typed and labelled,
//! whatever later versions change. A replaced version is accepted for a
//! day, not after (the test moves the clock).

use std::time::Duration;

use astro_authorizer::Role;
use astro_proto::v1::{
    Answer, Choice, CreateFormRequest, CreateProspectRequest, Form, FormDefinition, FormRef, GetProspectRequest,
    GetPublishedFormRequest, LocalizedText, NumberBounds, Prospect, PublishFormRequest, Question, QuestionType,
    UpdateFormRequest, form_service_client::FormServiceClient,
};
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};

use crate::helpers::*;

type Forms = FormServiceClient<InterceptedService<Channel, Bearer>>;

async fn forms(app: &TestApp, token: Option<String>) -> Forms {
    FormServiceClient::with_interceptor(app.channel().await, Bearer(token))
}

fn text(fr: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText { fr: fr.into(), en: en.into() })
}

fn choices(ids: &[&str]) -> Vec<Choice> {
    ids.iter().map(|id| Choice { id: (*id).into(), label: text(&format!("FR {id}"), &format!("EN {id}")) }).collect()
}

/// A fair's form: the sector (required), the seats (1–500), the tools.
fn salon() -> FormDefinition {
    let mut d = astro_service::domain::forms::default_definition();
    d.title = text("Salon 2027", "Fair 2027");
    d.questions = vec![
        Question {
            id: "sector".into(),
            kind: QuestionType::SingleChoice as i32,
            label: text("Votre secteur ?", "Your sector?"),
            required: true,
            choices: choices(&["saas", "retail", "industry"]),
            ..Default::default()
        },
        Question {
            id: "seats".into(),
            kind: QuestionType::Number as i32,
            label: text("Combien d'utilisateurs ?", "How many users?"),
            bounds: Some(NumberBounds { min: 1.0, max: 500.0 }),
            ..Default::default()
        },
        Question {
            id: "tools".into(),
            kind: QuestionType::MultipleChoice as i32,
            label: text("Vos outils ?", "Your tools?"),
            choices: choices(&["sheets", "crm", "none"]),
            max_choices: 2,
            ..Default::default()
        },
    ];
    d.allowed_origins = vec!["https://www.example.com".into()];
    d
}

fn answer(id: &str) -> Answer {
    Answer { question_id: id.into(), ..Default::default() }
}

fn submission(email: &str, version: i64, answers: Vec<Answer>) -> CreateProspectRequest {
    let mut p = prospect("Vera", email);
    p.consent.as_mut().unwrap().language = "en".into();
    p.form = Some(FormRef { name: "salon-2027".into(), version });
    p.answers = answers;
    CreateProspectRequest { prospect: Some(p), request_id: String::new() }
}

#[tokio::test]
async fn a_form_is_built_published_and_judges_its_answers_version_by_version() {
    let clock = astro_service::domain::clock::Clock::system();
    let app = spawn_app_on(clock.clone()).await;
    let admin_token = app.admin_token().await;
    let mut admin = forms(&app, Some(admin_token.clone())).await;
    let mut visitor = forms(&app, None).await;
    let mut service = app.service().await;

    // Invalid definitions: each field named.
    let mut bad = salon();
    bad.questions[0].choices.clear();
    bad.questions[2].id = "sector".into();
    bad.questions[1].label = text(&"x".repeat(201), "ok");
    let refused = admin
        .create_form(CreateFormRequest {
            form: Some(Form { name: "salon-2027".into(), draft: Some(bad), ..Default::default() }),
        })
        .await;
    assert_eq!(
        violated_fields(&assert_code(refused, Code::InvalidArgument)),
        ["form.draft.questions[0].choices", "form.draft.questions[1].label.fr", "form.draft.questions[2].id"]
    );
    let bad_name = admin
        .create_form(CreateFormRequest {
            form: Some(Form { name: "Salon 2027".into(), draft: Some(salon()), ..Default::default() }),
        })
        .await;
    assert_eq!(violated_fields(&assert_code(bad_name, Code::InvalidArgument)), ["form.name"]);

    let form = admin
        .create_form(CreateFormRequest {
            form: Some(Form { name: "salon-2027".into(), draft: Some(salon()), ..Default::default() }),
        })
        .await
        .expect("created")
        .into_inner();
    assert_eq!((form.version, form.published_version), (1, 0));
    let unpublished = visitor.get_published_form(GetPublishedFormRequest { name: "salon-2027".into() }).await;
    assert_code(unpublished, Code::NotFound);
    let again = admin
        .create_form(CreateFormRequest {
            form: Some(Form { name: "salon-2027".into(), draft: Some(salon()), ..Default::default() }),
        })
        .await;
    assert_code(again, Code::AlreadyExists);

    let form = admin
        .publish_form(PublishFormRequest { name: "salon-2027".into(), version: form.version })
        .await
        .expect("published")
        .into_inner();
    assert_eq!(form.published_version, 1);
    let published = visitor
        .get_published_form(GetPublishedFormRequest { name: "salon-2027".into() })
        .await
        .expect("public")
        .into_inner();
    assert_eq!(published.version, 1);
    assert_eq!(published.definition.unwrap().questions.len(), 3);

    // Bad answers: named, nothing stored.
    let before =
        list(&mut admin_prospects(&app, &admin_token).await, astro_proto::v1::ProspectStatus::New, 1, "").await;
    let refused = service
        .create_prospect(submission(
            "vera@example.com",
            1,
            vec![
                Answer { number: 900.0, ..answer("seats") },
                Answer { choices: vec!["sheets".into(), "crm".into(), "none".into()], ..answer("tools") },
                Answer { text: "?".into(), ..answer("unknown") },
            ],
        ))
        .await;
    assert_eq!(
        violated_fields(&assert_code(refused, Code::InvalidArgument)),
        [
            "prospect.answers[2].question_id",
            "prospect.answers.sector",
            "prospect.answers[0].number",
            "prospect.answers[1].choices"
        ]
    );
    let not_offered = service
        .create_prospect(submission(
            "vera@example.com",
            1,
            vec![Answer { choices: vec!["farming".into()], ..answer("sector") }],
        ))
        .await;
    assert_eq!(violated_fields(&assert_code(not_offered, Code::InvalidArgument)), ["prospect.answers[0].choices[0]"]);
    let after = list(&mut admin_prospects(&app, &admin_token).await, astro_proto::v1::ProspectStatus::New, 1, "").await;
    assert_eq!(
        count(&after, astro_proto::v1::ProspectStatus::New),
        count(&before, astro_proto::v1::ProspectStatus::New)
    );

    // A good one: typed, labelled in the visitor's language.
    let card = service
        .create_prospect(submission(
            "vera@example.com",
            1,
            vec![
                Answer { choices: vec!["retail".into()], ..answer("sector") },
                Answer { number: 12.5, ..answer("seats") },
            ],
        ))
        .await
        .expect("accepted")
        .into_inner();
    assert_eq!(card.form, Some(FormRef { name: "salon-2027".into(), version: 1 }));
    assert_eq!(card.answers.len(), 2);
    assert_eq!(
        (card.answers[0].label.as_str(), card.answers[0].choice_labels[0].as_str()),
        ("Your sector?", "EN retail")
    );
    assert_eq!((card.answers[1].kind, card.answers[1].number), (QuestionType::Number as i32, 12.5));

    // Version 2 drops the seats: the card still reads them.
    let mut v2 = salon();
    v2.questions.remove(1);
    let form = admin
        .update_form(UpdateFormRequest {
            form: Some(Form {
                name: "salon-2027".into(),
                version: form.version,
                draft: Some(v2),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["draft.questions".into()] }),
        })
        .await
        .expect("updated")
        .into_inner();
    let stale = admin.publish_form(PublishFormRequest { name: "salon-2027".into(), version: form.version - 1 }).await;
    assert_code(stale, Code::Aborted);
    admin.publish_form(PublishFormRequest { name: "salon-2027".into(), version: form.version }).await.expect("v2");
    let stored = admin_prospects(&app, &admin_token)
        .await
        .get_prospect(GetProspectRequest { id: card.id.clone(), view: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.answers, card.answers, "a later version changes no card");

    // The page opened before the publication still sends version 1, for a day.
    let sector = || vec![Answer { choices: vec!["saas".into()], ..answer("sector") }];
    service.create_prospect(submission("late@example.com", 1, sector())).await.expect("within the grace");
    clock.advance(astro_service::domain::forms::GRACE + Duration::from_secs(60));
    let too_late = service.create_prospect(submission("later@example.com", 1, sector())).await;
    assert_eq!(violated_fields(&assert_code(too_late, Code::InvalidArgument)), ["prospect.form.version"]);
    service.create_prospect(submission("now@example.com", 2, sector())).await.expect("the version in force");
    // Answers without a form, a form that does not exist.
    let mut orphan = submission("o@example.com", 2, sector());
    orphan.prospect.as_mut().unwrap().form = None;
    assert_eq!(
        violated_fields(&assert_code(service.create_prospect(orphan).await, Code::InvalidArgument)),
        ["prospect.answers"]
    );
    let mut nowhere = submission("n@example.com", 1, Vec::new());
    nowhere.prospect.as_mut().unwrap().form = Some(FormRef { name: "nowhere".into(), version: 1 });
    assert_eq!(
        violated_fields(&assert_code(service.create_prospect(nowhere).await, Code::InvalidArgument)),
        ["prospect.form.name"]
    );
}

async fn admin_prospects(app: &TestApp, token: &str) -> Prospects {
    app.prospects_with(Some(token.to_owned())).await
}

#[tokio::test]
async fn the_default_form_exists_before_anyone_changes_it_and_only_admins_build_forms() {
    let app = spawn_app().await;
    let mut visitor = forms(&app, None).await;
    let default = visitor
        .get_published_form(GetPublishedFormRequest { name: "default".into() })
        .await
        .expect("the hosted page's form")
        .into_inner();
    assert_eq!((default.name.as_str(), default.version), ("default", 0));
    let mut p: Prospect = prospect("Dora", "dora@example.com");
    p.form = Some(FormRef { name: "default".into(), version: 0 });
    let card = app
        .service()
        .await
        .create_prospect(CreateProspectRequest { prospect: Some(p), request_id: String::new() })
        .await
        .expect("a submission of the default form")
        .into_inner();
    assert_eq!(card.form.unwrap().name, "default");
    let missing = visitor.get_published_form(GetPublishedFormRequest { name: "nowhere".into() }).await;
    assert_code(missing, Code::NotFound);

    let mut sales = forms(&app, Some(token("sam@example.com", Role::Sales))).await;
    let denied = sales
        .create_form(CreateFormRequest {
            form: Some(Form { name: "x".into(), draft: Some(salon()), ..Default::default() }),
        })
        .await;
    assert_code(denied, Code::PermissionDenied);
    let denied = visitor.list_forms(astro_proto::v1::ListFormsRequest {}).await;
    assert_code(denied, Code::Unauthenticated);
    let mut admin = forms(&app, Some(app.admin_token().await)).await;
    let listed = admin.list_forms(astro_proto::v1::ListFormsRequest {}).await.unwrap().into_inner();
    assert_eq!(listed.forms.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["default"]);
}

/// Publishes `salon()` as salon-2027 version 1.
async fn publish_salon(admin: &mut Forms) {
    let form = Form { name: "salon-2027".into(), draft: Some(salon()), ..Default::default() };
    let created = admin.create_form(CreateFormRequest { form: Some(form) }).await.expect("created").into_inner();
    admin.publish_form(PublishFormRequest { name: "salon-2027".into(), version: created.version }).await.expect("v1");
}

#[tokio::test]
async fn a_forms_cards_are_listed_apart_scored_by_their_choices_and_exported_with_their_answers() {
    use astro_proto::v1::{
        AnswerPoints, ExportProspectsRequest, FitRule, GetScoringRulesRequest, ListProspectsRequest, ProspectStatus,
        ScoringRules, UpdateScoringRulesRequest,
    };
    let app = spawn_app().await;
    let admin_token = app.admin_token().await;
    publish_salon(&mut forms(&app, Some(admin_token.clone())).await).await;
    // 40 points for a SaaS company, from the fair's form only.
    let mut rules = crate::scoring::rules_client(&app, admin_token.clone()).await;
    let current = rules.get_scoring_rules(GetScoringRulesRequest {}).await.unwrap().into_inner();
    let rule =
        AnswerPoints { form: "salon-2027".into(), question_id: "sector".into(), choice_id: "saas".into(), points: 40 };
    let change = UpdateScoringRulesRequest {
        rules: Some(ScoringRules { answers: vec![rule], version: current.version, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["answers".into()] }),
    };
    rules.update_scoring_rules(change).await.expect("answer rules saved");

    let mut service = app.service().await;
    let sector = |choice: &str| vec![Answer { choices: vec![choice.into()], ..answer("sector") }];
    let saas = service.create_prospect(submission("saas@example.com", 1, sector("saas"))).await.unwrap().into_inner();
    let retail =
        service.create_prospect(submission("retail@example.com", 1, sector("retail"))).await.unwrap().into_inner();
    let mut admin = admin_prospects(&app, &admin_token).await;
    create(&mut admin, "Otto", "otto@example.com").await;

    let part = saas.fit.as_ref().unwrap().parts.iter().find(|p| p.rule() == FitRule::Answer).cloned();
    assert_eq!(part.map(|p| (p.points, p.group, p.matched)), Some((40, "sector".into(), "saas".into())));
    assert!(retail.fit.as_ref().unwrap().parts.iter().all(|p| p.rule() != FitRule::Answer));

    // The form's cards only, newest first, on the board and in one column.
    let of_form = |status: ProspectStatus| ListProspectsRequest {
        form: "salon-2027".into(),
        status: status as i32,
        ..Default::default()
    };
    for status in [ProspectStatus::Unspecified, ProspectStatus::New] {
        let listed = admin.list_prospects(of_form(status)).await.unwrap().into_inner();
        let ids: Vec<_> = listed.prospects.iter().map(|p| p.id.clone()).collect();
        assert_eq!(ids, [retail.id.clone(), saas.id.clone()], "{status:?}");
        assert!(listed.prospects.iter().all(|p| p.form_column.is_empty()), "a card carries no storage key");
    }
    let none = admin.list_prospects(of_form(ProspectStatus::Won)).await.unwrap().into_inner();
    assert!(none.prospects.is_empty());
    let with_owner = ListProspectsRequest { owner: "me".into(), ..of_form(ProspectStatus::New) };
    assert_eq!(violated_fields(&assert_code(admin.list_prospects(with_owner).await, Code::InvalidArgument)), ["form"]);
    let by_score = ListProspectsRequest { order_by: "score desc".into(), ..of_form(ProspectStatus::New) };
    assert_eq!(
        violated_fields(&assert_code(admin.list_prospects(by_score).await, Code::InvalidArgument)),
        ["order_by"]
    );
    let bad_name = ListProspectsRequest { form: "Not A Name".into(), ..Default::default() };
    assert_eq!(violated_fields(&assert_code(admin.list_prospects(bad_name).await, Code::InvalidArgument)), ["form"]);

    // The export of that form: its cards, each with its form and answers.
    let request = ExportProspectsRequest { filter: Some(of_form(ProspectStatus::Unspecified)), ..Default::default() };
    let (file, _) = crate::export::export(&mut admin, request).await.expect("exported");
    let file = String::from_utf8(file).unwrap();
    let mut rows = csv::Reader::from_reader(file.as_bytes());
    let header = rows.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{file}");
    let saas_row = rows.iter().find(|r| &r[at("Email")] == "saas@example.com").unwrap();
    assert_eq!(&saas_row[at("Form")], "salon-2027 v1");
    assert_eq!(&saas_row[at("Answers")], "Your sector?: EN saas");
}

#[tokio::test]
async fn double_opt_in_emails_the_link_that_confirms_the_card_once_for_30_days() {
    use astro_proto::v1::{ConfirmEmailRequest, EmailConfirmation};
    use astro_testkit::smtp::{SmtpSink, link_after};
    // Without email, a form cannot ask for it.
    let app = spawn_app().await;
    let mut admin = forms(&app, Some(app.admin_token().await)).await;
    let asks = Form {
        name: "newsletter".into(),
        draft: Some(FormDefinition { double_opt_in: true, ..salon() }),
        ..Default::default()
    };
    let created = admin.create_form(CreateFormRequest { form: Some(asks.clone()) }).await.unwrap().into_inner();
    let refused = admin.publish_form(PublishFormRequest { name: "newsletter".into(), version: created.version }).await;
    assert!(assert_code(refused, Code::FailedPrecondition).message().contains("SMTP"));

    let sink = SmtpSink::start();
    let smtp = sink.url();
    let clock = astro_service::domain::clock::Clock::system();
    let app = spawn_app_on_with(clock.clone(), move |c| {
        c.notify.notify_from = Some("Astro Qualif <team@example.com>".into());
        c.notify.smtp_url = Some(smtp);
        c.notify.notify_poll_ms = 50;
        c.notify.notify_retry_ms = 50;
        c.public_url = "https://astro.example.com".into();
    })
    .await;
    let mut admin = forms(&app, Some(app.admin_token().await)).await;
    let created = admin.create_form(CreateFormRequest { form: Some(asks) }).await.unwrap().into_inner();
    admin.publish_form(PublishFormRequest { name: "newsletter".into(), version: created.version }).await.expect("v1");

    let mut service = app.service().await;
    let sector = || vec![Answer { choices: vec!["saas".into()], ..answer("sector") }];
    let mut sent = submission("olive@example.com", 1, sector());
    sent.prospect.as_mut().unwrap().form.as_mut().unwrap().name = "newsletter".into();
    let card = service.create_prospect(sent.clone()).await.unwrap().into_inner();
    assert_eq!(card.email_confirmation(), EmailConfirmation::Pending);

    let email = sink.wait_for("olive@example.com").await;
    assert!(email.contains("Subject: Please confirm your email address"), "{email}");
    let link = link_after(&email, "https://astro.example.com/confirm#").expect("the link");
    let token = link.split_once('#').unwrap().1.to_owned();
    let mut visitor = app.anonymous().await;
    let confirm = |token: &str| ConfirmEmailRequest { token: token.into() };
    assert!(visitor.confirm_email(confirm(&token)).await.expect("the link works").into_inner().confirmed_now);
    let mut reader = admin_prospects(&app, &app.admin_token().await).await;
    let read = |id: String| GetProspectRequest { id, view: 0 };
    let confirmed = reader.get_prospect(read(card.id.clone())).await.unwrap().into_inner();
    assert_eq!((confirmed.email_confirmation(), confirmed.version), (EmailConfirmation::Confirmed, 2));
    assert!(confirmed.email_confirmed_at.is_some());
    // Once: the second use says so and changes nothing.
    assert!(!visitor.confirm_email(confirm(&token)).await.unwrap().into_inner().confirmed_now);
    assert_eq!(reader.get_prospect(read(card.id.clone())).await.unwrap().into_inner().version, 2);
    let forged = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(
        violated_fields(&assert_code(visitor.confirm_email(confirm(&forged)).await, Code::InvalidArgument)),
        ["token"]
    );

    // A link opened after its 30 days confirms nothing.
    sent.prospect.as_mut().unwrap().email = "late@example.com".into();
    let late = service.create_prospect(sent).await.unwrap().into_inner();
    let email = sink.wait_for("late@example.com").await;
    let link = link_after(&email, "https://astro.example.com/confirm#").expect("the link");
    clock.advance(astro_service::domain::email_confirmation::VALID_FOR + Duration::from_secs(60));
    let expired = visitor.confirm_email(confirm(link.split_once('#').unwrap().1)).await;
    assert_eq!(violated_fields(&assert_code(expired, Code::InvalidArgument)), ["token"]);
    let still = reader.get_prospect(read(late.id)).await.unwrap().into_inner();
    assert_eq!(still.email_confirmation(), EmailConfirmation::Pending);
}

#[tokio::test]
async fn a_form_that_asks_no_names_makes_cards_without_them_and_the_hosted_form_still_requires_them() {
    let app = spawn_app().await;
    let mut admin = forms(&app, Some(app.admin_token().await)).await;
    // A newsletter: the email only (and the consent).
    let mut newsletter = salon();
    newsletter.fields.clear();
    newsletter.questions.clear();
    let form = Form { name: "newsletter".into(), draft: Some(newsletter), ..Default::default() };
    let created = admin.create_form(CreateFormRequest { form: Some(form) }).await.expect("no names asked").into_inner();
    admin.publish_form(PublishFormRequest { name: "newsletter".into(), version: created.version }).await.unwrap();
    let mut service = app.service().await;
    let anonymous = |form: &str, version: i64| {
        let mut p = prospect("", "nina@example.com");
        p.last_name.clear();
        p.form = Some(FormRef { name: form.into(), version });
        CreateProspectRequest { prospect: Some(p), request_id: String::new() }
    };
    let card = service.create_prospect(anonymous("newsletter", 1)).await.expect("an email is enough").into_inner();
    assert_eq!((card.first_name.as_str(), card.last_name.as_str()), ("", ""));

    // The hosted page's form (and a card without a form) still require them.
    let refused = service.create_prospect(anonymous("default", 0)).await;
    assert_eq!(
        violated_fields(&assert_code(refused, Code::InvalidArgument)),
        ["prospect.first_name", "prospect.last_name"]
    );
    let mut no_form = anonymous("x", 0);
    no_form.prospect.as_mut().unwrap().form = None;
    let refused = service.create_prospect(no_form).await;
    assert_eq!(
        violated_fields(&assert_code(refused, Code::InvalidArgument)),
        ["prospect.first_name", "prospect.last_name"]
    );
}
