// A person's rights (GDPR), for admins: everything held on one email
// address, downloaded as JSON, or erased after a confirmation; and the log
// of erasures (who, when, how much — never whose). Its own chunk.

import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { useCallback, useEffect, useId, useState } from "react";

import { type Erasure, ErasureReason, type PersonalData, PersonalDataSchema } from "../gen/astro/v1/privacy_pb";
import type { TeamSettings } from "../gen/astro/v1/member_pb";
import { COLUMNS, type ColumnKey, STATUS, columnOf, fullName } from "./board";
import { members as memberClient, privacy } from "./client";
import { saveFile, today } from "./download";
import { useAdminText } from "./texts";

function when(ts: { seconds: bigint } | undefined, lang: string): string {
  return ts === undefined ? "—" : new Date(Number(ts.seconds) * 1000).toLocaleString(lang);
}

export default function Privacy() {
  const { a, lang } = useAdminText();
  const id = useId();
  const [email, setEmail] = useState("");
  const [found, setFound] = useState<PersonalData | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState("");
  const [log, setLog] = useState<Erasure[]>([]);

  const reloadLog = useCallback(() => {
    privacy.listErasures({ pageSize: 50 }).then(
      (page) => {
        setLog(page.erasures);
      },
      () => undefined,
    );
  }, []);
  useEffect(reloadLog, [reloadLog]);

  async function lookUp() {
    setConfirming(false);
    setMessage("");
    try {
      setFound(await privacy.getPersonalData({ email }));
    } catch (caught) {
      setFound(null);
      setMessage(a("privacy.failed", { detail: ConnectError.from(caught).rawMessage }));
    }
  }

  async function erase() {
    if (found === null) return;
    try {
      const done = await privacy.erasePersonalData({ email: found.email });
      setFound(null);
      setConfirming(false);
      setMessage(a("privacy.erased", { prospects: Number(done.prospects), items: Number(done.events + done.notifications + done.boardChanges) }));
      reloadLog();
    } catch (caught) {
      setMessage(a("privacy.failed", { detail: ConnectError.from(caught).rawMessage }));
    }
  }

  function download() {
    if (found === null) return;
    const json = toJsonString(PersonalDataSchema, found, { prettySpaces: 2 });
    saveFile([json], `personal-data-${found.email}-${today()}.json`, "application/json");
  }

  const events = found?.prospects.reduce((n, p) => n + p.events.length, 0) ?? 0;
  return (
    <section className="page privacy" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{a("privacy.title")}</h2>
      <p className="hint">{a("privacy.intro")}</p>
      <form
        className="search"
        onSubmit={(e) => {
          e.preventDefault();
          void lookUp();
        }}
      >
        <label htmlFor={`${id}-email`} className="visually-hidden">
          {a("privacy.email")}
        </label>
        <input
          id={`${id}-email`}
          type="email"
          required
          placeholder={a("privacy.email")}
          value={email}
          onChange={(e) => {
            setEmail(e.target.value);
          }}
        />
        <button type="submit" className="secondary">
          {a("privacy.lookUp")}
        </button>
      </form>
      <p role="status" aria-live="polite" className={message === "" ? "visually-hidden" : "alert"}>
        {message}
      </p>
      {found === null ? null : (
        <section aria-labelledby={`${id}-found`} className="results">
          <h3 id={`${id}-found`}>
            {a("privacy.found", {
              email: found.email,
              prospects: found.prospects.length,
              events,
              notifications: found.notifications.length,
              changes: found.boardChanges.length,
            })}
          </h3>
          {found.prospects.length === 0 ? null : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{a("privacy.name")}</th>
                  <th scope="col">{a("privacy.company")}</th>
                  <th scope="col">{a("field.status")}</th>
                  <th scope="col">{a("privacy.createdAt")}</th>
                  <th scope="col">{a("privacy.consent")}</th>
                </tr>
              </thead>
              <tbody>
                {found.prospects.map((p) => (
                  <tr key={p.id}>
                    <td>{fullName(p)}</td>
                    <td>{p.company}</td>
                    <td>{a(`status.${columnOf(p.status) ?? "NEW"}`)}</td>
                    <td>{when(p.createdAt, lang)}</td>
                    <td>{p.consent?.given === true ? when(p.consent.givenAt, lang) : a("privacy.noConsent")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <p className="actions">
            <button type="button" className="secondary" onClick={download}>
              {a("privacy.download")}
            </button>{" "}
            {found.prospects.length + found.notifications.length + found.boardChanges.length === 0 ? null : confirming ? (
              <span role="alertdialog" aria-labelledby={`${id}-confirm`} className="confirm">
                <span id={`${id}-confirm`}>{a("privacy.confirm", { email: found.email })}</span>{" "}
                <button type="button" className="danger" onClick={() => void erase()}>
                  {a("privacy.confirmYes")}
                </button>{" "}
                <button
                  type="button"
                  className="secondary"
                  onClick={() => {
                    setConfirming(false);
                  }}
                >
                  {a("drawer.confirmNo")}
                </button>
              </span>
            ) : (
              <button
                type="button"
                className="danger"
                onClick={() => {
                  setConfirming(true);
                }}
              >
                {a("privacy.erase")}
              </button>
            )}
          </p>
        </section>
      )}
      <Retention />
      <h3>{a("privacy.log")}</h3>
      {log.length === 0 ? (
        <p className="hint">{a("privacy.logEmpty")}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">{a("privacy.erasedAt")}</th>
              <th scope="col">{a("privacy.by")}</th>
              <th scope="col">{a("privacy.reason")}</th>
              <th scope="col">{a("privacy.items")}</th>
            </tr>
          </thead>
          <tbody>
            {log.map((e) => (
              <tr key={e.id}>
                <td>{when(e.erasedAt, lang)}</td>
                <td>{e.actor}</td>
                <td>{e.reason === ErasureReason.RETENTION ? a("privacy.reason.retention") : a("privacy.reason.request")}</td>
                <td>{a("privacy.counts", { prospects: Number(e.prospects), items: Number(e.events + e.notifications + e.boardChanges) })}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/// How long each column keeps its cards (months; empty keeps them).
function Retention() {
  const { a } = useAdminText();
  const id = useId();
  const [settings, setSettings] = useState<TeamSettings | null>(null);
  const [draft, setDraft] = useState<Record<ColumnKey, string> | null>(null);
  const [notice, setNotice] = useState<{ text: string; ok: boolean } | null>(null);
  const draftOf = (s: TeamSettings) =>
    Object.fromEntries(COLUMNS.map((c) => [c, String(s.retention.find((k) => k.status === STATUS[c])?.months ?? "")])) as Record<
      ColumnKey,
      string
    >;
  const load = useCallback(() => {
    memberClient.getTeamSettings({}).then(
      (s) => {
        setSettings(s);
        setDraft(draftOf(s));
      },
      () => undefined,
    );
  }, []);
  useEffect(load, [load]);
  if (settings === null || draft === null) return null;

  async function save() {
    if (settings === null || draft === null) return;
    setNotice(null);
    try {
      const saved = await memberClient.updateTeamSettings({
        settings: {
          version: settings.version,
          retention: COLUMNS.filter((c) => draft[c].trim() !== "").map((c) => ({ status: STATUS[c], months: Math.trunc(Number(draft[c])) || 0 })),
        },
        updateMask: { paths: ["retention"] },
      });
      setSettings(saved);
      setDraft(draftOf(saved));
      setNotice({ text: a("retention.saved"), ok: true });
    } catch (caught) {
      const error = ConnectError.from(caught);
      if (error.code === Code.Aborted) load();
      setNotice({ text: a("privacy.failed", { detail: error.rawMessage.replace(/^invalid request: /, "") }), ok: false });
    }
  }

  return (
    <form
      className="retention"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <fieldset>
        <legend>{a("retention.title")}</legend>
        <p className="hint">{a("retention.intro")}</p>
        <div className="row">
          {COLUMNS.map((c) => (
            <div className="field" key={c}>
              <label htmlFor={`${id}-${c}`}>{a("retention.column", { column: a(`status.${c}`) })}</label>
              <input
                id={`${id}-${c}`}
                type="number"
                min={1}
                max={120}
                placeholder={a("retention.forever")}
                value={draft[c]}
                onChange={(e) => {
                  setDraft({ ...draft, [c]: e.target.value });
                }}
              />
            </div>
          ))}
        </div>
      </fieldset>
      <div role="status" aria-live="polite" className={notice === null ? "visually-hidden" : notice.ok ? "notice" : "alert"}>
        {notice?.text}
      </div>
      <button type="submit" className="primary">
        {a("retention.save")}
      </button>
    </form>
  );
}
