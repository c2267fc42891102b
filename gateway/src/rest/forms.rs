//! A form's published definition, for the pages that render it (the hosted
//! page, `/f/<name>`, the embed): public and cacheable.

use std::sync::Arc;

use astro_proto::v1 as pb;
use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{JsonBody, call, problem_from_status};
use crate::{
    Gateway,
    openapi::responses::{BodyErrors, CommonErrors},
    problem::Problem,
};

/// How long browsers and CDNs may keep a definition: a publication shows
/// within a minute.
const MAX_AGE: &str = "public, max-age=60";

/// A text in French and English.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Localized {
    pub fr: String,
    pub en: String,
}

fn localized(text: Option<pb::LocalizedText>) -> Localized {
    let t = text.unwrap_or_default();
    Localized { fr: t.fr, en: t.en }
}

/// The card's own fields a form may show.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StandardField {
    FirstName,
    LastName,
    Phone,
    Company,
    JobTitle,
    Message,
    Budget,
    Timeline,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    ShortText,
    LongText,
    SingleChoice,
    MultipleChoice,
    Number,
    YesNo,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FormField {
    pub field: StandardField,
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Choice {
    pub id: String,
    pub label: Localized,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Bounds {
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    pub id: String,
    pub kind: QuestionKind,
    pub label: Localized,
    pub help: Localized,
    pub required: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounds: Option<Bounds>,
    /// Text questions: the most characters (the kind's default when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i32>,
    /// Multiple choice: the most choices (any number when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_choices: Option<i32>,
}

/// A form as visitors get it: the version to name in the submission.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishedForm {
    pub name: String,
    /// Send it back as `formVersion` with the submission.
    pub version: i64,
    pub title: Localized,
    /// The card's fields shown, in order (email and consent always are).
    pub fields: Vec<FormField>,
    pub questions: Vec<Question>,
    pub thank_you: Localized,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub redirect_url: String,
    /// `fr` or `en`.
    pub default_language: String,
    pub double_opt_in: bool,
}

impl PublishedForm {
    fn from_proto(v: pb::FormVersion) -> Self {
        let d = v.definition.unwrap_or_default();
        let fields = d
            .fields
            .into_iter()
            .filter_map(|f| {
                let field = match pb::StandardField::try_from(f.field).ok()? {
                    pb::StandardField::FirstName => StandardField::FirstName,
                    pb::StandardField::LastName => StandardField::LastName,
                    pb::StandardField::Phone => StandardField::Phone,
                    pb::StandardField::Company => StandardField::Company,
                    pb::StandardField::JobTitle => StandardField::JobTitle,
                    pb::StandardField::Message => StandardField::Message,
                    pb::StandardField::Budget => StandardField::Budget,
                    pb::StandardField::Timeline => StandardField::Timeline,
                    pb::StandardField::Unspecified => return None,
                };
                Some(FormField { field, required: f.required })
            })
            .collect();
        let questions = d
            .questions
            .into_iter()
            .filter_map(|q| {
                let kind = match pb::QuestionType::try_from(q.kind).ok()? {
                    pb::QuestionType::ShortText => QuestionKind::ShortText,
                    pb::QuestionType::LongText => QuestionKind::LongText,
                    pb::QuestionType::SingleChoice => QuestionKind::SingleChoice,
                    pb::QuestionType::MultipleChoice => QuestionKind::MultipleChoice,
                    pb::QuestionType::Number => QuestionKind::Number,
                    pb::QuestionType::YesNo => QuestionKind::YesNo,
                    pb::QuestionType::Unspecified => return None,
                };
                Some(Question {
                    id: q.id,
                    kind,
                    label: localized(q.label),
                    help: localized(q.help),
                    required: q.required,
                    choices: q.choices.into_iter().map(|c| Choice { id: c.id, label: localized(c.label) }).collect(),
                    bounds: q.bounds.map(|b| Bounds { min: b.min, max: b.max }),
                    max_length: (q.max_length > 0).then_some(q.max_length),
                    max_choices: (q.max_choices > 0).then_some(q.max_choices),
                })
            })
            .collect();
        Self {
            name: v.name,
            version: v.version,
            title: localized(d.title),
            fields,
            questions,
            thank_you: localized(d.thank_you),
            redirect_url: d.redirect_url,
            default_language: d.default_language,
            double_opt_in: d.double_opt_in,
        }
    }
}

/// A form's published definition, for a page that shows it: no token,
/// cacheable for a minute. `default` is the hosted page's form.
#[utoipa::path(
    get,
    path = "/forms/{name}",
    tag = "forms",
    params(("name" = String, Path, description = "The form's name (`default`, `salon-2027`…)")),
    responses(
        (status = 200, description = "The published version", body = PublishedForm,
            headers(("Cache-Control" = String, description = "public, max-age=60"))),
        (status = 400, description = "Not a form name", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such form, or not published", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    )
)]
pub async fn published(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let request = pb::GetPublishedFormRequest { name };
    let found = gateway
        .forms
        .clone()
        .get_published_form(call(request, None, &headers))
        .await
        .map_err(|s| problem_from_status(&s, &headers))?;
    let mut response = axum::Json(PublishedForm::from_proto(found.into_inner())).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    Ok(response)
}

/// The token of a confirmation link (double opt-in).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailConfirmationRequest {
    /// What follows `#` in the emailed link `/confirm#<token>`.
    #[schema(min_length = 1, max_length = 2000)]
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailConfirmation {
    /// True when this request confirmed the address; false when it was already.
    pub confirmed_now: bool,
}

/// Confirm a prospect's address from the link of their confirmation email
/// (forms that ask for double opt-in). No token: the link is the proof.
/// The first use confirms; another changes nothing and says so.
#[utoipa::path(
    post,
    path = "/email-confirmations",
    tag = "forms",
    request_body = EmailConfirmationRequest,
    responses(
        (status = 200, description = "Confirmed (now or before)", body = EmailConfirmation),
        (status = 404, description = "The card was deleted", body = Problem, content_type = "application/problem+json"),
        BodyErrors,
        CommonErrors,
    )
)]
pub async fn confirm_email(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<EmailConfirmationRequest>,
) -> Result<Json<EmailConfirmation>, Problem> {
    let request = pb::ConfirmEmailRequest { token: body.token };
    let answer = gateway
        .prospects
        .clone()
        .confirm_email(call(request, None, &headers))
        .await
        .map_err(|s| problem_from_status(&s, &headers))?;
    Ok(Json(EmailConfirmation { confirmed_now: answer.into_inner().confirmed_now }))
}
