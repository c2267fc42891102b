// A card's fit and answers at a glance: its grade as text and shape (never
// colour alone), its budget and timeline in short, its age in its column;
// and in the drawer, why it scores what it does.

import { createContext, useContext, useEffect, useState } from "react";

import { BUDGETS, TIMELINES } from "../api/rest";
import type { TeamSettings } from "../gen/astro/v1/member_pb";
import { FitGrade, FitRule, type Prospect, ProspectStatus, Budget, Timeline } from "../gen/astro/v1/prospect_pb";
import { useAdminText } from "./texts";

export const BUDGET_VALUES: Record<(typeof BUDGETS)[number], Budget> = {
  under_5k: Budget.BUDGET_UNDER_5K,
  "5k_to_20k": Budget.BUDGET_5K_TO_20K,
  "20k_to_50k": Budget.BUDGET_20K_TO_50K,
  over_50k: Budget.BUDGET_OVER_50K,
};
export const TIMELINE_VALUES: Record<(typeof TIMELINES)[number], Timeline> = {
  immediate: Timeline.IMMEDIATE,
  within_3_months: Timeline.WITHIN_3_MONTHS,
  within_6_months: Timeline.WITHIN_6_MONTHS,
  later: Timeline.LATER,
};

export const GRADES = { [FitGrade.HOT]: "HOT", [FitGrade.WARM]: "WARM", [FitGrade.COLD]: "COLD" } as const;
/// A shape per grade, beside its name: filled triangle up, filled circle,
/// hollow triangle down.
const SHAPES = { HOT: "▲", WARM: "●", COLD: "▽" } as const;

export function gradeOf(card: Prospect): "HOT" | "WARM" | "COLD" | null {
  const grade = card.fit?.grade;
  return grade === FitGrade.HOT || grade === FitGrade.WARM || grade === FitGrade.COLD ? GRADES[grade] : null;
}

export function GradeBadge({ card }: { card: Prospect }) {
  const { a } = useAdminText();
  const grade = gradeOf(card);
  if (grade === null || card.fit === undefined) return null;
  const name = a(`grade.${grade}`);
  return (
    <span className={`grade grade-${grade.toLowerCase()}`} title={a("grade.label", { grade: name, score: card.fit.score })}>
      <span aria-hidden="true">{SHAPES[grade]}</span> {name} <span className="score">{card.fit.score}</span>
    </span>
  );
}

/// "50 k€ + · Now": the answers that weigh most, in short.
export function ShortAnswers({ card }: { card: Prospect }) {
  const { a } = useAdminText();
  const budget = BUDGETS.find((b) => BUDGET_VALUES[b] === card.budget);
  const timeline = TIMELINES.find((t) => TIMELINE_VALUES[t] === card.timeline);
  const parts = [budget && a(`budget.short.${budget}`), timeline && a(`timeline.short.${timeline}`)].filter((p) => p !== undefined);
  return parts.length === 0 ? null : <span className="answers">{parts.join(" · ")}</span>;
}

/// The largest whole unit of `ms`: minutes, hours or days.
export function ageParts(ms: number): { value: number; unit: "minute" | "hour" | "day" } {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  if (minutes < 60) return { value: minutes, unit: "minute" };
  const hours = Math.floor(minutes / 60);
  return hours < 24 ? { value: hours, unit: "hour" } : { value: Math.floor(hours / 24), unit: "day" };
}

/// How long the card has been in its column: "3 d" on the card, "for 3 days
/// in this column" to screen readers.
export function Age({ card, now }: { card: Prospect; now: number }) {
  const { a, lang } = useAdminText();
  const since = card.statusChangedAt ?? card.createdAt;
  if (since === undefined) return null;
  const { value, unit } = ageParts(now - Number(since.seconds) * 1000);
  const short = new Intl.NumberFormat(lang, { style: "unit", unit, unitDisplay: "narrow" }).format(value);
  const long = new Intl.NumberFormat(lang, { style: "unit", unit, unitDisplay: "long" }).format(value);
  return (
    <span className="age">
      <span aria-hidden="true">{short}</span>
      <span className="visually-hidden">{a("card.age", { age: long })}</span>
    </span>
  );
}

const RULES = {
  [FitRule.BUDGET]: "BUDGET",
  [FitRule.TIMELINE]: "TIMELINE",
  [FitRule.JOB_TITLE]: "JOB_TITLE",
  [FitRule.BUSINESS_EMAIL]: "BUSINESS_EMAIL",
  [FitRule.PHONE]: "PHONE",
  [FitRule.MESSAGE]: "MESSAGE",
  [FitRule.ANSWER]: "ANSWER",
} as const;

