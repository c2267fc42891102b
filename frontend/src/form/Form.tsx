// The public qualification form: a visitor on a phone should be done in a
// minute. Checked here as the server checks it; the server's own field
// errors land on the same fields. The captcha is solved while the visitor
// types; a retry after a network failure reuses the submission's
// Idempotency-Key, so it never makes a second card.

import { type SyntheticEvent, useEffect, useId, useRef, useState } from "react";

import {
  BUDGETS,
  type Budget,
  type CaptchaSettings,
  type ProspectSubmission,
  TIMELINES,
  type Timeline,
  captchaSettings,
  submitProspect,
} from "../api/rest";
import { CONSENT_VERSION, type Key, useI18n } from "../i18n";
import { LanguageSwitch } from "../LanguageSwitch";
import { type Captcha, startCaptcha } from "./captcha";
import { type FieldName, type FormValues, validate } from "./validation";

const EMPTY: FormValues = {
  firstName: "",
  lastName: "",
  email: "",
  phone: "",
  company: "",
  jobTitle: "",
  message: "",
  budget: "",
  timeline: "",
  consent: false,
};

/// Where the visitor came from: UTM parameters and the referring page.
function attribution(): ProspectSubmission["source"] {
  const params = new URLSearchParams(window.location.search);
  const get = (name: string) => (params.get(name) ?? "").slice(0, 200);
  const source = {
    utmSource: get("utm_source"),
    utmMedium: get("utm_medium"),
    utmCampaign: get("utm_campaign"),
    referrer: document.referrer.slice(0, 2000),
  };
  return Object.values(source).some((v) => v !== "") ? source : undefined;
}

/// A field's error: a text of ours (translated) or the server's words.
type FieldError = { key: Key; values?: Record<string, number> } | { server: string };

type Status =
  | { kind: "editing" }
  | { kind: "sending" }
  | { kind: "sent"; email: string }
  | { kind: "error"; message: string };

