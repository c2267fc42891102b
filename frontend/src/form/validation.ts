// The form's checks, the same as the service's (service/src/domain/validation.rs):
// what passes here passes there, and the server's own errors still show on
// the right field when they differ.

import type { ProspectSubmission } from "../api/rest";
import type { Key } from "../i18n";

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

/// Every problem of the form, by field, in the form's order.
export function validate(values: FormValues): Map<FieldName, Problem> {
  const checks: [FieldName, Problem | undefined][] = [
    ["firstName", text(values.firstName, true, MAX_NAME)],
    ["lastName", text(values.lastName, true, MAX_NAME)],
    ["email", email(values.email)],
    ["phone", phone(values.phone)],
    ["company", text(values.company, false, MAX_SHORT_TEXT)],
    ["jobTitle", text(values.jobTitle, false, MAX_SHORT_TEXT)],
    ["message", text(values.message, false, MAX_MESSAGE, true)],
    ["consent", values.consent ? undefined : { key: "error.consent" }],
  ];
  return new Map(checks.filter((c): c is [FieldName, Problem] => c[1] !== undefined));
}
