// The forms (admins): each a draft edited here — its title, the card's
// fields it shows and requires, its own questions (added, reordered by
// buttons, so by keyboard too, edited, removed), its thank-you, language
// and allowed origins — saved from the version read, then published as a
// new version that visitors get. Its own chunk.

import { Code, ConnectError } from "@connectrpc/connect";
import { useCallback, useEffect, useId, useRef, useState } from "react";

import { apiBase } from "../api/origin";
import type { PublishedForm, QuestionKind, StandardFieldName } from "../api/rest";
import css from "../form/form.css?inline";
import { RESIZE_MESSAGE, mountForm } from "../form/render";
import type { Lang } from "../texts";
import {
  type Form,
  type FormDefinition,
  type LocalizedText,
  type Question,
  QuestionType,
  StandardField,
} from "../gen/astro/v1/form_pb";
import { forms as formClient } from "./client";
import { useAdminText } from "./texts";

const STANDARD: [StandardField, StandardFieldName][] = [
  [StandardField.FIRST_NAME, "first_name"],
  [StandardField.LAST_NAME, "last_name"],
  [StandardField.COMPANY, "company"],
  [StandardField.JOB_TITLE, "job_title"],
  [StandardField.PHONE, "phone"],
  [StandardField.BUDGET, "budget"],
  [StandardField.TIMELINE, "timeline"],
  [StandardField.MESSAGE, "message"],
];
const KINDS: [QuestionType, string][] = [
  [QuestionType.SHORT_TEXT, "forms.kind.SHORT_TEXT"],
  [QuestionType.LONG_TEXT, "forms.kind.LONG_TEXT"],
  [QuestionType.SINGLE_CHOICE, "forms.kind.SINGLE_CHOICE"],
  [QuestionType.MULTIPLE_CHOICE, "forms.kind.MULTIPLE_CHOICE"],
  [QuestionType.NUMBER, "forms.kind.NUMBER"],
  [QuestionType.YES_NO, "forms.kind.YES_NO"],
];
const KIND_NAMES: Record<QuestionType, QuestionKind | null> = {
  [QuestionType.UNSPECIFIED]: null,
  [QuestionType.SHORT_TEXT]: "short_text",
  [QuestionType.LONG_TEXT]: "long_text",
  [QuestionType.SINGLE_CHOICE]: "single_choice",
  [QuestionType.MULTIPLE_CHOICE]: "multiple_choice",
  [QuestionType.NUMBER]: "number",
  [QuestionType.YES_NO]: "yes_no",
};

/// A draft as visitors would get it once published (`GET /forms/{name}`).
export function asPublished(name: string, d: FormDefinition): PublishedForm {
  const fields = new Map(STANDARD);
  return {
    name,
    version: 0,
    title: text(d.title),
    fields: d.fields.flatMap((f) => {
      const field = fields.get(f.field);
      return field === undefined ? [] : [{ field, required: f.required }];
    }),
    questions: d.questions.flatMap((q) => {
      const kind = KIND_NAMES[q.kind];
      if (kind === null) return [];
      return [
        {
          id: q.id,
          kind,
          label: text(q.label),
          help: text(q.help),
          required: q.required,
          choices: q.choices.map((c) => ({ id: c.id, label: text(c.label) })),
          bounds: q.bounds === undefined ? undefined : { min: q.bounds.min, max: q.bounds.max },
          maxLength: q.maxLength > 0 ? q.maxLength : undefined,
          maxChoices: q.maxChoices > 0 ? q.maxChoices : undefined,
        },
      ];
    }),
    thankYou: text(d.thankYou),
    redirectUrl: d.redirectUrl,
    defaultLanguage: d.defaultLanguage,
    doubleOptIn: d.doubleOptIn,
  };
}

