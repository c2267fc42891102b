// The pipeline's figures over a period of weeks (its own chunk, loaded when
// opened, with Chart.js): prospects per week, conversion from each column
// to the next and to Won, median time in each column, time to first
// contact (median and 90th percentile), and the same by UTM source and
// campaign. Every chart is drawn on a canvas described for screen readers,
// with its numbers as a table under it.

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  Legend,
  LinearScale,
  Tooltip,
} from "chart.js";
import { ConnectError } from "@connectrpc/connect";
import { useEffect, useId, useMemo, useRef, useState } from "react";

import { type PeriodFigures, type PipelineInsights } from "../gen/astro/v1/insights_pb";
import { COLUMNS, STATUS } from "./board";
import { insights as insightsClient } from "./client";
import { useAdminText } from "./texts";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

const ACCENT = "#1f3a5f";
const SECOND = "#b5651d";

/// The ISO week of a date ("2026-W48"), as `<input type="week">` writes it.
export function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() === 0 ? 7 : d.getUTCDay();
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = new Date(Date.UTC(d.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((d.getTime() - yearStart.getTime()) / 86_400_000 + 1) / 7);
  return `${String(d.getUTCFullYear())}-W${String(week).padStart(2, "0")}`;
}

/// A bar chart on a canvas, described by `label`; redrawn when its data changes.
function BarChart(props: { label: string; config: ChartConfiguration<"bar"> }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (canvas.current === null) return;
    const chart = new Chart(canvas.current, props.config);
    return () => {
      chart.destroy();
    };
  }, [props.config]);
  return (
    <div className="chart">
      <canvas ref={canvas} role="img" aria-label={props.label} />
    </div>
  );
}

function bars(labels: string[], sets: { label: string; data: number[]; color: string }[], unit = ""): ChartConfiguration<"bar"> {
  return {
    type: "bar",
    data: { labels, datasets: sets.map((s) => ({ label: s.label, data: s.data, backgroundColor: s.color })) },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: sets.length > 1 }, tooltip: { callbacks: { label: (c) => `${c.dataset.label ?? ""}: ${String(c.parsed.y)}${unit}` } } },
      scales: { y: { beginAtZero: true } },
    },
  };
}

