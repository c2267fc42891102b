// The scoring rules (admins): points for each answer, word groups for the
// job title and the message, the thresholds of the grades. Saved from the
// version read (a change made meanwhile is refused and reloaded, never
// overwritten); then the cards are re-scored in the background, and the
// page shows how far that has got.

import { Code, ConnectError } from "@connectrpc/connect";
import { useCallback, useEffect, useId, useState } from "react";

import { BUDGETS, TIMELINES } from "../api/rest";
import { type FormVersion, QuestionType } from "../gen/astro/v1/form_pb";
import { RescoreState, type ScoringRules, type WordGroup } from "../gen/astro/v1/scoring_pb";
import { useI18n } from "../i18n";
import { forms, scoring } from "./client";
import { BUDGET_VALUES, TIMELINE_VALUES } from "./fit";
import { useAdminText } from "./texts";

interface GroupDraft {
  key: number;
  name: string;
  words: string;
  points: string;
}

interface Draft {
  version: bigint;
  hot: string;
  warm: string;
  budget: Record<(typeof BUDGETS)[number], string>;
  timeline: Record<(typeof TIMELINES)[number], string>;
  business: string;
  phone: string;
  jobTitle: GroupDraft[];
  message: GroupDraft[];
  /// Points per form, question and choice (`answerKey`).
  answers: Record<string, string>;
}

/// One choice of a published form's question, as the answer rules name it.
interface FormChoice {
  form: string;
  questionId: string;
  question: string;
  choiceId: string;
  choice: string;
}

const answerKey = (form: string, questionId: string, choiceId: string) => JSON.stringify([form, questionId, choiceId]);

let nextKey = 0;

function groupDraft(g: WordGroup): GroupDraft {
  return { key: nextKey++, name: g.name, words: g.words.join(", "), points: String(g.points) };
}

export function draftOf(rules: ScoringRules): Draft {
  const budget = Object.fromEntries(BUDGETS.map((b) => [b, String(rules.budget.find((p) => p.budget === BUDGET_VALUES[b])?.points ?? 0)]));
  const timeline = Object.fromEntries(
    TIMELINES.map((t) => [t, String(rules.timeline.find((p) => p.timeline === TIMELINE_VALUES[t])?.points ?? 0)]),
  );
  return {
    version: rules.version,
    hot: String(rules.hotThreshold),
    warm: String(rules.warmThreshold),
    budget: budget as Draft["budget"],
    timeline: timeline as Draft["timeline"],
    business: String(rules.businessEmailPoints),
    phone: String(rules.phonePoints),
    jobTitle: rules.jobTitle.map(groupDraft),
    message: rules.message.map(groupDraft),
    answers: Object.fromEntries(rules.answers.map((r) => [answerKey(r.form, r.questionId, r.choiceId), String(r.points)])),
  };
}

const points = (text: string) => Math.trunc(Number(text)) || 0;
const words = (text: string) =>
  text
    .split(",")
    .map((w) => w.trim())
    .filter((w) => w !== "");

/// The rules a draft stands for, as the contract takes them.
export function rulesOf(d: Draft) {
  return {
    version: d.version,
    hotThreshold: points(d.hot),
    warmThreshold: points(d.warm),
    budget: BUDGETS.map((b) => ({ budget: BUDGET_VALUES[b], points: points(d.budget[b]) })),
    timeline: TIMELINES.map((t) => ({ timeline: TIMELINE_VALUES[t], points: points(d.timeline[t]) })),
    businessEmailPoints: points(d.business),
    phonePoints: points(d.phone),
    jobTitle: d.jobTitle.map((g) => ({ name: g.name.trim(), words: words(g.words), points: points(g.points) })),
    message: d.message.map((g) => ({ name: g.name.trim(), words: words(g.words), points: points(g.points) })),
    answers: Object.entries(d.answers)
      .filter(([, p]) => points(p) !== 0)
      .map(([key, p]) => {
        const [form = "", questionId = "", choiceId = ""] = JSON.parse(key) as string[];
        return { form, questionId, choiceId, points: points(p) };
      }),
  };
}

