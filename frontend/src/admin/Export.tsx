// The board's export: what the board shows (its filters, or the search on
// screen) as a CSV file, streamed from ExportProspects and saved by the
// browser. The separator and the byte order mark suit the spreadsheet; the
// header row and the words follow the app's language.

import { ConnectError } from "@connectrpc/connect";
import { useId, useRef, useState } from "react";

import type { ListProspectsRequest } from "../gen/astro/v1/prospect_pb";
import { prospects } from "./client";
import { saveFile, today } from "./download";
import { useAdminText } from "./texts";

/// The listing an export reads, as the contract's filter.
export type ExportFilter = Partial<Pick<ListProspectsRequest, "owner" | "orderBy" | "grade" | "query" | "overdue" | "stale" | "form">>;

export function ExportButton({ filter }: { filter: ExportFilter }) {
  const { a, lang } = useAdminText();
  const id = useId();
  const [separator, setSeparator] = useState(lang === "fr" ? ";" : ",");
  const [bom, setBom] = useState(true);
  const [progress, setProgress] = useState<string>("");
  const [busy, setBusy] = useState(false);
  const stop = useRef<AbortController | null>(null);

  async function run() {
    stop.current?.abort();
    const controller = new AbortController();
    stop.current = controller;
    setBusy(true);
    setProgress(a("export.working", { count: 0 }));
    const parts: BlobPart[] = [];
    let rows = 0;
    try {
      const stream = prospects.exportProspects(
        { filter, separator, byteOrderMark: bom, language: lang },
        { signal: controller.signal },
      );
      for await (const chunk of stream) {
        parts.push(new Uint8Array(chunk.data));
        rows = Number(chunk.rows);
        setProgress(a("export.working", { count: rows }));
      }
      saveFile(parts, `prospects-${today()}.csv`, "text/csv;charset=utf-8");
      setProgress(a("export.done", { count: rows }));
    } catch (caught) {
      setProgress(a("export.failed", { detail: ConnectError.from(caught).rawMessage }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <details className="export">
      <summary>{a("export.open")}</summary>
      <div className="export-panel">
        <p className="hint">{a("export.what")}</p>
        <div className="field">
          <label htmlFor={`${id}-separator`}>{a("export.separator")}</label>
          <select
            id={`${id}-separator`}
            value={separator}
            onChange={(e) => {
              setSeparator(e.target.value);
            }}
          >
            <option value=";">{a("export.semicolon")}</option>
            <option value=",">{a("export.comma")}</option>
          </select>
        </div>
        <div className="check">
          <input
            id={`${id}-bom`}
            type="checkbox"
            checked={bom}
            onChange={(e) => {
              setBom(e.target.checked);
            }}
          />
          <label htmlFor={`${id}-bom`}>{a("export.bom")}</label>
        </div>
        <button type="button" disabled={busy} onClick={() => void run()}>
          {a("export.download")}
        </button>
        <p role="status" aria-live="polite" className="hint">
          {progress}
        </p>
      </div>
    </details>
  );
}
