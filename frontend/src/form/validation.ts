// The form's checks, the same as the service's (service/src/domain/validation.rs):
// what passes here passes there, and the server's own errors still show on
// the right field when they differ.

import type { ProspectSubmission, Question, StandardFieldName, SubmittedAnswer } from "../api/rest";
import type { Key } from "../texts";

export const MAX_NAME = 100;
export const MAX_EMAIL = 254;
export const MAX_PHONE = 32;
export const MAX_SHORT_TEXT = 200;
export const MAX_MESSAGE = 5000;

/// What the form holds: the submission's fields as typed (a select's empty
/// choice is "").
export type FormValues = Pick<
  ProspectSubmission,
  "firstName" | "lastName" | "email" | "phone" | "company" | "jobTitle" | "message" | "consent"
> & { budget: string; timeline: string };

export type FieldName = keyof FormValues;

/// What is wrong with a field: a text key and its values.
export interface Problem {
  key: Key;
  values?: Record<string, number>;
}

/// A standard field a form shows, by the submission's name.
export interface Shown {
  name: FieldName;
  required: boolean;
}

export const FIELD_NAMES: Record<StandardFieldName, FieldName> = {
  first_name: "firstName",
  last_name: "lastName",
  phone: "phone",
  company: "company",
  job_title: "jobTitle",
  message: "message",
  budget: "budget",
  timeline: "timeline",
};

// Control characters (Unicode Cc), line breaks and tabs allowed in multiline text.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/// Length in Unicode code points, as the server counts (`chars().count()`).
function length(value: string): number {
  return Array.from(value).length;
}

function text(value: string, required: boolean, max: number, multiline = false): Problem | undefined {
  const v = value.trim();
  if (v === "") return required ? { key: "error.required" } : undefined;
  if (length(v) > max) return { key: "error.tooLong", values: { max } };
  if ((multiline ? CONTROL_BUT_LINES : CONTROL).test(v)) return { key: "error.control" };
  return undefined;
}

/// An address the server's parser accepts: one `@`, a local part and a
/// domain, no spaces nor angle brackets.
export function isEmail(value: string): boolean {
  return /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/.test(value) && !value.startsWith(".") && !value.includes("..");
}

function email(value: string): Problem | undefined {
  const v = value.trim().toLowerCase();
  if (v === "") return { key: "error.required" };
  if (v.length > MAX_EMAIL) return { key: "error.tooLong", values: { max: MAX_EMAIL } };
  if (!isEmail(v)) return { key: "error.email" };
  return undefined;
}

function phone(value: string): Problem | undefined {
  const v = value.trim();
  if (v === "") return undefined;
  if (length(v) > MAX_PHONE) return { key: "error.tooLong", values: { max: MAX_PHONE } };
  const digits = v.replace(/[^0-9]/g, "").length;
  if (!/^[0-9 +\-().]+$/.test(v) || digits < 6) return { key: "error.phone" };
  return undefined;
}

/// Every problem of the form, by field, in the form's order: the email and
/// the consent always, the other fields when the form shows them, required
/// as it says (without a list: all shown, the names required).
export function validate(values: FormValues, shown?: readonly Shown[]): Map<FieldName, Problem> {
  // Without a form's list, the hosted page's rule: the names are required.
  const required = (name: FieldName) =>
    shown === undefined ? name === "firstName" || name === "lastName" : (shown.find((f) => f.name === name)?.required ?? false);
  const isShown = (name: FieldName) => shown === undefined || shown.some((f) => f.name === name);
  const choice = (name: "budget" | "timeline"): Problem | undefined =>
    required(name) && values[name] === "" ? { key: "error.required" } : undefined;
  const checks: [FieldName, Problem | undefined][] = [
    ["firstName", text(values.firstName, required("firstName"), MAX_NAME)],
    ["lastName", text(values.lastName, required("lastName"), MAX_NAME)],
    ["email", email(values.email)],
    ["phone", required("phone") && values.phone.trim() === "" ? { key: "error.required" } : phone(values.phone)],
    ["company", text(values.company, required("company"), MAX_SHORT_TEXT)],
    ["jobTitle", text(values.jobTitle, required("jobTitle"), MAX_SHORT_TEXT)],
    ["message", text(values.message, required("message"), MAX_MESSAGE, true)],
    ["budget", choice("budget")],
    ["timeline", choice("timeline")],
    ["consent", values.consent ? undefined : { key: "error.consent" }],
  ];
  return new Map(
    checks.filter((c): c is [FieldName, Problem] => c[1] !== undefined && (c[0] === "consent" || isShown(c[0]))),
  );
}

/// What a visitor gave to one question: the text typed (numbers too, as
/// typed), the choices ticked, or `yes` / `no` / "".
export type AnswerValue = string | readonly string[];

/// Text questions' lengths when the form names none (the service's).
const SHORT_TEXT_DEFAULT = 200;
const LONG_TEXT_DEFAULT = 2000;

/// A typed number: digits with a point or a comma.
function parseNumber(value: string): number {
  const v = value.trim().replace(",", ".");
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) ? Number(v) : NaN;
}

/// What is wrong with an answer, by the same rules as the service.
export function checkAnswer(q: Question, value: AnswerValue): Problem | undefined {
  if (typeof value !== "string") {
    if (value.length === 0) return q.required ? { key: "error.required" } : undefined;
    if (q.maxChoices !== undefined && value.length > q.maxChoices) return { key: "error.choices", values: { max: q.maxChoices } };
    return undefined;
  }
  switch (q.kind) {
    case "short_text":
      return text(value, q.required, q.maxLength ?? SHORT_TEXT_DEFAULT);
    case "long_text":
      return text(value, q.required, q.maxLength ?? LONG_TEXT_DEFAULT, true);
    case "number": {
      if (value.trim() === "") return q.required ? { key: "error.required" } : undefined;
      const n = parseNumber(value);
      if (!Number.isFinite(n)) return { key: "error.notNumber" };
      if (q.bounds !== undefined && (n < q.bounds.min || n > q.bounds.max)) {
        return { key: "error.number", values: { min: q.bounds.min, max: q.bounds.max } };
      }
      return undefined;
    }
    default:
      return value === "" && q.required ? { key: "error.required" } : undefined;
  }
}

/// The answer as submitted, or undefined when the question was left blank.
export function submittedAnswer(q: Question, value: AnswerValue): SubmittedAnswer | undefined {
  if (typeof value !== "string") return value.length === 0 ? undefined : { questionId: q.id, choices: [...value] };
  if (value.trim() === "") return undefined;
  switch (q.kind) {
    case "number":
      return { questionId: q.id, number: parseNumber(value) };
    case "yes_no":
      return { questionId: q.id, yes: value === "yes" };
    case "single_choice":
    case "multiple_choice":
      return { questionId: q.id, choices: [value] };
    default:
      return { questionId: q.id, text: value.trim() };
  }
}
