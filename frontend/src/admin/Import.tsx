// Importing a spreadsheet, for admins: upload a CSV, check how its columns
// feed the card's fields (guessed from French or English headers), see its
// first rows with their errors, choose what happens to an address already
// on the board, run it and follow its progress, read the refused rows, and
// undo it. The file goes up in one gRPC-web call (at most 8 MB). Its own
// chunk.

import { Code, ConnectError } from "@connectrpc/connect";
import { useCallback, useEffect, useId, useState } from "react";

import {
  DuplicateMode,
  type Import as ImportJob,
  ImportRowOutcome,
  type ImportRow,
  ImportState,
} from "../gen/astro/v1/import_pb";
import { imports } from "./client";
import { useAdminText } from "./texts";

/// The fields a column can feed, as the contract names them.
const FIELDS = [
  "first_name",
  "last_name",
  "email",
  "phone",
  "company",
  "job_title",
  "message",
  "budget",
  "timeline",
  "status",
  "owner",
  "source.utm_source",
  "source.utm_medium",
  "source.utm_campaign",
  "source.referrer",
  "consent",
] as const;
const MAX_BYTES = 8 * 1024 * 1024;
const POLL_MS = 500;

const STATE_KEYS = {
  [ImportState.UNSPECIFIED]: "import.state.DRAFT",
  [ImportState.DRAFT]: "import.state.DRAFT",
  [ImportState.RUNNING]: "import.state.RUNNING",
  [ImportState.DONE]: "import.state.DONE",
  [ImportState.UNDOING]: "import.state.UNDOING",
  [ImportState.UNDONE]: "import.state.UNDONE",
} as const;

function working(job: ImportJob): boolean {
  return job.state === ImportState.RUNNING || job.state === ImportState.UNDOING;
}

