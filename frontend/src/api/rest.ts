// The REST face the public form uses: `POST /prospects` and the captcha
// endpoints, with the gateway's camelCase JSON. The end-to-end test checks
// these names and values against the running gateway's OpenAPI document.

import { apiUrl } from "./origin";

export const BUDGETS = ["under_5k", "5k_to_20k", "20k_to_50k", "over_50k"] as const;
export const TIMELINES = ["immediate", "within_3_months", "within_6_months", "later"] as const;
export type Budget = (typeof BUDGETS)[number];
export type Timeline = (typeof TIMELINES)[number];

/// The body of `POST /prospects` (`ProspectSubmission`).
export interface ProspectSubmission {
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
  company: string;
  jobTitle: string;
  message: string;
  budget?: Budget;
  timeline?: Timeline;
  consent: boolean;
  /// The version of the consent text shown (`CONSENT_VERSION`).
  consentVersion: string;
  /// The language the form was shown in.
  consentLanguage: "fr" | "en";
  source?: { utmSource: string; utmMedium: string; utmCampaign: string; referrer: string };
  captchaToken: string;
  /// The honeypot: people never see it, so it stays empty.
  website: string;
  /// The form filled in (`GET /forms/{name}`) and the version the page got.
  form?: string;
  formVersion?: number;
  /// The answers to the form's own questions.
  answers?: SubmittedAnswer[];
}

/// An answer to one of a form's questions: the value for its kind.
export interface SubmittedAnswer {
  questionId: string;
  text?: string;
  choices?: string[];
  number?: number;
  yes?: boolean;
}

/// Every field of a submission, checked against the gateway's OpenAPI
/// document by the end-to-end test.
export const SUBMISSION_FIELDS = [
  "firstName",
  "lastName",
  "email",
  "phone",
  "company",
  "jobTitle",
  "message",
  "budget",
  "timeline",
  "consent",
  "consentVersion",
  "consentLanguage",
  "source",
  "captchaToken",
  "website",
  "form",
  "formVersion",
  "answers",
] as const satisfies readonly (keyof ProspectSubmission)[];
// Compile-time: the list names every field of the type.
type Unlisted = Exclude<keyof ProspectSubmission, (typeof SUBMISSION_FIELDS)[number]>;
export const SUBMISSION_FIELDS_COMPLETE: [Unlisted] extends [never] ? true : never = true;

/// A text in both languages.
export interface Localized {
  fr: string;
  en: string;
}

export type StandardFieldName = "first_name" | "last_name" | "phone" | "company" | "job_title" | "message" | "budget" | "timeline";
export type QuestionKind = "short_text" | "long_text" | "single_choice" | "multiple_choice" | "number" | "yes_no";

export interface Question {
  id: string;
  kind: QuestionKind;
  label: Localized;
  help: Localized;
  required: boolean;
  choices?: { id: string; label: Localized }[];
  bounds?: { min: number; max: number };
  maxLength?: number;
  maxChoices?: number;
}

/// `GET /forms/{name}`: the published version of a form.
export interface PublishedForm {
  name: string;
  version: number;
  title: Localized;
  fields: { field: StandardFieldName; required: boolean }[];
  questions: Question[];
  thankYou: Localized;
  redirectUrl?: string;
  defaultLanguage: string;
  doubleOptIn: boolean;
}

/// Every field of a published form, checked against the OpenAPI document.
export const PUBLISHED_FORM_FIELDS = [
  "name",
  "version",
  "title",
  "fields",
  "questions",
  "thankYou",
  "redirectUrl",
  "defaultLanguage",
  "doubleOptIn",
] as const satisfies readonly (keyof PublishedForm)[];

/// A form's published definition, or null when there is none by that name.
export async function publishedForm(name: string): Promise<PublishedForm | null> {
  const response = await fetch(apiUrl(`/forms/${encodeURIComponent(name)}`));
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`GET /forms/${name}: HTTP ${response.status}`);
  return (await response.json()) as PublishedForm;
}

/// An RFC 9457 problem as the gateway writes it.
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { field: string; detail: string }[];
}

/// `GET /captcha`.
export interface CaptchaSettings {
  provider: "pow" | "recaptcha-v3" | "recaptcha-v2" | "hcaptcha" | "turnstile" | "off";
  siteKey?: string;
  challengeUrl?: string;
  action?: string;
}

/// An ALTCHA challenge (`GET /captcha/challenge`).
export interface Challenge {
  algorithm: string;
  challenge: string;
  maxnumber: number;
  salt: string;
  signature: string;
}

export type SubmitOutcome =
  | { kind: "created"; id: string }
  | { kind: "invalid"; errors: Map<string, string>; detail: string }
  | { kind: "busy"; retryAfterSeconds: number }
  | { kind: "failed"; detail: string };

function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "status" in value && "detail" in value;
}

/// The server's field errors, by the form's field names.
export function fieldErrors(problem: Problem): Map<string, string> {
  const errors = new Map<string, string>();
  for (const error of problem.errors ?? []) {
    // `source.utmSource` belongs to no visible field: it goes with the summary.
    if (!errors.has(error.field)) errors.set(error.field, error.detail);
  }
  return errors;
}

/// Reads a submission's answer.
export async function readOutcome(response: Response): Promise<SubmitOutcome> {
  const body: unknown = await response.json().catch(() => null);
  if (response.status === 201 && typeof body === "object" && body !== null && "id" in body) {
    return { kind: "created", id: String(body.id) };
  }
  if (response.status === 429) {
    return { kind: "busy", retryAfterSeconds: Number(response.headers.get("retry-after") ?? "1") || 1 };
  }
  if (isProblem(body) && response.status === 400 && (body.errors?.length ?? 0) > 0) {
    return { kind: "invalid", errors: fieldErrors(body), detail: body.detail };
  }
  return { kind: "failed", detail: isProblem(body) ? body.detail : `HTTP ${response.status}` };
}

/// Sends a submission. The same `idempotencyKey` on a retry returns the
/// first answer: a flaky network never makes two cards.
export async function submitProspect(body: ProspectSubmission, idempotencyKey: string): Promise<SubmitOutcome> {
  const response = await fetch(apiUrl("/prospects"), {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": idempotencyKey },
    body: JSON.stringify(body),
  });
  return readOutcome(response);
}

export async function captchaSettings(): Promise<CaptchaSettings> {
  const response = await fetch(apiUrl("/captcha"));
  if (!response.ok) throw new Error(`GET /captcha: HTTP ${response.status}`);
  return (await response.json()) as CaptchaSettings;
}

export async function challenge(url: string): Promise<Challenge> {
  const response = await fetch(apiUrl(url), { cache: "no-store" });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return (await response.json()) as Challenge;
}

export type ConfirmOutcome = { kind: "confirmed"; now: boolean } | { kind: "refused"; detail: string };

/// `POST /email-confirmations`: the link of a double opt-in email.
export async function confirmEmail(token: string): Promise<ConfirmOutcome> {
  const response = await fetch(apiUrl("/email-confirmations"), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const body: unknown = await response.json().catch(() => null);
  if (response.ok && typeof body === "object" && body !== null && "confirmedNow" in body) {
    return { kind: "confirmed", now: body.confirmedNow === true };
  }
  const detail = isProblem(body) ? (body.errors?.[0]?.detail ?? body.detail) : `HTTP ${String(response.status)}`;
  return { kind: "refused", detail };
}