/// The draft as visitors will see it, in either language, in a shadow root
/// (as the embed draws it): checked as theirs is, never sent.
function Preview({ name, draft }: { name: string; draft: FormDefinition }) {
  const { a } = useAdminText();
  const id = useId();
  const host = useRef<HTMLDivElement>(null);
  const [lang, setLang] = useState<Lang>(draft.defaultLanguage === "en" ? "en" : "fr");
  useEffect(() => {
    const element = host.current;
    if (element === null) return;
    const shadow = element.shadowRoot ?? element.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = css;
    const container = document.createElement("div");
    shadow.replaceChildren(style, container);
    void mountForm({ container, name, lang, heading: 4, source: undefined, preview: asPublished(name, draft) });
  }, [name, draft, lang]);
  return (
    <section className="preview" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{a("forms.preview")}</h3>
      <div role="group" aria-label={a("forms.previewLanguage")} className="actions">
        {(["fr", "en"] as const).map((l) => (
          <button key={l} type="button" className="secondary" aria-pressed={lang === l} lang={l} onClick={() => { setLang(l); }}>
            {l === "fr" ? "Français" : "English"}
          </button>
        ))}
      </div>
      <div ref={host} />
    </section>
  );
}

/// The lines that put the form on another site's page.
function Snippets({ name }: { name: string }) {
  const { a } = useAdminText();
  const id = useId();
  const [copied, setCopied] = useState("");
  // The script comes with the web app; the iframe's page from the API (one
  // origin locally; CloudFront and API Gateway on AWS).
  const origin = window.location.origin;
  const api = apiBase || origin;
  const apiOrigin = new URL(api).origin;
  const snippets = [
    { key: "script", label: a("forms.embedScript"), code: `<script src="${origin}/embed.js" data-form="${name}" async></script>` },
    {
      key: "iframe",
      label: a("forms.embedIframe"),
      code:
        `<iframe id="astro-${name}" title="${name}" src="${api}/f/${name}" style="width:100%;border:0" height="900"></iframe>\n` +
        `<script>addEventListener("message",function(e){if(e.origin==="${apiOrigin}"&&e.data&&e.data.type==="${RESIZE_MESSAGE}"&&e.data.form==="${name}")document.getElementById("astro-${name}").height=e.data.height});</script>`,
    },
  ];
  return (
    <section className="snippets" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{a("forms.embed")}</h3>
      <p>{a("forms.embedIntro")}</p>
      {snippets.map((s) => (
        <div key={s.key} className="field">
          <label htmlFor={`${id}-${s.key}`}>{s.label}</label>
          <textarea id={`${id}-${s.key}`} readOnly rows={s.key === "script" ? 2 : 4} value={s.code} />
          <button
            type="button"
            className="secondary"
            onClick={() => {
              void navigator.clipboard.writeText(s.code).then(() => { setCopied(s.key); }, () => undefined);
            }}
          >
            {a("forms.copy")}
          </button>
        </div>
      ))}
      <p role="status" aria-live="polite">{copied === "" ? "" : a("forms.copied")}</p>
    </section>
  );
}

type Text = Pick<LocalizedText, "fr" | "en">;
const text = (t: LocalizedText | undefined): Text => ({ fr: t?.fr ?? "", en: t?.en ?? "" });
const isChoice = (kind: QuestionType) => kind === QuestionType.SINGLE_CHOICE || kind === QuestionType.MULTIPLE_CHOICE;