export default function Insights() {
  const { a, lang } = useAdminText();
  const id = useId();
  const now = new Date();
  const [from, setFrom] = useState(() => isoWeek(new Date(now.getTime() - 11 * 7 * 86_400_000)));
  const [to, setTo] = useState(() => isoWeek(now));
  const [page, setPage] = useState<PipelineInsights | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const stop = new AbortController();
    insightsClient.getPipelineInsights({ fromWeek: from, toWeek: to }, { signal: stop.signal }).then(
      (p) => {
        setPage(p);
        setError(null);
      },
      (caught: unknown) => {
        if (!stop.signal.aborted) setError(ConnectError.from(caught).rawMessage);
      },
    );
    return () => {
      stop.abort();
    };
  }, [from, to]);

  const percent = (x: number) => new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 }).format(x);
  // A duration in its largest sensible unit: "12 min", "5.5 hr", "8 days".
  const hours = (seconds: bigint) => {
    const s = Number(seconds);
    const [value, unit] = s < 3600 ? [s / 60, "minute"] : s < 48 * 3600 ? [s / 3600, "hour"] : [s / 86_400, "day"];
    return new Intl.NumberFormat(lang, { style: "unit", unit, unitDisplay: "short", maximumFractionDigits: 1 }).format(value);
  };
  const count = (n: bigint) => new Intl.NumberFormat(lang).format(n);

  return (
    <section className="insights" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{a("insights.title")}</h2>
      <form className="period" onSubmit={(e) => { e.preventDefault(); }}>
        <div className="field">
          <label htmlFor={`${id}-from`}>{a("insights.from")}</label>
          <input id={`${id}-from`} type="week" value={from} onChange={(e) => { if (e.target.value !== "") setFrom(e.target.value); }} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-to`}>{a("insights.to")}</label>
          <input id={`${id}-to`} type="week" value={to} onChange={(e) => { if (e.target.value !== "") setTo(e.target.value); }} />
        </div>
      </form>
      <div role="status" aria-live="polite" className={error === null ? "visually-hidden" : "alert"}>
        {error}
      </div>
      {page === null || page.total === undefined ? null : <Figures page={page} total={page.total} percent={percent} hours={hours} count={count} />}
    </section>
  );
}

function Figures(props: {
  page: PipelineInsights;
  total: PeriodFigures;
  percent: (x: number) => string;
  hours: (s: bigint) => string;
  count: (n: bigint) => string;
}) {
  const { a, lang } = useAdminText();
  const { page, total, percent, hours, count } = props;
  const steps: [string, number][] = [
    [a("insights.newToContacted"), total.newToContacted],
    [a("insights.contactedToQualified"), total.contactedToQualified],
    [a("insights.qualifiedToWon"), total.qualifiedToWon],
    [a("insights.createdToWon"), total.createdToWon],
  ];
  const columnTimes = COLUMNS.map((c) => {
    const t = total.columnTimes.find((x) => x.status === STATUS[c]);
    return { column: a(`status.${c}`), median: t?.medianSeconds ?? 0n, stays: t?.stays ?? 0n };
  });
  // One chart configuration per answer (and language): a chart is drawn
  // again only when its figures change.
  const { weeks, conversion, columns, sources, campaigns } = useMemo(() => {
    const breakdown = (rows: PeriodFigures[]) =>
      bars(
        rows.map((r) => (r.key === "" ? a("insights.none") : r.key)),
        [
          { label: a("insights.created"), data: rows.map((r) => Number(r.created)), color: ACCENT },
          { label: a("insights.won"), data: rows.map((r) => Number(r.won)), color: SECOND },
        ],
      );
    return {
      weeks: bars(page.weeks.map((w) => w.week), [{ label: a("insights.created"), data: page.weeks.map((w) => Number(w.created)), color: ACCENT }]),
      conversion: bars(steps.map(([s]) => s), [{ label: a("insights.conversion"), data: steps.map(([, r]) => Math.round(r * 1000) / 10), color: ACCENT }], " %"),
      columns: bars(
        columnTimes.map((c) => c.column),
        [{ label: a("insights.medianHours"), data: columnTimes.map((c) => Number(c.median) / 3600), color: ACCENT }],
        " h",
      ),
      sources: breakdown(page.bySource),
      campaigns: breakdown(page.byCampaign),
    };
    // The texts follow the language: `lang` stands for `a`.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [page, lang]);

  return (
    <>
      <figure>
        <figcaption>{a("insights.perWeek")}</figcaption>
        <BarChart label={a("insights.perWeekLabel", { total: count(total.created) })} config={weeks} />
        <table>
          <thead>
            <tr>
              <th scope="col">{a("insights.week")}</th>
              <th scope="col">{a("insights.created")}</th>
            </tr>
          </thead>
          <tbody>
            {page.weeks.map((w) => (
              <tr key={w.week}>
                <th scope="row">{w.week}</th>
                <td>{count(w.created)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </figure>
      <figure>
        <figcaption>{a("insights.conversion")}</figcaption>
        <BarChart label={steps.map(([s, r]) => `${s}: ${percent(r)}`).join("; ")} config={conversion} />
        <table>
          <thead>
            <tr>
              <th scope="col">{a("insights.step")}</th>
              <th scope="col">{a("insights.rate")}</th>
            </tr>
          </thead>
          <tbody>
            {steps.map(([s, r]) => (
              <tr key={s}>
                <th scope="row">{s}</th>
                <td>{percent(r)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </figure>
      <figure>
        <figcaption>{a("insights.timeInColumn")}</figcaption>
        <BarChart label={columnTimes.map((c) => `${c.column}: ${hours(c.median)}`).join("; ")} config={columns} />
        <table>
          <thead>
            <tr>
              <th scope="col">{a("insights.column")}</th>
              <th scope="col">{a("insights.median")}</th>
              <th scope="col">{a("insights.stays")}</th>
            </tr>
          </thead>
          <tbody>
            {columnTimes.map((c) => (
              <tr key={c.column}>
                <th scope="row">{c.column}</th>
                <td>{hours(c.median)}</td>
                <td>{count(c.stays)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </figure>
      <section className="first-contact" aria-label={a("insights.firstContact")}>
        <h3>{a("insights.firstContact")}</h3>
        <table>
          <tbody>
            <tr>
              <th scope="row">{a("insights.median")}</th>
              <td>{hours(total.firstContactMedianSeconds)}</td>
            </tr>
            <tr>
              <th scope="row">{a("insights.p90")}</th>
              <td>{hours(total.firstContactP90Seconds)}</td>
            </tr>
            <tr>
              <th scope="row">{a("insights.contacted")}</th>
              <td>{count(total.firstContacted)}</td>
            </tr>
          </tbody>
        </table>
      </section>
      {(
        [
          ["insights.bySource", page.bySource, sources],
          ["insights.byCampaign", page.byCampaign, campaigns],
        ] as const
      ).map(([title, rows, config]) => (
        <figure key={title}>
          <figcaption>{a(title)}</figcaption>
          <BarChart label={rows.map((r) => `${r.key === "" ? a("insights.none") : r.key}: ${count(r.created)}, ${count(r.won)}`).join("; ")} config={config} />
          <table>
            <thead>
              <tr>
                <th scope="col">{a(title === "insights.bySource" ? "insights.source" : "insights.campaign")}</th>
                <th scope="col">{a("insights.created")}</th>
                <th scope="col">{a("insights.contacted")}</th>
                <th scope="col">{a("insights.won")}</th>
                <th scope="col">{a("insights.createdToWon")}</th>
                <th scope="col">{a("insights.median")}</th>
                <th scope="col">{a("insights.p90")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.key}>
                  <th scope="row">{r.key === "" ? a("insights.none") : r.key}</th>
                  <td>{count(r.created)}</td>
                  <td>{count(r.contacted)}</td>
                  <td>{count(r.won)}</td>
                  <td>{percent(r.createdToWon)}</td>
                  <td>{hours(r.firstContactMedianSeconds)}</td>
                  <td>{hours(r.firstContactP90Seconds)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </figure>
      ))}
    </>
  );
}