/// An answer rule's question and choice, as the card's visitor saw them.
function answerPart(card: Prospect, questionId: string, choiceId: string): { group: string; matched: string } {
  const answer = card.answers.find((x) => x.questionId === questionId);
  if (answer === undefined) return { group: questionId, matched: choiceId };
  const at = answer.choices.indexOf(choiceId);
  return { group: answer.label, matched: at < 0 ? choiceId : (answer.choiceLabels[at] ?? choiceId) };
}

/// Each rule the card meets and its points, as a table.
export function FitWhy({ card, headingId }: { card: Prospect; headingId: string }) {
  const { a, lang } = useAdminText();
  const fit = card.fit;
  const grade = gradeOf(card);
  return (
    <section aria-labelledby={headingId} className="fit-why">
      <h3 id={headingId}>{a("fit.title")}</h3>
      {fit === undefined || grade === null ? (
        <p>{a("fit.none")}</p>
      ) : (
        <>
          <p>
            <GradeBadge card={card} /> {a("fit.total", { score: fit.score, grade: a(`grade.${grade}`) })}
          </p>
          {fit.parts.length === 0 ? (
            <p>{a("fit.nothing")}</p>
          ) : (
            <table>
              <tbody>
                {fit.parts.map((part, i) => {
                  const rule = part.rule in RULES ? RULES[part.rule as keyof typeof RULES] : null;
                  const { group, matched } = rule === "ANSWER" ? answerPart(card, part.group, part.matched) : part;
                  return (
                    <tr key={i}>
                      <th scope="row">
                        {rule === null ? "" : a(`fit.rule.${rule}`, { group })}
                        {matched !== "" && rule !== "BUDGET" && rule !== "TIMELINE" ? ` (${matched})` : ""}
                      </th>
                      <td>{new Intl.NumberFormat(lang, { signDisplay: "always" }).format(part.points)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
          <p className="meta">{a("fit.version", { version: String(fit.rulesVersion) })}</p>
        </>
      )}
    </section>
  );
}

/// The time the board's ages count to, moved on every minute: one clock for
/// every card (and no impure read of the time while rendering).
export const NowContext = createContext<number>(0);

export function useMinuteClock(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => {
      setNow(Date.now());
    }, 60_000);
    return () => {
      window.clearInterval(timer);
    };
  }, []);
  return now;
}

/// The team's settings, for what the cards show of them (deadlines).
export const SettingsContext = createContext<TeamSettings | null>(null);

const DAY_MS = 86_400_000;
const ms = (t: { seconds: bigint; nanos: number } | undefined) => (t === undefined ? undefined : Number(t.seconds) * 1000 + t.nanos / 1e6);

/// Whether the card waits past its first-contact deadline, and whether it
/// has sat in its column past the team's days for it (`days` then).
export function lateness(card: Prospect, settings: TeamSettings | null, now: number): { overdue: boolean; staleDays: number | null } {
  const due = ms(card.firstContactDue);
  const overdue = card.status === ProspectStatus.NEW && card.firstContactedAt === undefined && due !== undefined && due < now;
  const days = settings?.staleAfter.find((s) => s.status === card.status)?.days;
  const since = ms(card.statusChangedAt ?? card.createdAt);
  const stale = days !== undefined && days > 0 && since !== undefined && since + days * DAY_MS < now;
  return { overdue, staleDays: stale ? days : null };
}

/// "⚠ Overdue" / "⌛ Stalled" on a card: text and shape, explained in full.
export function LateMarks({ card, now }: { card: Prospect; now: number }) {
  const { a, lang } = useAdminText();
  const settings = useContext(SettingsContext);
  const { overdue, staleDays } = lateness(card, settings, now);
  const due = ms(card.firstContactDue);
  return (
    <>
      {overdue && due !== undefined ? (
        <span className="late overdue" title={a("card.overdueLabel", { date: new Date(due).toLocaleString(lang, { dateStyle: "short", timeStyle: "short" }) })}>
          <span aria-hidden="true">⚠</span> {a("card.overdue")}
        </span>
      ) : null}
      {staleDays !== null ? (
        <span className="late stale" title={a("card.staleLabel", { days: staleDays })}>
          <span aria-hidden="true">⌛</span> {a("card.stale")}
        </span>
      ) : null}
    </>
  );
}