export default function Import() {
  const { a, lang } = useAdminText();
  const id = useId();
  const [job, setJob] = useState<ImportJob | null>(null);
  const [past, setPast] = useState<ImportJob[]>([]);
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<ImportRow[] | null>(null);
  const [confirmUndo, setConfirmUndo] = useState(false);

  const failed = useCallback(
    (caught: unknown) => {
      const error = ConnectError.from(caught);
      setMessage(
        error.code === Code.Aborted ? a("import.stale") : a("import.failed", { detail: error.rawMessage }),
      );
    },
    [a],
  );
  const reloadPast = useCallback(() => {
    imports.listImports({ pageSize: 20 }).then(
      (page) => {
        setPast(page.imports.filter((i) => i.state !== ImportState.DRAFT));
      },
      () => undefined,
    );
  }, []);
  useEffect(reloadPast, [reloadPast]);

  // While it runs: its progress, every half second.
  const jobId = job?.id ?? "";
  const running = job !== null && working(job);
  useEffect(() => {
    if (!running) return;
    const timer = window.setInterval(() => {
      imports.getImport({ id: jobId }).then(
        (fresh) => {
          setJob(fresh);
          if (!working(fresh)) reloadPast();
        },
        () => undefined,
      );
    }, POLL_MS);
    return () => {
      window.clearInterval(timer);
    };
  }, [jobId, running, reloadPast]);

  async function upload(file: File) {
    setMessage("");
    setRefused(null);
    if (file.size > MAX_BYTES) {
      setMessage(a("import.tooBig", { size: (file.size / 1024 / 1024).toFixed(1) }));
      return;
    }
    setBusy(true);
    try {
      setJob(await imports.createImport({ fileName: file.name, content: new Uint8Array(await file.arrayBuffer()) }));
    } catch (caught) {
      failed(caught);
    } finally {
      setBusy(false);
    }
  }

  async function change(paths: string[], patch: Partial<Pick<ImportJob, "mapping" | "duplicates" | "consentConfirmed">>) {
    if (job === null) return;
    setMessage("");
    // Shown at once; the answer brings the preview under the new choice.
    setJob({ ...job, ...patch });
    try {
      setJob(await imports.updateImport({ import: { ...job, ...patch }, updateMask: { paths } }));
    } catch (caught) {
      setJob(job);
      failed(caught);
    }
  }

  async function start() {
    if (job === null) return;
    setMessage("");
    try {
      setJob(await imports.startImport({ id: job.id, version: job.version }));
    } catch (caught) {
      failed(caught);
    }
  }

  async function showRefused(of: ImportJob) {
    try {
      const page = await imports.listImportRows({ importId: of.id, outcome: ImportRowOutcome.INVALID, pageSize: 500 });
      setRefused(page.rows);
    } catch (caught) {
      failed(caught);
    }
  }

  async function undo(of: ImportJob) {
    setConfirmUndo(false);
    try {
      setJob(await imports.undoImport({ id: of.id, version: of.version }));
    } catch (caught) {
      failed(caught);
    }
  }

  const draft = job !== null && job.state === ImportState.DRAFT ? job : null;
  return (
    <section className="page import" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{a("import.title")}</h2>
      <p className="hint">{a("import.intro")}</p>
      <p>
        <label htmlFor={`${id}-file`}>{a("import.file")}</label>{" "}
        <input
          id={`${id}-file`}
          type="file"
          accept=".csv,text/csv"
          disabled={busy || running}
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (file !== undefined) void upload(file);
            e.target.value = "";
          }}
        />
      </p>
      <p role="status" aria-live="polite" className={message === "" ? "visually-hidden" : "alert"}>
        {message}
      </p>

      {draft === null ? null : (
        <>
          <h3>{a("import.draft", { name: draft.fileName, rows: Number(draft.rows) })}</h3>
          <table className="mapping">
            <caption>{a("import.mapping")}</caption>
            <thead>
              <tr>
                <th scope="col">{a("import.column")}</th>
                <th scope="col">{a("import.feeds")}</th>
              </tr>
            </thead>
            <tbody>
              {draft.headers.map((header, i) => (
                <tr key={`${String(i)}-${header}`}>
                  <th scope="row">
                    <label htmlFor={`${id}-map-${String(i)}`}>{header}</label>
                  </th>
                  <td>
                    <select
                      id={`${id}-map-${String(i)}`}
                      value={draft.mapping[i] ?? ""}
                      onChange={(e) => {
                        const mapping = draft.mapping.map((m, j) => (j === i ? e.target.value : m === e.target.value ? "" : m));
                        void change(["mapping"], { mapping });
                      }}
                    >
                      <option value="">{a("import.none")}</option>
                      {FIELDS.map((f) => (
                        <option key={f} value={f}>
                          {a(`import.field.${f}`)}
                        </option>
                      ))}
                    </select>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>

          <fieldset>
            <legend>{a("import.duplicates")}</legend>
            {(
              [
                [DuplicateMode.SKIP, "import.duplicates.SKIP"],
                [DuplicateMode.UPDATE, "import.duplicates.UPDATE"],
                [DuplicateMode.CREATE, "import.duplicates.CREATE"],
              ] as const
            ).map(([mode, label]) => (
              <label key={mode} className="choice">
                <input
                  type="radio"
                  name={`${id}-duplicates`}
                  checked={draft.duplicates === mode || (mode === DuplicateMode.SKIP && draft.duplicates === DuplicateMode.UNSPECIFIED)}
                  onChange={() => void change(["duplicates"], { duplicates: mode })}
                />{" "}
                {a(label)}
              </label>
            ))}
          </fieldset>
          <p>
            <label className="choice">
              <input
                type="checkbox"
                checked={draft.consentConfirmed}
                onChange={(e) => void change(["consent_confirmed"], { consentConfirmed: e.target.checked })}
              />{" "}
              {a("import.consent")}
            </label>
          </p>

          <table className="preview">
            <caption>{a("import.preview", { invalid: Number(draft.invalid), rows: Number(draft.rows) })}</caption>
            <thead>
              <tr>
                <th scope="col">{a("import.line")}</th>
                {draft.headers.map((h, i) => (
                  <th scope="col" key={`${String(i)}-${h}`}>
                    {h}
                  </th>
                ))}
                <th scope="col">{a("import.errors")}</th>
              </tr>
            </thead>
            <tbody>
              {draft.preview.map((row) => (
                <tr key={String(row.line)} className={row.errors.length > 0 ? "refused" : undefined}>
                  <th scope="row">{String(row.line)}</th>
                  {draft.headers.map((h, i) => (
                    <td key={`${String(i)}-${h}`}>{row.cells[i] ?? ""}</td>
                  ))}
                  <td>{row.errors.map((e) => `${e.column} : ${e.description}`).join(" · ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="actions">
            <button type="button" onClick={() => void start()}>
              {a("import.start", { rows: Number(draft.rows - draft.invalid) })}
            </button>
          </p>
        </>
      )}

      {job !== null && working(job) ? (
        <p>
          <label htmlFor={`${id}-progress`}>{a(STATE_KEYS[job.state])}</label>{" "}
          <progress
            id={`${id}-progress`}
            max={Number(job.rows)}
            value={Number(job.state === ImportState.UNDOING ? job.undoDone : job.done)}
          />{" "}
          {a("import.progress", {
            done: Number(job.state === ImportState.UNDOING ? job.undoDone : job.done),
            rows: Number(job.rows),
          })}
        </p>
      ) : null}

      <section aria-labelledby={`${id}-past`}>
        <h3 id={`${id}-past`}>{a("import.past")}</h3>
        {past.length === 0 ? (
          <p className="hint">{a("import.none.yet")}</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">{a("import.fileName")}</th>
                <th scope="col">{a("import.when")}</th>
                <th scope="col">{a("import.stateLabel")}</th>
                <th scope="col">{a("import.result")}</th>
                <th scope="col">{a("import.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {past.map((p) => (
                <tr key={p.id}>
                  <td>{p.fileName}</td>
                  <td>{p.createdAt === undefined ? "—" : new Date(Number(p.createdAt.seconds) * 1000).toLocaleString(lang)}</td>
                  <td>{a(STATE_KEYS[p.state])}</td>
                  <td>
                    {p.state === ImportState.UNDONE
                      ? a("import.undoneCounts", { removed: Number(p.removed), restored: Number(p.restored), kept: Number(p.kept) })
                      : a("import.counts", {
                          created: Number(p.created),
                          updated: Number(p.updated),
                          skipped: Number(p.skipped),
                          invalid: Number(p.invalid),
                        })}
                  </td>
                  <td>
                    {p.invalid > 0n ? (
                      <button type="button" className="link" onClick={() => void showRefused(p)}>
                        {a("import.showRefused")}
                      </button>
                    ) : null}{" "}
                    {p.state === ImportState.DONE ? (
                      confirmUndo ? (
                        <span role="alertdialog" aria-label={a("import.undoConfirm")}>
                          {a("import.undoConfirm")}{" "}
                          <button type="button" className="danger" onClick={() => void undo(p)}>
                            {a("import.undoYes")}
                          </button>{" "}
                          <button
                            type="button"
                            className="secondary"
                            onClick={() => {
                              setConfirmUndo(false);
                            }}
                          >
                            {a("drawer.confirmNo")}
                          </button>
                        </span>
                      ) : (
                        <button
                          type="button"
                          className="secondary"
                          onClick={() => {
                            setConfirmUndo(true);
                          }}
                        >
                          {a("import.undo")}
                        </button>
                      )
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      {refused === null ? null : (
        <table className="refused">
          <caption>{a("import.refused", { rows: refused.length })}</caption>
          <thead>
            <tr>
              <th scope="col">{a("import.line")}</th>
              <th scope="col">{a("import.column")}</th>
              <th scope="col">{a("import.why")}</th>
            </tr>
          </thead>
          <tbody>
            {refused.flatMap((row) =>
              row.errors.map((e, i) => (
                <tr key={`${row.row}-${String(i)}`}>
                  <td>{String(row.line)}</td>
                  <td>{e.column}</td>
                  <td>{e.description}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}