/// The choices of every published form's choice and yes/no questions, in
/// the language shown.
function choicesOf(published: FormVersion[], lang: string, yes: string, no: string): FormChoice[] {
  const local = (text: { fr: string; en: string } | undefined) => (text === undefined ? "" : lang === "en" ? text.en || text.fr : text.fr || text.en);
  return published.flatMap((form) =>
    (form.definition?.questions ?? []).flatMap((q) => {
      const choices =
        q.kind === QuestionType.YES_NO
          ? [
              { id: "yes", label: yes },
              { id: "no", label: no },
            ]
          : q.kind === QuestionType.SINGLE_CHOICE || q.kind === QuestionType.MULTIPLE_CHOICE
            ? q.choices.map((c) => ({ id: c.id, label: local(c.label) }))
            : [];
      return choices.map((c) => ({ form: form.name, questionId: q.id, question: local(q.label), choiceId: c.id, choice: c.label }));
    }),
  );
}

/// Points per choice of the published forms' questions (and the rules kept
/// for choices no longer published, by their ids).
function AnswerPoints(props: { draft: Draft; choices: FormChoice[]; onChange: (answers: Record<string, string>) => void }) {
  const { a } = useAdminText();
  const id = useId();
  const { draft, choices, onChange } = props;
  const known = new Set(choices.map((c) => answerKey(c.form, c.questionId, c.choiceId)));
  const kept: FormChoice[] = Object.keys(draft.answers)
    .filter((k) => !known.has(k))
    .map((k) => {
      const [form = "", questionId = "", choiceId = ""] = JSON.parse(k) as string[];
      return { form, questionId, question: questionId, choiceId, choice: choiceId };
    });
  const all = [...choices, ...kept];
  const questions = [...new Map(all.map((c) => [`${c.form}/${c.questionId}`, c])).values()];
  return (
    <fieldset className="groups">
      <legend>{a("scoring.formAnswers")}</legend>
      {questions.length === 0 ? <p>{a("scoring.noFormAnswers")}</p> : null}
      {questions.map((q, i) => (
        <fieldset key={`${q.form}/${q.questionId}`} className="plain">
          <legend>{a("scoring.formQuestion", { form: q.form, question: q.question })}</legend>
          <div className="row">
            {all
              .filter((c) => c.form === q.form && c.questionId === q.questionId)
              .map((c, j) => {
                const key = answerKey(c.form, c.questionId, c.choiceId);
                return (
                  <PointsField
                    key={key}
                    id={`${id}-${String(i)}-${String(j)}`}
                    label={c.choice}
                    value={draft.answers[key] ?? "0"}
                    onChange={(v) => {
                      onChange({ ...draft.answers, [key]: v });
                    }}
                  />
                );
              })}
          </div>
        </fieldset>
      ))}
    </fieldset>
  );
}

function PointsField(props: { id: string; label: string; value: string; onChange: (v: string) => void; min?: number; max?: number }) {
  const { id, label, value, onChange, min = -100, max = 100 } = props;
  return (
    <div className="field points">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        inputMode="numeric"
        min={min}
        max={max}
        step={1}
        value={value}
        onChange={(e) => {
          onChange(e.target.value);
        }}
      />
    </div>
  );
}

