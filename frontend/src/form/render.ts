// A form rendered from its published definition (`GET /forms/{name}`),
// without a framework: the same code draws the hosted page (`/`), the
// iframe page (`/f/<name>`) and the embed (`embed.js`, in a shadow root on
// another site's page), so that it stays small enough for the embed.
//
// A visitor on a phone should be done in a minute. Fields are checked here
// as the server checks them; the server's own field errors land on the same
// fields. The captcha is solved while the visitor types; a retry after a
// network failure reuses the submission's Idempotency-Key, so it never
// makes a second card. Every text from the definition goes in as text,
// never as HTML.

import {
  BUDGETS,
  type Budget,
  type CaptchaSettings,
  type Localized,
  type ProspectSubmission,
  type PublishedForm,
  type Question,
  type SubmittedAnswer,
  TIMELINES,
  type Timeline,
  captchaSettings,
  publishedForm,
  submitProspect,
} from "../api/rest";
import { CONSENT_VERSION, type Key, type Lang, format } from "../texts";
import { type Captcha, startCaptcha } from "./captcha";
import {
  type AnswerValue,
  FIELD_NAMES,
  type FieldName,
  type FormValues,
  MAX_EMAIL,
  MAX_MESSAGE,
  MAX_NAME,
  MAX_PHONE,
  MAX_SHORT_TEXT,
  type Problem,
  type Shown,
  checkAnswer,
  submittedAnswer,
  validate,
} from "./validation";

export type Source = ProspectSubmission["source"];

/// The message a framed form (`/f/<name>`) posts to its parent when its
/// height changes; the builder's iframe snippet listens for it.
export const RESIZE_MESSAGE = "astro-qualif:height";

/// Where the visitor came from: the UTM parameters of a page's query
/// string and the page that sent them.
export function attribution(search: string, referrer: string): Source {
  const params = new URLSearchParams(search);
  const get = (name: string) => (params.get(name) ?? "").slice(0, 200);
  const source = {
    utmSource: get("utm_source"),
    utmMedium: get("utm_medium"),
    utmCampaign: get("utm_campaign"),
    referrer: referrer.slice(0, 2000),
  };
  return Object.values(source).some((v) => v !== "") ? source : undefined;
}

export interface FormOptions {
  /// The element the form is drawn in (in the page, or in a shadow root).
  container: HTMLElement;
  /// The form's name: `default` on the hosted page.
  name: string;
  /// The language to start in (null: the form's own).
  lang: Lang | null;
  /// Offers the other language; called with the visitor's choice.
  onLanguage?: (lang: Lang) => void;
  /// The title's heading level: 1 on our pages, 2 inside someone else's.
  heading: 1 | 2 | 3 | 4;
  source: Source;
  /// Where a redirect after a submission goes (the embedding page itself,
  /// or the top page from an iframe).
  redirect?: (url: string) => void;
  /// The builder's preview: this definition, checked as visitors' are,
  /// never sent.
  preview?: PublishedForm;
}

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

/// A field's error: a text of ours (translated) or the server's words.
type FieldError = Problem | { server: string };

type Status = { kind: "editing" } | { kind: "sending" } | { kind: "sent"; email: string } | { kind: "error"; message: string };

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

/// An element with attributes (`on…` ones are listeners) and children (text
/// stays text).
function h(tag: string, attributes: Attributes = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
  return element;
}

/// The standard fields: label, input and limits.
interface FieldSpec {
  label: Key;
  type?: string;
  autocomplete?: string;
  max: number;
}

const FIELDS: Record<Exclude<FieldName, "consent" | "budget" | "timeline" | "message">, FieldSpec> = {
  firstName: { label: "field.firstName", autocomplete: "given-name", max: MAX_NAME },
  lastName: { label: "field.lastName", autocomplete: "family-name", max: MAX_NAME },
  email: { label: "field.email", type: "email", autocomplete: "email", max: MAX_EMAIL },
  phone: { label: "field.phone", type: "tel", autocomplete: "tel", max: MAX_PHONE },
  company: { label: "field.company", autocomplete: "organization", max: MAX_SHORT_TEXT },
  jobTitle: { label: "field.jobTitle", autocomplete: "organization-title", max: MAX_SHORT_TEXT },
};

