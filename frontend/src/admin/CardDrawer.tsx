// A card in full: every field, editable by those whose role allows it
// (only what changed is sent, with the version last read), its owner, its
// history under the members' names, and deletion after a confirmation.
// A native modal dialog: focus moves in and back, Escape closes it.

import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useId, useRef, useState } from "react";

import { BUDGETS, TIMELINES } from "../api/rest";
import { useI18n } from "../i18n";
import { type Answer, Budget, EmailConfirmation, type Prospect, ProspectEventKind, ProspectStatus, ProspectView, Timeline } from "../gen/astro/v1/prospect_pb";
import { QuestionType } from "../gen/astro/v1/form_pb";
import { fullName } from "./board";
import { COLUMNS, STATUS, columnOf } from "./board";
import { BUDGET_VALUES, FitWhy, TIMELINE_VALUES } from "./fit";
import { prospects } from "./client";
import { canWork, useClaims } from "./session";
import { nameOf, owners, useTeam } from "./team";
import { useAdminText } from "./texts";


/// A labelled select over the values of a generated enum.
function EnumField<T extends number>(props: {
  id: string;
  label: string;
  value: T;
  options: [T, string][];
  onChange: (value: T) => void;
}) {
  const { id, label, value, options, onChange } = props;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        value={value}
        onChange={(e) => {
          const chosen = options.find(([v]) => String(v) === e.target.value);
          if (chosen !== undefined) onChange(chosen[0]);
        }}
      >
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/// Who works the card: admins choose among the active admins and
/// salespeople (or nobody); a salesperson may take an unowned card.
function OwnerField(props: { id: string; isAdmin: boolean; me: string; value: string; onChange: (owner: string) => void }) {
  const { id, isAdmin, me, value, onChange } = props;
  const { a } = useAdminText();
  const { members } = useTeam();
  if (!isAdmin) {
    return (
      <div className="field">
        <span className="label">{a("drawer.owner")}</span>{" "}
        <span>{value === "" ? a("card.unowned") : nameOf(members, value)}</span>{" "}
        {value === "" ? (
          <button
            type="button"
            className="secondary"
            onClick={() => {
              onChange(me);
            }}
          >
            {a("drawer.take")}
          </button>
        ) : null}
      </div>
    );
  }
  const choices = owners(members);
  return (
    <div className="field">
      <label htmlFor={id}>{a("drawer.owner")}</label>
      <select
        id={id}
        value={value}
        onChange={(e) => {
          onChange(e.target.value);
        }}
      >
        <option value="">{a("drawer.nobody")}</option>
        {value !== "" && !choices.some((m) => m.email === value) ? <option value={value}>{nameOf(members, value)}</option> : null}
        {choices.map((m) => (
          <option key={m.email} value={m.email}>
            {nameOf(members, m.email)}
          </option>
        ))}
      </select>
    </div>
  );
}

/// The editable text fields: their contract names and form keys.
const TEXT_FIELDS = [
  ["first_name", "firstName", "field.firstName"],
  ["last_name", "lastName", "field.lastName"],
  ["email", "email", "field.email"],
  ["phone", "phone", "field.phone"],
  ["company", "company", "field.company"],
  ["job_title", "jobTitle", "field.jobTitle"],
] as const;

type Draft = Pick<
  Prospect,
  "firstName" | "lastName" | "email" | "phone" | "company" | "jobTitle" | "message" | "budget" | "timeline" | "status" | "owner"
>;

function draftOf(p: Prospect): Draft {
  const { firstName, lastName, email, phone, company, jobTitle, message, budget, timeline, status, owner } = p;
  return { firstName, lastName, email, phone, company, jobTitle, message, budget, timeline, status, owner };
}

/// The contract paths of what differs between the card and the draft.
export function changedPaths(card: Prospect, draft: Draft): string[] {
  const names: [keyof Draft, string][] = [
    ["firstName", "first_name"],
    ["lastName", "last_name"],
    ["email", "email"],
    ["phone", "phone"],
    ["company", "company"],
    ["jobTitle", "job_title"],
    ["message", "message"],
    ["budget", "budget"],
    ["timeline", "timeline"],
    ["status", "status"],
    ["owner", "owner"],
  ];
  return names.filter(([key]) => card[key] !== draft[key]).map(([, path]) => path);
}

export function CardDrawer(props: {
  id: string;
  card: Prospect | undefined;
  onClose: () => void;
  onSaved: (card: Prospect) => void;
  onDeleted: (id: string) => void;
}) {
  const { id, onClose, onSaved, onDeleted } = props;
  const { a, lang } = useAdminText();
  const { t } = useI18n();
  const dialog = useRef<HTMLDialogElement>(null);
  const formId = useId();
  const [full, setFull] = useState<Prospect | null>(null);
  const [draft, setDraft] = useState<Draft | null>(props.card === undefined ? null : draftOf(props.card));
  const [state, setState] = useState<"idle" | "saving" | "confirm">("idle");
  const [message, setMessage] = useState<string | null>(null);
  const claims = useClaims();
  const { members } = useTeam();
  const editable = canWork(claims);
  const isAdmin = claims?.role === "admin";

  async function reload() {
    const card = await prospects.getProspect({ id, view: ProspectView.FULL });
    setFull(card);
    setDraft(draftOf(card));
    return card;
  }

  useEffect(() => {
    dialog.current?.showModal();
    void prospects.getProspect({ id, view: ProspectView.FULL }).then((card) => {
      setFull(card);
      setDraft((d) => d ?? draftOf(card));
    });
  }, [id]);

  async function save() {
    if (full === null || draft === null) return;
    const paths = changedPaths(full, draft);
    if (paths.length === 0) return;
    setState("saving");
    setMessage(null);
    try {
      const saved = await prospects.updateProspect({
        prospect: { ...draft, id, version: full.version },
        updateMask: { paths },
      });
      onSaved(saved);
      const card = await reload();
      onSaved(card);
      setMessage(a("drawer.saved"));
    } catch (caught) {
      const error = ConnectError.from(caught);
      if (error.code === Code.Aborted) {
        const card = await reload();
        onSaved(card);
        setMessage(a("drawer.conflict"));
      } else if (error.code !== Code.Unauthenticated) {
        setMessage(a("drawer.failed", { detail: error.rawMessage }));
      }
      // UNAUTHENTICATED: the sign-in comes back; the draft stays for after it.
    } finally {
      setState("idle");
    }
  }

  async function remove() {
    if (full === null) return;
    try {
      await prospects.deleteProspect({ id, version: full.version });
      onDeleted(id);
    } catch (caught) {
      setState("idle");
      setMessage(a("drawer.failed", { detail: ConnectError.from(caught).rawMessage }));
    }
  }

  const when = (seconds: bigint | undefined) =>
    seconds === undefined ? "" : new Date(Number(seconds) * 1000).toLocaleString(lang === "fr" ? "fr-FR" : "en-GB");
  const statusName = (status: ProspectStatus) => {
    const key = columnOf(status);
    return key === undefined ? "" : a(`status.${key}`);
  };
  const kindText = (kind: ProspectEventKind) =>
    kind === ProspectEventKind.CREATED ? "event.CREATED" : kind === ProspectEventKind.STATUS_CHANGED ? "event.STATUS_CHANGED" : "event.EDITED";
  const card = full ?? props.card;
  const name = card === undefined ? "" : fullName(card);

  return (
    <dialog ref={dialog} className="drawer" aria-labelledby={`${formId}-title`} onClose={onClose}>
      <header className="drawer-head">
        <h2 id={`${formId}-title`}>{name}</h2>
        <button type="button" className="link" onClick={() => dialog.current?.close()}>
          {a("drawer.close")}
        </button>
      </header>
      <div role="status" aria-live="polite" className={message !== null ? "alert" : "visually-hidden"}>
        {message}
      </div>
      {draft === null || card === undefined ? null : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          {!editable ? <p className="meta">{a("drawer.readOnly")}</p> : null}
          <fieldset disabled={!editable} className="plain">
            <OwnerField
              id={`${formId}-owner`}
              isAdmin={isAdmin}
              me={claims?.email ?? ""}
              value={draft.owner}
              onChange={(owner) => {
                setDraft({ ...draft, owner });
              }}
            />
            {TEXT_FIELDS.map(([, key, label]) => (
              <div className="field" key={key}>
                <label htmlFor={`${formId}-${key}`}>{t(label)}</label>
                <input
                  id={`${formId}-${key}`}
                  type="text"
                  value={draft[key]}
                  onChange={(e) => {
                    setDraft({ ...draft, [key]: e.target.value });
                  }}
                />
              </div>
            ))}
            <div className="field">
              <label htmlFor={`${formId}-message`}>{t("field.message")}</label>
              <textarea
                id={`${formId}-message`}
                rows={4}
                value={draft.message}
                onChange={(e) => {
                  setDraft({ ...draft, message: e.target.value });
                }}
              />
            </div>
            <div className="row">
              <EnumField
                id={`${formId}-budget`}
                label={t("field.budget")}
                value={draft.budget}
                options={[
                  [Budget.BUDGET_UNSPECIFIED, t("option.none")],
                  ...BUDGETS.map((b): [Budget, string] => [BUDGET_VALUES[b], t(`budget.${b}`)]),
                ]}
                onChange={(budget) => {
                  setDraft({ ...draft, budget });
                }}
              />
              <EnumField
                id={`${formId}-timeline`}
                label={t("field.timeline")}
                value={draft.timeline}
                options={[
                  [Timeline.UNSPECIFIED, t("option.none")],
                  ...TIMELINES.map((v): [Timeline, string] => [TIMELINE_VALUES[v], t(`timeline.${v}`)]),
                ]}
                onChange={(timeline) => {
                  setDraft({ ...draft, timeline });
                }}
              />
            </div>
            <EnumField
              id={`${formId}-status`}
              label={a("field.status")}
              value={draft.status}
              options={COLUMNS.map((c): [ProspectStatus, string] => [STATUS[c], a(`status.${c}`)])}
              onChange={(status) => {
                setDraft({ ...draft, status });
              }}
            />
            {card.source !== undefined ? (
              <p className="meta">
                {a("drawer.source")}: {[card.source.utmSource, card.source.utmMedium, card.source.utmCampaign, card.source.referrer].filter((s) => s !== "").join(" · ")}
              </p>
            ) : null}
            {card.consent?.givenAt !== undefined ? (
              <p className="meta">
                {a("drawer.consent", { date: when(card.consent.givenAt.seconds) })}
                {card.consent.textVersion !== ""
                  ? ` ${a("drawer.consentText", { version: card.consent.textVersion, language: card.consent.language || "?" })}`
                  : null}
              </p>
            ) : null}
            {card.duplicateOf !== "" ? <p className="meta">{a("drawer.duplicate")}</p> : null}
            {card.form !== undefined && card.form.name !== "" ? (
              <p className="meta">{a("drawer.form", { name: card.form.name, version: Number(card.form.version) })}</p>
            ) : null}
            {card.emailConfirmation === EmailConfirmation.PENDING ? <p className="meta">{a("drawer.emailPending")}</p> : null}
            {card.emailConfirmation === EmailConfirmation.CONFIRMED ? (
              <p className="meta">{a("drawer.emailConfirmed", { date: when(card.emailConfirmedAt?.seconds) })}</p>
            ) : null}
            {card.answers.length > 0 ? <p className="meta">{a("drawer.answers")}</p> : null}
            {card.answers.length > 0 ? (
              <dl className="answers">
                {card.answers.map((answer) => (
                  <div key={answer.questionId}>
                    <dt>{answer.label}</dt>
                    <dd>{answerText(answer, lang, a("drawer.yes"), a("drawer.no"))}</dd>
                  </div>
                ))}
              </dl>
            ) : null}
          </fieldset>
          {editable ? (
            <button type="submit" className="primary" disabled={state === "saving" || full === null}>
              {state === "saving" ? a("drawer.saving") : a("drawer.save")}
            </button>
          ) : null}
        </form>
      )}
      {full !== null ? <FitWhy card={full} headingId={`${formId}-fit`} /> : null}
      <section aria-labelledby={`${formId}-history`}>
        <h3 id={`${formId}-history`}>{a("drawer.history")}</h3>
        <ol className="timeline">
          {(full?.events ?? []).map((event) => (
            <li key={event.id}>
              <time>{when(event.createdAt?.seconds)}</time>{" "}
              {a(kindText(event.kind), {
                actor: nameOf(members, event.actor),
                from: statusName(event.fromStatus),
                to: statusName(event.toStatus),
                fields: event.changedFields.join(", "),
              })}
            </li>
          ))}
        </ol>
      </section>
      <footer className="drawer-foot">
        {!(isAdmin || (claims?.role === "sales" && card?.owner === claims.email)) ? null : state === "confirm" ? (
          <div role="alertdialog" aria-labelledby={`${formId}-confirm`} className="confirm">
            <p id={`${formId}-confirm`}>{a("drawer.confirmDelete", { name })}</p>
            <button type="button" className="danger" onClick={() => void remove()}>
              {a("drawer.confirmYes")}
            </button>{" "}
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setState("idle");
              }}
            >
              {a("drawer.confirmNo")}
            </button>
          </div>
        ) : (
          <button
            type="button"
            className="danger"
            onClick={() => {
              setState("confirm");
            }}
          >
            {a("drawer.delete")}
          </button>
        )}
      </footer>
    </dialog>
  );
}

/// An answer as read: the text, the choices' labels, the number in the
/// reader's language, yes or no.
function answerText(answer: Answer, lang: string, yes: string, no: string): string {
  switch (answer.kind) {
    case QuestionType.SINGLE_CHOICE:
    case QuestionType.MULTIPLE_CHOICE:
      return answer.choiceLabels.join(", ");
    case QuestionType.NUMBER:
      return answer.number.toLocaleString(lang);
    case QuestionType.YES_NO:
      return answer.yes ? yes : no;
    default:
      return answer.text;
  }
}