function Groups(props: { title: string; groups: GroupDraft[]; onChange: (groups: GroupDraft[]) => void }) {
  const { a } = useAdminText();
  const id = useId();
  const { title, groups, onChange } = props;
  const set = (key: number, change: Partial<GroupDraft>) => {
    onChange(groups.map((g) => (g.key === key ? { ...g, ...change } : g)));
  };
  return (
    <fieldset className="groups">
      <legend>{title}</legend>
      {groups.map((g) => (
        <div key={g.key} className="group">
          <div className="field">
            <label htmlFor={`${id}-${g.key}-name`}>{a("scoring.groupName")}</label>
            <input
              id={`${id}-${g.key}-name`}
              type="text"
              maxLength={40}
              value={g.name}
              onChange={(e) => {
                set(g.key, { name: e.target.value });
              }}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-${g.key}-words`}>{a("scoring.words")}</label>
            <textarea
              id={`${id}-${g.key}-words`}
              rows={2}
              value={g.words}
              onChange={(e) => {
                set(g.key, { words: e.target.value });
              }}
            />
          </div>
          <PointsField
            id={`${id}-${g.key}-points`}
            label={a("scoring.points")}
            value={g.points}
            onChange={(points) => {
              set(g.key, { points });
            }}
          />
          <button
            type="button"
            className="secondary"
            onClick={() => {
              onChange(groups.filter((x) => x.key !== g.key));
            }}
          >
            {a("scoring.removeGroup", { name: g.name })}
          </button>
        </div>
      ))}
      {groups.length < 10 ? (
        <button
          type="button"
          className="secondary"
          onClick={() => {
            onChange([...groups, { key: nextKey++, name: "", words: "", points: "10" }]);
          }}
        >
          {a("scoring.addGroup")}
        </button>
      ) : null}
    </fieldset>
  );
}

export function Scoring() {
  const { a, lang } = useAdminText();
  const { t } = useI18n();
  const id = useId();
  const [rules, setRules] = useState<ScoringRules | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [state, setState] = useState<"idle" | "saving">("idle");
  const [notice, setNotice] = useState<{ text: string; ok: boolean } | null>(null);
  const [published, setPublished] = useState<FormVersion[]>([]);
  const fail = (text: string) => {
    setNotice({ text, ok: false });
  };

  const load = useCallback(async (replaceDraft: boolean) => {
    const read = await scoring.getScoringRules({});
    setRules(read);
    if (replaceDraft) setDraft(draftOf(read));
  }, []);

  useEffect(() => {
    const stop = new AbortController();
    scoring.getScoringRules({}, { signal: stop.signal }).then(
      (read) => {
        setRules(read);
        setDraft(draftOf(read));
      },
      (caught: unknown) => {
        if (!stop.signal.aborted) fail(ConnectError.from(caught).rawMessage);
      },
    );
    // The published forms' questions, for their choices' points.
    forms.listForms({}, { signal: stop.signal }).then(
      async (listed) => {
        const versions = await Promise.all(
          listed.forms.filter((f) => f.publishedVersion > 0n).map((f) => forms.getPublishedForm({ name: f.name }, { signal: stop.signal })),
        );
        if (!stop.signal.aborted) setPublished(versions);
      },
      () => undefined,
    );
    return () => {
      stop.abort();
    };
  }, []);

  // While the cards are re-scored, its progress every second.
  const running = rules?.rescore?.state === RescoreState.RUNNING || (rules !== null && (rules.rescore?.rulesVersion ?? 0n) < rules.version);
  useEffect(() => {
    if (!running) return;
    const timer = window.setInterval(() => {
      void load(false).catch(() => undefined);
    }, 1000);
    return () => {
      window.clearInterval(timer);
    };
  }, [running, load]);

  async function save(d: Draft) {
    setState("saving");
    setNotice(null);
    try {
      const saved = await scoring.updateScoringRules({ rules: rulesOf(d), updateMask: { paths: [] } });
      setRules(saved);
      setDraft(draftOf(saved));
      setNotice({ text: a("scoring.saved", { version: String(saved.version) }), ok: true });
    } catch (caught) {
      const error = ConnectError.from(caught);
      if (error.code === Code.Aborted) {
        await load(true).catch(() => undefined);
        fail(a("scoring.conflict"));
      } else if (error.code === Code.InvalidArgument) {
        fail(a("scoring.invalid", { detail: error.rawMessage.replace(/^invalid request: /, "") }));
      } else {
        fail(a("scoring.failed", { detail: error.rawMessage }));
      }
    } finally {
      setState("idle");
    }
  }

  if (rules === null || draft === null) return <p role="status">{notice?.text ?? "…"}</p>;
  const job = rules.rescore;
  const when = (seconds: bigint | undefined) =>
    seconds === undefined ? "" : new Date(Number(seconds) * 1000).toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
  return (
    <section className="scoring" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{a("scoring.title")}</h2>
      <p>{a("scoring.intro")}</p>
      <p className="meta">
        {rules.updatedBy === ""
          ? a("scoring.defaults", { version: String(rules.version) })
          : a("scoring.version", { version: String(rules.version), who: rules.updatedBy, date: when(rules.updatedAt?.seconds) })}
      </p>
      <p role="status" className="progress">
        {job === undefined || job.rulesVersion < rules.version
          ? a("scoring.progress", { version: String(rules.version), done: 0, total: "…" })
          : job.state === RescoreState.DONE
            ? a("scoring.done", { version: String(job.rulesVersion) })
            : a("scoring.progress", {
                version: String(job.rulesVersion),
                done: Number(job.scored > job.total ? job.total : job.scored),
                total: Number(job.total),
              })}
      </p>
      <div role="status" aria-live="polite" className={notice === null ? "visually-hidden" : notice.ok ? "notice" : "alert"}>
        {notice?.text}
      </div>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save(draft);
        }}
      >
        <fieldset>
          <legend>{a("scoring.thresholds")}</legend>
          <div className="row">
            <PointsField
              id={`${id}-hot`}
              label={a("scoring.hot")}
              min={1}
              max={1000}
              value={draft.hot}
              onChange={(hot) => {
                setDraft({ ...draft, hot });
              }}
            />
            <PointsField
              id={`${id}-warm`}
              label={a("scoring.warm")}
              min={0}
              max={999}
              value={draft.warm}
              onChange={(warm) => {
                setDraft({ ...draft, warm });
              }}
            />
          </div>
        </fieldset>
        <fieldset>
          <legend>{a("scoring.answers")}</legend>
          <div className="row">
            {BUDGETS.map((b) => (
              <PointsField
                key={b}
                id={`${id}-budget-${b}`}
                label={a("scoring.answer", { field: t("field.budget"), answer: t(`budget.${b}`) })}
                value={draft.budget[b]}
                onChange={(v) => {
                  setDraft({ ...draft, budget: { ...draft.budget, [b]: v } });
                }}
              />
            ))}
          </div>
          <div className="row">
            {TIMELINES.map((tl) => (
              <PointsField
                key={tl}
                id={`${id}-timeline-${tl}`}
                label={a("scoring.answer", { field: t("field.timeline"), answer: t(`timeline.${tl}`) })}
                value={draft.timeline[tl]}
                onChange={(v) => {
                  setDraft({ ...draft, timeline: { ...draft.timeline, [tl]: v } });
                }}
              />
            ))}
          </div>
          <div className="row">
            <PointsField
              id={`${id}-business`}
              label={a("scoring.businessEmail")}
              value={draft.business}
              onChange={(business) => {
                setDraft({ ...draft, business });
              }}
            />
            <PointsField
              id={`${id}-phone`}
              label={a("scoring.phone")}
              value={draft.phone}
              onChange={(phone) => {
                setDraft({ ...draft, phone });
              }}
            />
          </div>
        </fieldset>
        <AnswerPoints
          draft={draft}
          choices={choicesOf(published, lang, t("option.yes"), t("option.no"))}
          onChange={(answers) => {
            setDraft({ ...draft, answers });
          }}
        />
        <Groups
          title={a("scoring.jobTitle")}
          groups={draft.jobTitle}
          onChange={(jobTitle) => {
            setDraft({ ...draft, jobTitle });
          }}
        />
        <Groups
          title={a("scoring.message")}
          groups={draft.message}
          onChange={(message) => {
            setDraft({ ...draft, message });
          }}
        />
        <button type="submit" className="primary" disabled={state === "saving"}>
          {state === "saving" ? a("scoring.saving") : a("scoring.save")}
        </button>
      </form>
    </section>
  );
}