const IDENTITY: readonly FieldName[] = ["firstName", "lastName", "email", "phone", "company", "jobTitle"];

/// The fields a definition shows, in its order, with the email (always
/// shown, always required) right after the names.
export function shownFields(form: PublishedForm): Shown[] {
  const shown: Shown[] = form.fields.map((f) => ({ name: FIELD_NAMES[f.field], required: f.required }));
  const names = shown.reduce((at, f, i) => (f.name === "firstName" || f.name === "lastName" ? i + 1 : at), 0);
  shown.splice(names, 0, { name: "email", required: true });
  return shown;
}

let mounted = 0;

/// Draws the form `options.name` in `options.container`.
export async function mountForm(options: FormOptions): Promise<void> {
  const { container } = options;
  let lang: Lang = options.lang ?? "fr";
  const t = (key: Key, values?: Record<string, string | number>) => format(lang, key, values);
  const local = (text: Localized | undefined) => (text === undefined ? "" : (lang === "en" ? text.en || text.fr : text.fr || text.en));

  let form: PublishedForm | null = options.preview ?? null;
  if (form === null) {
    try {
      form = await publishedForm(options.name);
    } catch {
      form = null;
    }
  }
  if (form === null) {
    container.replaceChildren(h("div", { class: "aq", lang }, h("p", { class: "card", role: "alert" }, t("form.unavailable"))));
    return;
  }
  const definition = form;
  if (options.lang === null && definition.defaultLanguage === "en") lang = "en";
  const shown = shownFields(definition);
  const id = `aq${++mounted}`;
  const root = container.getRootNode() as Document | ShadowRoot;

  const values: FormValues = { ...EMPTY };
  const answers = new Map<string, AnswerValue>();
  let errors = new Map<string, FieldError>();
  let status: Status = { kind: "editing" };
  let captcha: Captcha | null = null;
  let settings: Promise<CaptchaSettings> | null = null;
  // One key per submission, kept across retries until it succeeds.
  let idempotencyKey: string | null = null;
  // The question each submitted answer was for (the server names answers by position).
  let submitted: string[] = [];

  // Kept across redraws: the captcha's widget lives in its slot.
  const captchaSlot = h("div", { class: "captcha" });
  const captchaState = h("p", { class: "captcha-state", role: "status", "aria-live": "polite" });
  const honeypot = h("input", { id: `${id}-website`, name: "website", type: "text", tabindex: -1, autocomplete: "off" }) as HTMLInputElement;
  let captchaProgress: "idle" | "working" | "done" | "failed" = "idle";
  const drawCaptchaState = () => {
    const error = message("captchaToken");
    captchaState.replaceChildren(
      captchaProgress === "working" ? t("captcha.working") : captchaProgress === "done" ? t("captcha.done") : "",
      error === undefined ? "" : h("span", { class: "error" }, ` ${error}`),
    );
  };

  // The captcha starts with the visitor's first keystroke or tap, not on load.
  function warmUp() {
    if (captcha !== null) return;
    settings ??= captchaSettings();
    captcha = startCaptcha(settings, captchaSlot, (state) => {
      captchaProgress = state;
      drawCaptchaState();
    });
  }

  function message(name: string): string | undefined {
    const e = errors.get(name);
    if (e === undefined) return undefined;
    return "server" in e ? e.server : t(e.key, e.values);
  }

  /// Clears a field's error as soon as it is edited.
  function edited(name: string) {
    if (!errors.has(name)) return;
    errors.delete(name);
    const field = root.getElementById(`${id}-${name}`);
    field?.removeAttribute("aria-invalid");
    root.getElementById(`${id}-${name}-error`)?.remove();
  }

  const errorText = (name: string) => {
    const error = message(name);
    return error === undefined ? null : h("p", { class: "error", id: `${id}-${name}-error` }, error);
  };
  const described = (name: string, hint?: string) =>
    [hint, errors.has(name) ? `${id}-${name}-error` : undefined].filter(Boolean).join(" ") || undefined;
  const labelFor = (name: string, text: string, required: boolean) =>
    h("label", { for: `${id}-${name}` }, text, required ? h("span", { "aria-hidden": "true" }, " *") : null);

  function standardField(field: Shown): HTMLElement {
    const name = field.name;
    const required = field.required || name === "email";
    const common = {
      id: `${id}-${name}`,
      name,
      required,
      "aria-invalid": errors.has(name) ? "true" : undefined,
      "aria-describedby": described(name, name === "message" ? `${id}-message-hint` : undefined),
    };
    if (name === "budget" || name === "timeline") {
      const choices: readonly string[] = name === "budget" ? BUDGETS : TIMELINES;
      const select = h(
        "select",
        { ...common, onchange: (e) => { values[name] = (e.target as HTMLSelectElement).value; edited(name); } },
        h("option", { value: "" }, t("option.none")),
        ...choices.map((c) => h("option", { value: c, selected: values[name] === c }, t(`${name}.${c}` as Key))),
      );
      return h("div", { class: "field" }, labelFor(name, t(`field.${name}`), field.required), select, errorText(name));
    }
    if (name === "message") {
      const area = h("textarea", {
        ...common,
        rows: 4,
        maxlength: MAX_MESSAGE,
        oninput: (e) => { values.message = (e.target as HTMLTextAreaElement).value; edited(name); },
      }) as HTMLTextAreaElement;
      area.value = values.message;
      return h(
        "div",
        { class: "field" },
        labelFor(name, t("field.message"), field.required),
        h("p", { class: "hint", id: `${id}-message-hint` }, t("field.message.hint")),
        area,
        errorText(name),
      );
    }
    if (name === "consent") return h("div");
    const spec = FIELDS[name];
    const input = h("input", {
      ...common,
      type: spec.type ?? "text",
      autocomplete: spec.autocomplete,
      maxlength: spec.max,
      oninput: (e) => { values[name] = (e.target as HTMLInputElement).value; edited(name); },
    }) as HTMLInputElement;
    input.value = values[name];
    return h("div", { class: "field" }, labelFor(name, t(spec.label), required), input, errorText(name));
  }

  function question(q: Question): HTMLElement {
    const key = `answers.${q.id}`;
    const value = answers.get(q.id) ?? (q.kind === "multiple_choice" ? [] : "");
    const help = local(q.help);
    const hintId = help === "" ? undefined : `${id}-${key}-hint`;
    const hint = hintId === undefined ? null : h("p", { class: "hint", id: hintId }, help);
    const invalid = errors.has(key) ? "true" : undefined;
    const set = (v: AnswerValue) => {
      answers.set(q.id, v);
      edited(key);
    };
    if (q.kind === "single_choice" || q.kind === "multiple_choice" || q.kind === "yes_no") {
      const options =
        q.kind === "yes_no"
          ? [
              { id: "yes", label: t("option.yes") },
              { id: "no", label: t("option.no") },
            ]
          : (q.choices ?? []).map((c) => ({ id: c.id, label: local(c.label) }));
      const many = q.kind === "multiple_choice";
      const chosen = (choice: string) => (typeof value === "string" ? value === choice : value.includes(choice));
      const boxes = options.map((o, i) =>
        h(
          "div",
          { class: "choice" },
          h("input", {
            type: many ? "checkbox" : "radio",
            id: `${id}-${key}-${i}`,
            name: `${id}-${key}`,
            value: o.id,
            checked: chosen(o.id),
            onchange: (e) => {
              const box = e.target as HTMLInputElement;
              if (!many) set(box.value);
              else {
                const current = (answers.get(q.id) as readonly string[] | undefined) ?? [];
                set(box.checked ? [...current, box.value] : current.filter((c) => c !== box.value));
              }
            },
          }),
          h("label", { for: `${id}-${key}-${i}` }, o.label),
        ),
      );
      // A group is named by its legend; its error and help by the group.
      return h(
        "fieldset",
        {
          class: "field group",
          id: `${id}-${key}`,
          tabindex: -1,
          role: many ? undefined : "radiogroup",
          "aria-required": many ? undefined : q.required ? "true" : undefined,
          "aria-invalid": many ? undefined : invalid,
          "aria-describedby": described(key, hintId),
        },
        h("legend", {}, local(q.label), q.required ? h("span", { "aria-hidden": "true" }, " *") : null),
        hint,
        ...boxes,
        errorText(key),
      );
    }
    const common = {
      id: `${id}-${key}`,
      name: key,
      required: q.required,
      "aria-invalid": invalid,
      "aria-describedby": described(key, hintId),
    };
    const onInput = (e: Event) => { set((e.target as HTMLInputElement).value); };
    const control =
      q.kind === "long_text"
        ? h("textarea", { ...common, rows: 4, maxlength: q.maxLength ?? 2000, oninput: onInput })
        : q.kind === "number"
          ? h("input", { ...common, type: "text", inputmode: "decimal", autocomplete: "off", oninput: onInput })
          : h("input", { ...common, type: "text", maxlength: q.maxLength ?? 200, oninput: onInput });
    (control as HTMLInputElement).value = typeof value === "string" ? value : "";
    return h("div", { class: "field" }, labelFor(key, local(q.label), q.required), hint, control, errorText(key));
  }

  function languageSwitch(): HTMLElement | null {
    const choose = options.onLanguage;
    if (choose === undefined) return null;
    const other: Lang = lang === "fr" ? "en" : "fr";
    return h(
      "nav",
      { class: "lang", "aria-label": t("lang.label") },
      h("button", { type: "button", class: "link", lang: other, onclick: () => { lang = other; choose(other); draw(); } }, t("lang.switch")),
    );
  }

  function draw(focus?: "errors" | "thanks") {
    const heading = `h${options.heading}`;
    let body: HTMLElement;
    if (status.kind === "sent") {
      const thanks = h(heading, { tabindex: -1 }, t("success.title"));
      body = h(
        "section",
        { class: "card", role: "status" },
        thanks,
        h("p", {}, local(definition.thankYou) || t("success.body", { email: status.email })),
        definition.doubleOptIn ? h("p", {}, t("success.confirm", { email: status.email })) : null,
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: () => {
              Object.assign(values, EMPTY);
              answers.clear();
              status = { kind: "editing" };
              draw();
            },
          },
          t("success.again"),
        ),
      );
    } else {
      const sending = status.kind === "sending";
      const others = [...errors.keys()].filter((k) => !(k in EMPTY) && !k.startsWith("answers.") && k !== "captchaToken");
      const summary = h(
        "div",
        { id: `${id}-summary`, tabindex: -1, role: "alert", class: errors.size > 0 || status.kind === "error" ? "alert" : "visually-hidden" },
        errors.size > 0 ? t("error.summary", { count: errors.size }) : null,
        status.kind === "error" ? ` ${status.message}` : null,
        ...others.map((k) => ` ${message(k) ?? ""}`),
      );
      const identity = shown.filter((f) => IDENTITY.includes(f.name));
      const project = shown.filter((f) => !IDENTITY.includes(f.name));
      const questions = definition.questions;
      body = h(
        "form",
        { class: "card", novalidate: true, onsubmit: (e) => { e.preventDefault(); void submit(); }, oninput: warmUp, onfocusin: warmUp },
        h(heading, { class: "title" }, local(definition.title)),
        h("p", { class: "intro" }, t("form.intro")),
        summary,
        h("fieldset", {}, h("legend", {}, t("form.identity")), ...identity.map(standardField)),
        project.length > 0 || questions.length > 0
          ? h("fieldset", {}, h("legend", {}, t("form.project")), ...project.map(standardField), ...questions.map(question))
          : null,
        h(
          "div",
          { class: "field consent" },
          h("input", {
            id: `${id}-consent`,
            name: "consent",
            type: "checkbox",
            required: true,
            checked: values.consent,
            "aria-invalid": errors.has("consent") ? "true" : undefined,
            "aria-describedby": described("consent"),
            onchange: (e) => { values.consent = (e.target as HTMLInputElement).checked; edited("consent"); },
          }),
          labelFor("consent", t("field.consent"), true),
          errorText("consent"),
        ),
        // The honeypot: out of sight, out of the tab order, hidden from screen readers.
        h("div", { class: "honeypot", "aria-hidden": "true" }, h("label", { for: `${id}-website` }, t("field.website")), honeypot),
        captchaSlot,
        captchaState,
        h("button", { type: "submit", disabled: sending, "aria-busy": sending ? "true" : undefined }, sending ? t("submitting") : t("submit")),
      );
    }
    drawCaptchaState();
    container.replaceChildren(h("div", { class: "aq", lang }, languageSwitch(), body));
    if (focus === "thanks") (body.firstElementChild as HTMLElement | null)?.focus();
    if (focus === "errors") {
      const first = [...errors.keys()][0];
      const field = first === undefined ? null : root.getElementById(`${id}-${first}`);
      (field ?? root.getElementById(`${id}-summary`))?.focus();
    }
  }

  /// The server's field names, as this form's: `answers[2].number` is the
  /// third answer sent's question.
  function serverField(field: string): string {
    const at = /^answers\[(\d+)\]/.exec(field);
    if (at !== null) return `answers.${submitted[Number(at[1])] ?? ""}`;
    return field;
  }

  function showErrors(next: Map<string, FieldError>) {
    errors = next;
    if (status.kind === "sending") status = { kind: "editing" };
    draw("errors");
  }

  async function submit() {
    if (status.kind === "sending") return;
    const problems = new Map<string, FieldError>(validate(values, shown));
    for (const q of definition.questions) {
      const problem = checkAnswer(q, answers.get(q.id) ?? "");
      if (problem !== undefined) problems.set(`answers.${q.id}`, problem);
    }
    if (problems.size > 0) {
      status = { kind: "editing" };
      showErrors(problems);
      return;
    }
    if (options.preview !== undefined) {
      errors = new Map();
      status = { kind: "error", message: t("form.previewed") };
      draw("errors");
      return;
    }
    warmUp();
    status = { kind: "sending" };
    errors = new Map();
    draw();
    let token: string;
    try {
      token = captcha === null ? "" : await captcha.token();
    } catch {
      status = { kind: "error", message: t("captcha.failed") };
      captcha = null;
      draw();
      return;
    }
    idempotencyKey ??= crypto.randomUUID();
    const given = definition.questions
      .map((q) => submittedAnswer(q, answers.get(q.id) ?? ""))
      .filter((a): a is SubmittedAnswer => a !== undefined);
    submitted = given.map((a) => a.questionId);
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
      source: options.source,
      captchaToken: token,
      website: honeypot.value,
      form: definition.name,
      formVersion: definition.version,
      answers: given,
    };
    let outcome;
    try {
      outcome = await submitProspect(body, idempotencyKey);
    } catch {
      // Maybe sent, maybe not: the retry carries the same key and token.
      status = { kind: "error", message: t("error.network") };
      draw();
      return;
    }
    switch (outcome.kind) {
      case "created":
        idempotencyKey = null;
        captcha = null;
        captchaProgress = "idle";
        if (definition.redirectUrl !== undefined && definition.redirectUrl !== "" && options.redirect !== undefined) {
          options.redirect(definition.redirectUrl);
        }
        status = { kind: "sent", email: body.email };
        draw("thanks");
        return;
      case "invalid": {
        if (outcome.errors.has("captchaToken")) {
          // A spent or expired solution: the next try solves a new one.
          captcha = null;
          captchaProgress = "idle";
        }
        status = { kind: "error", message: outcome.detail };
        showErrors(new Map([...outcome.errors].map(([field, detail]) => [serverField(field), { server: detail }])));
        return;
      }
      case "busy":
        status = { kind: "error", message: t("error.busy", { seconds: outcome.retryAfterSeconds }) };
        draw();
        return;
      case "failed":
        status = { kind: "error", message: t("error.server") };
        draw();
        return;
    }
  }

  draw();
}