export function Form() {
  const { t, lang } = useI18n();
  const [values, setValues] = useState<FormValues>(EMPTY);
  const [errors, setErrors] = useState<Map<string, FieldError>>(new Map());
  const [status, setStatus] = useState<Status>({ kind: "editing" });
  const [captchaState, setCaptchaState] = useState<"idle" | "working" | "done" | "failed">("idle");
  const settings = useRef<Promise<CaptchaSettings> | null>(null);
  const captcha = useRef<Captcha | null>(null);
  const captchaSlot = useRef<HTMLDivElement>(null);
  // One key per submission, kept across retries until it succeeds.
  const idempotencyKey = useRef<string | null>(null);
  const summary = useRef<HTMLDivElement>(null);
  const thanks = useRef<HTMLHeadingElement>(null);
  const id = useId();

  // The captcha starts with the visitor's first keystroke or tap, not on load.
  function warmUp() {
    if (captcha.current !== null || captchaSlot.current === null) return;
    settings.current ??= captchaSettings();
    captcha.current = startCaptcha(settings.current, captchaSlot.current, setCaptchaState);
  }

  useEffect(() => {
    if (status.kind === "sent") thanks.current?.focus();
  }, [status.kind]);

  function set<K extends FieldName>(name: K, value: FormValues[K]) {
    setValues((v) => ({ ...v, [name]: value }));
    if (errors.has(name)) {
      setErrors((e) => {
        const next = new Map(e);
        next.delete(name);
        return next;
      });
    }
  }

  function showErrors(next: Map<string, FieldError>) {
    setErrors(next);
    setStatus({ kind: "editing" });
    const first = [...next.keys()][0];
    requestAnimationFrame(() => {
      const field = first === undefined ? null : document.getElementById(`${id}-${first}`);
      (field ?? summary.current)?.focus();
    });
  }

  async function onSubmit(event: SyntheticEvent<HTMLFormElement>) {
    event.preventDefault();
    if (status.kind === "sending") return;
    const local = validate(values);
    if (local.size > 0) {
      showErrors(new Map(local));
      return;
    }
    warmUp();
    setStatus({ kind: "sending" });
    setErrors(new Map());
    let token: string;
    try {
      token = captcha.current === null ? "" : await captcha.current.token();
    } catch {
      setStatus({ kind: "error", message: t("captcha.failed") });
      captcha.current = null;
      return;
    }
    idempotencyKey.current ??= crypto.randomUUID();
    const website = (document.getElementById(`${id}-website`) as HTMLInputElement | null)?.value ?? "";
    const body: ProspectSubmission = {
      firstName: values.firstName.trim(),
      lastName: values.lastName.trim(),
      email: values.email.trim(),
      phone: values.phone.trim(),
      company: values.company.trim(),
      jobTitle: values.jobTitle.trim(),
      message: values.message.trim(),
      budget: values.budget === "" ? undefined : (values.budget as Budget),
      timeline: values.timeline === "" ? undefined : (values.timeline as Timeline),
      consent: values.consent,
      consentVersion: CONSENT_VERSION,
      consentLanguage: lang,
      source: attribution(),
      captchaToken: token,
      website,
    };
    let outcome;
    try {
      outcome = await submitProspect(body, idempotencyKey.current);
    } catch {
      // Maybe sent, maybe not: the retry carries the same key and token.
      setStatus({ kind: "error", message: t("error.network") });
      return;
    }
    switch (outcome.kind) {
      case "created":
        idempotencyKey.current = null;
        captcha.current = null;
        setCaptchaState("idle");
        setStatus({ kind: "sent", email: body.email });
        return;
      case "invalid": {
        if (outcome.errors.has("captchaToken")) {
          // A spent or expired solution: the next try solves a new one.
          captcha.current = null;
          setCaptchaState("idle");
        }
        showErrors(new Map([...outcome.errors].map(([field, detail]) => [field, { server: detail }])));
        setStatus({ kind: "error", message: outcome.detail });
        return;
      }
      case "busy":
        setStatus({ kind: "error", message: t("error.busy", { seconds: outcome.retryAfterSeconds }) });
        return;
      case "failed":
        setStatus({ kind: "error", message: t("error.server") });
        return;
    }
  }

  if (status.kind === "sent") {
    return (
      <main className="page">
        <LanguageSwitch />
        <section className="card" role="status">
          <h1 ref={thanks} tabIndex={-1}>
            {t("success.title")}
          </h1>
          <p>{t("success.body", { email: status.email })}</p>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setValues(EMPTY);
              setStatus({ kind: "editing" });
            }}
          >
            {t("success.again")}
          </button>
        </section>
      </main>
    );
  }

  const message = (name: string): string | undefined => {
    const e = errors.get(name);
    if (e === undefined) return undefined;
    return "server" in e ? e.server : t(e.key, e.values);
  };
  const fieldProps = (name: FieldName) => {
    const error = message(name);
    return {
      id: `${id}-${name}`,
      name,
      "aria-invalid": error !== undefined ? (true as const) : undefined,
      "aria-describedby": error !== undefined ? `${id}-${name}-error` : undefined,
    };
  };
  const errorText = (name: string) => {
    const error = message(name);
    return error === undefined ? null : (
      <p className="error" id={`${id}-${name}-error`}>
        {error}
      </p>
    );
  };
  const textField = (name: FieldName, label: Key, options: { required?: boolean; type?: string; autoComplete?: string; max: number }) => (
    <div className="field">
      <label htmlFor={`${id}-${name}`}>
        {t(label)}
        {options.required === true ? <span aria-hidden="true"> *</span> : null}
      </label>
      <input
        {...fieldProps(name)}
        type={options.type ?? "text"}
        autoComplete={options.autoComplete}
        required={options.required}
        maxLength={options.max}
        value={values[name] as string}
        onChange={(e) => {
          set(name, e.target.value);
        }}
      />
      {errorText(name)}
    </div>
  );
  const choice = (name: "budget" | "timeline", label: Key, options: [string, string][]) => (
    <div className="field">
      <label htmlFor={`${id}-${name}`}>{t(label)}</label>
      <select
        {...fieldProps(name)}
        value={values[name]}
        onChange={(e) => {
          set(name, e.target.value);
        }}
      >
        <option value="">{t("option.none")}</option>
        {options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
      {errorText(name)}
    </div>
  );
  const otherErrors = [...errors.keys()].filter((k) => !(k in EMPTY));

  return (
    <main className="page">
      <LanguageSwitch />
      <form className="card" noValidate onSubmit={(e) => void onSubmit(e)} onInput={warmUp} onFocus={warmUp}>
        <h1>{t("form.title")}</h1>
        <p className="intro">{t("form.intro")}</p>

        <div ref={summary} tabIndex={-1} role="alert" className={errors.size > 0 || status.kind === "error" ? "alert" : "visually-hidden"}>
          {errors.size > 0 ? t("error.summary", { count: errors.size }) : null}
          {status.kind === "error" ? <> {status.message}</> : null}
          {otherErrors.map((k) => (
            <span key={k}> {message(k)}</span>
          ))}
        </div>

        <fieldset>
          <legend>{t("form.identity")}</legend>
          <div className="row">
            {textField("firstName", "field.firstName", { required: true, autoComplete: "given-name", max: 100 })}
            {textField("lastName", "field.lastName", { required: true, autoComplete: "family-name", max: 100 })}
          </div>
          {textField("email", "field.email", { required: true, type: "email", autoComplete: "email", max: 254 })}
          {textField("phone", "field.phone", { type: "tel", autoComplete: "tel", max: 32 })}
          <div className="row">
            {textField("company", "field.company", { autoComplete: "organization", max: 200 })}
            {textField("jobTitle", "field.jobTitle", { autoComplete: "organization-title", max: 200 })}
          </div>
        </fieldset>

        <fieldset>
          <legend>{t("form.project")}</legend>
          <div className="field">
            <label htmlFor={`${id}-message`}>{t("field.message")}</label>
            <p className="hint" id={`${id}-message-hint`}>
              {t("field.message.hint")}
            </p>
            <textarea
              {...fieldProps("message")}
              aria-describedby={[`${id}-message-hint`, message("message") !== undefined ? `${id}-message-error` : ""].join(" ").trim()}
              rows={4}
              maxLength={5000}
              value={values.message}
              onChange={(e) => {
                set("message", e.target.value);
              }}
            />
            {errorText("message")}
          </div>
          <div className="row">
            {choice("budget", "field.budget", BUDGETS.map((b) => [b, t(`budget.${b}`)]))}
            {choice("timeline", "field.timeline", TIMELINES.map((v) => [v, t(`timeline.${v}`)]))}
          </div>
        </fieldset>

        <div className="field consent">
          <input
            {...fieldProps("consent")}
            type="checkbox"
            required
            checked={values.consent}
            onChange={(e) => {
              set("consent", e.target.checked);
            }}
          />
          <label htmlFor={`${id}-consent`}>
            {t("field.consent")}
            <span aria-hidden="true"> *</span>
          </label>
          {errorText("consent")}
        </div>

        {/* The honeypot: out of sight, out of the tab order, hidden from screen readers. */}
        <div className="honeypot" aria-hidden="true">
          <label htmlFor={`${id}-website`}>{t("field.website")}</label>
          <input id={`${id}-website`} name="website" type="text" tabIndex={-1} autoComplete="off" defaultValue="" />
        </div>

        <div ref={captchaSlot} className="captcha" />
        <p className="captcha-state" role="status" aria-live="polite">
          {captchaState === "working" ? t("captcha.working") : captchaState === "done" ? t("captcha.done") : ""}
          {message("captchaToken") !== undefined ? <span className="error"> {message("captchaToken")}</span> : null}
        </p>

        <button type="submit" disabled={status.kind === "sending"} aria-busy={status.kind === "sending"}>
          {status.kind === "sending" ? t("submitting") : t("submit")}
        </button>
      </form>
    </main>
  );
}