export default function Forms() {
  const { a } = useAdminText();
  const id = useId();
  const [list, setList] = useState<Form[]>([]);
  const [form, setForm] = useState<Form | null>(null);
  const [draft, setDraft] = useState<FormDefinition | null>(null);
  const [newName, setNewName] = useState("");
  const [message, setMessage] = useState("");

  const failed = useCallback(
    (caught: unknown) => {
      const error = ConnectError.from(caught);
      setMessage(error.code === Code.Aborted ? a("forms.stale") : a("forms.failed", { detail: error.rawMessage }));
    },
    [a],
  );
  const reload = useCallback(() => {
    formClient.listForms({}).then(
      (page) => {
        setList(page.forms);
      },
      () => undefined,
    );
  }, []);
  useEffect(reload, [reload]);

  function open(f: Form) {
    setForm(f);
    setDraft(f.draft ?? null);
    setMessage("");
  }

  async function createForm() {
    setMessage("");
    try {
      const base = list.find((f) => f.name === "default")?.draft;
      const made = await formClient.createForm({ form: { name: newName.trim(), draft: base } });
      setNewName("");
      reload();
      open(made);
    } catch (caught) {
      failed(caught);
    }
  }

  async function save(): Promise<Form | null> {
    if (form === null || draft === null) return null;
    setMessage("");
    try {
      const saved = await formClient.updateForm({ form: { name: form.name, version: form.version, draft }, updateMask: { paths: [] } });
      open(saved);
      setMessage(a("forms.saved"));
      reload();
      return saved;
    } catch (caught) {
      failed(caught);
      return null;
    }
  }

  async function publish() {
    const saved = await save();
    if (saved === null) return;
    try {
      const published = await formClient.publishForm({ name: saved.name, version: saved.version });
      open(published);
      setMessage(a("forms.published", { version: Number(published.publishedVersion) }));
      reload();
    } catch (caught) {
      failed(caught);
    }
  }

  const change = (patch: Partial<FormDefinition>) => {
    if (draft !== null) setDraft({ ...draft, ...patch });
  };
  const changeQuestion = (i: number, patch: Partial<Question>) => {
    if (draft === null) return;
    change({ questions: draft.questions.map((q, j) => (j === i ? { ...q, ...patch } : q)) });
  };
  const move = (i: number, by: number) => {
    if (draft === null) return;
    const questions = [...draft.questions];
    const [q] = questions.splice(i, 1);
    if (q === undefined) return;
    questions.splice(i + by, 0, q);
    change({ questions });
  };

  return (
    <section className="page forms" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{a("forms.title")}</h2>
      <p className="hint">{a("forms.intro")}</p>
      <ul className="form-list">
        {list.map((f) => (
          <li key={f.name}>
            <button type="button" className="link" aria-current={form?.name === f.name ? "true" : undefined} onClick={() => { open(f); }}>
              {f.name}
            </button>{" "}
            <span className="hint">
              {f.publishedVersion > 0n ? a("forms.version", { version: Number(f.publishedVersion) }) : a("forms.unpublished")}
            </span>
          </li>
        ))}
      </ul>
      <form
        className="search"
        onSubmit={(e) => {
          e.preventDefault();
          void createForm();
        }}
      >
        <label htmlFor={`${id}-new`}>{a("forms.newName")}</label>{" "}
        <input id={`${id}-new`} required pattern="[a-z0-9][a-z0-9\-]{0,39}" value={newName} onChange={(e) => { setNewName(e.target.value); }} />{" "}
        <button type="submit" className="secondary">
          {a("forms.create")}
        </button>
      </form>
      <p role="status" aria-live="polite" className={message === "" ? "visually-hidden" : "alert"}>
        {message}
      </p>

      {form === null || draft === null ? null : (
        <form
          className="editor"
          aria-label={a("forms.editing", { name: form.name })}
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <h3>{a("forms.editing", { name: form.name })}</h3>
          <TextPair label={a("forms.formTitle")} value={text(draft.title)} onChange={(title) => { change({ title: { ...title, $typeName: "astro.v1.LocalizedText" } }); }} />
          <fieldset>
            <legend>{a("forms.fields")}</legend>
            {STANDARD.map(([field, key]) => {
              const shown = draft.fields.find((f) => f.field === field);
              return (
                <p key={key} className="choice-row">
                  <label>
                    <input
                      type="checkbox"
                      checked={shown !== undefined}
                      onChange={(e) => {
                        change({
                          fields: e.target.checked
                            ? [...draft.fields, { $typeName: "astro.v1.FormField", field, required: false }]
                            : draft.fields.filter((f) => f.field !== field),
                        });
                      }}
                    />{" "}
                    {a(`import.field.${key}` as "import.field.first_name")}
                  </label>{" "}
                  <label>
                    <input
                      type="checkbox"
                      checked={shown?.required === true}
                      disabled={shown === undefined}
                      onChange={(e) => {
                        change({ fields: draft.fields.map((f) => (f.field === field ? { ...f, required: e.target.checked } : f)) });
                      }}
                    />{" "}
                    {a("forms.required")}
                  </label>
                </p>
              );
            })}
          </fieldset>

          {draft.questions.map((q, i) => (
            <fieldset key={i} className="question">
              <legend>{a("forms.question", { n: i + 1 })}</legend>
              <p className="row">
                <label>
                  {a("forms.questionId")}{" "}
                  <input value={q.id} onChange={(e) => { changeQuestion(i, { id: e.target.value }); }} />
                </label>{" "}
                <label>
                  {a("forms.kind")}{" "}
                  <select
                    value={q.kind}
                    onChange={(e) => {
                      const kind = KINDS.find(([k]) => String(k) === e.target.value)?.[0] ?? QuestionType.SHORT_TEXT;
                      changeQuestion(i, { kind, choices: isChoice(kind) ? q.choices : [], bounds: kind === QuestionType.NUMBER ? q.bounds : undefined });
                    }}
                  >
                    {KINDS.map(([kind, key]) => (
                      <option key={kind} value={kind}>
                        {a(key as "forms.kind.SHORT_TEXT")}
                      </option>
                    ))}
                  </select>
                </label>{" "}
                <label>
                  <input type="checkbox" checked={q.required} onChange={(e) => { changeQuestion(i, { required: e.target.checked }); }} /> {a("forms.required")}
                </label>
              </p>
              <TextPair label={a("forms.label")} value={text(q.label)} onChange={(label) => { changeQuestion(i, { label: { ...label, $typeName: "astro.v1.LocalizedText" } }); }} />
              {isChoice(q.kind) ? (
                <div className="choices">
                  {q.choices.map((c, j) => (
                    <p key={j} className="row">
                      <label>
                        {a("forms.choiceId", { n: j + 1 })}{" "}
                        <input
                          value={c.id}
                          onChange={(e) => { changeQuestion(i, { choices: q.choices.map((x, k) => (k === j ? { ...x, id: e.target.value } : x)) }); }}
                        />
                      </label>{" "}
                      <TextPair
                        label={a("forms.choiceLabel", { n: j + 1 })}
                        value={text(c.label)}
                        onChange={(label) => {
                          changeQuestion(i, { choices: q.choices.map((x, k) => (k === j ? { ...x, label: { ...label, $typeName: "astro.v1.LocalizedText" } } : x)) });
                        }}
                      />
                      <button type="button" className="secondary" onClick={() => { changeQuestion(i, { choices: q.choices.filter((_, k) => k !== j) }); }}>
                        {a("forms.removeChoice", { n: j + 1 })}
                      </button>
                    </p>
                  ))}
                  <button
                    type="button"
                    className="secondary"
                    onClick={() => {
                      const n = q.choices.length + 1;
                      changeQuestion(i, {
                        choices: [...q.choices, { $typeName: "astro.v1.Choice", id: `choice-${String(n)}`, label: { $typeName: "astro.v1.LocalizedText", fr: "", en: "" } }],
                      });
                    }}
                  >
                    {a("forms.addChoice")}
                  </button>
                </div>
              ) : null}
              {q.kind === QuestionType.NUMBER ? (
                <p className="row">
                  {(["min", "max"] as const).map((end) => (
                    <label key={end}>
                      {a(`forms.${end}`)}{" "}
                      <input
                        type="number"
                        value={q.bounds?.[end] ?? ""}
                        onChange={(e) => {
                          const bounds = { $typeName: "astro.v1.NumberBounds" as const, min: q.bounds?.min ?? 0, max: q.bounds?.max ?? 0 };
                          changeQuestion(i, { bounds: { ...bounds, [end]: Number(e.target.value) } });
                        }}
                      />
                    </label>
                  ))}
                </p>
              ) : null}
              <p className="actions">
                <button type="button" className="secondary" disabled={i === 0} onClick={() => { move(i, -1); }}>
                  {a("forms.up", { n: i + 1 })}
                </button>{" "}
                <button type="button" className="secondary" disabled={i === draft.questions.length - 1} onClick={() => { move(i, 1); }}>
                  {a("forms.down", { n: i + 1 })}
                </button>{" "}
                <button type="button" className="secondary" onClick={() => { change({ questions: draft.questions.filter((_, j) => j !== i) }); }}>
                  {a("forms.remove", { n: i + 1 })}
                </button>
              </p>
            </fieldset>
          ))}
          <p>
            <button
              type="button"
              className="secondary"
              onClick={() => {
                const n = draft.questions.length + 1;
                change({
                  questions: [
                    ...draft.questions,
                    {
                      $typeName: "astro.v1.Question",
                      id: `question-${String(n)}`,
                      kind: QuestionType.SHORT_TEXT,
                      label: { $typeName: "astro.v1.LocalizedText", fr: "", en: "" },
                      help: { $typeName: "astro.v1.LocalizedText", fr: "", en: "" },
                      required: false,
                      choices: [],
                      maxLength: 0,
                      maxChoices: 0,
                    },
                  ],
                });
              }}
            >
              {a("forms.addQuestion")}
            </button>
          </p>
          <TextPair label={a("forms.thankYou")} value={text(draft.thankYou)} onChange={(thankYou) => { change({ thankYou: { ...thankYou, $typeName: "astro.v1.LocalizedText" } }); }} />
          <p className="row">
            <label>
              {a("forms.language")}{" "}
              <select value={draft.defaultLanguage} onChange={(e) => { change({ defaultLanguage: e.target.value }); }}>
                <option value="fr">Français</option>
                <option value="en">English</option>
              </select>
            </label>
          </p>
          <p>
            <label htmlFor={`${id}-redirect`}>{a("forms.redirect")}</label>
            <input id={`${id}-redirect`} type="url" value={draft.redirectUrl} onChange={(e) => { change({ redirectUrl: e.target.value.trim() }); }} />
          </p>
          <p className="choice-row">
            <label>
              <input type="checkbox" checked={draft.doubleOptIn} onChange={(e) => { change({ doubleOptIn: e.target.checked }); }} />{" "}
              {a("forms.doubleOptIn")}
            </label>
          </p>
          <p>
            <label htmlFor={`${id}-origins`}>{a("forms.origins")}</label>
            <textarea
              id={`${id}-origins`}
              rows={3}
              value={draft.allowedOrigins.join("\n")}
              onChange={(e) => { change({ allowedOrigins: e.target.value.split("\n").map((o) => o.trim()).filter((o) => o !== "") }); }}
            />
          </p>
          <p className="actions">
            <button type="submit" className="secondary">
              {a("forms.save")}
            </button>{" "}
            <button type="button" onClick={() => void publish()}>
              {a("forms.publish")}
            </button>
          </p>
        </form>
      )}
      {form === null || draft === null ? null : <Preview name={form.name} draft={draft} />}
      {form === null || form.publishedVersion === 0n ? null : <Snippets name={form.name} />}
    </section>
  );
}

/// A text in French and English: two inputs, each labelled.
function TextPair({ label, value, onChange }: { label: string; value: Text; onChange: (t: Text) => void }) {
  const { a } = useAdminText();
  return (
    <span className="pair">
      <label>
        {a("forms.inFrench", { label })}{" "}
        <input value={value.fr} onChange={(e) => { onChange({ ...value, fr: e.target.value }); }} />
      </label>{" "}
      <label>
        {a("forms.inEnglish", { label })}{" "}
        <input value={value.en} onChange={(e) => { onChange({ ...value, en: e.target.value }); }} />
      </label>
    </span>
  );
}
