// Speed to lead (admins, on the Team page): the first-contact deadline of
// new prospects, optionally in business hours (a time zone, opening hours,
// working days), and per column the days after which a card is stale.
// Saved from the settings' version (someone else's change is refused and
// reloaded); the service checks every bound and names the field.

import { Code, ConnectError } from "@connectrpc/connect";
import { useId, useState } from "react";

import type { TeamSettings } from "../gen/astro/v1/member_pb";
import { COLUMNS, STATUS, type ColumnKey } from "./board";
import { members as memberClient } from "./client";
import { useAdminText } from "./texts";

const DAYS = [1, 2, 3, 4, 5, 6, 7] as const;

const hhmm = (minute: number) => `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
const minuteOf = (text: string) => {
  const [h, m] = text.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
};

interface Draft {
  minutes: string;
  hoursOn: boolean;
  timeZone: string;
  start: string;
  end: string;
  days: number[];
  stale: Record<ColumnKey, string>;
}

function draftOf(s: TeamSettings): Draft {
  const hours = s.businessHours;
  const stale = Object.fromEntries(
    COLUMNS.map((c) => [c, String(s.staleAfter.find((x) => x.status === STATUS[c])?.days ?? "")]),
  ) as Record<ColumnKey, string>;
  return {
    minutes: String(s.firstContactMinutes),
    hoursOn: hours?.enabled ?? false,
    timeZone: hours?.timeZone !== undefined && hours.timeZone !== "" ? hours.timeZone : Intl.DateTimeFormat().resolvedOptions().timeZone,
    start: hhmm(hours?.startMinute ?? 9 * 60),
    end: hhmm(hours !== undefined && hours.endMinute > 0 ? hours.endMinute : 18 * 60),
    days: hours !== undefined && hours.workingDays.length > 0 ? [...hours.workingDays] : [1, 2, 3, 4, 5],
    stale,
  };
}

export function SpeedToLead(props: { settings: TeamSettings; onSaved: (s: TeamSettings) => void }) {
  const { a, lang } = useAdminText();
  const id = useId();
  const [draft, setDraft] = useState<Draft>(() => draftOf(props.settings));
  const [notice, setNotice] = useState<{ text: string; ok: boolean } | null>(null);
  const dayName = (d: number) => new Date(Date.UTC(2024, 0, d)).toLocaleDateString(lang, { weekday: "long", timeZone: "UTC" });

  async function save() {
    setNotice(null);
    const settings = {
      version: props.settings.version,
      firstContactMinutes: Math.trunc(Number(draft.minutes)) || 0,
      businessHours: {
        enabled: draft.hoursOn,
        timeZone: draft.timeZone.trim(),
        startMinute: minuteOf(draft.start),
        endMinute: minuteOf(draft.end),
        workingDays: draft.days,
      },
      staleAfter: COLUMNS.filter((c) => draft.stale[c].trim() !== "").map((c) => ({
        status: STATUS[c],
        days: Math.trunc(Number(draft.stale[c])) || 0,
      })),
    };
    try {
      const saved = await memberClient.updateTeamSettings({
        settings,
        updateMask: { paths: ["first_contact_minutes", "business_hours", "stale_after"] },
      });
      props.onSaved(saved);
      setDraft(draftOf(saved));
      setNotice({ text: a("speed.saved"), ok: true });
    } catch (caught) {
      const error = ConnectError.from(caught);
      if (error.code === Code.Aborted) {
        const fresh = await memberClient.getTeamSettings({});
        props.onSaved(fresh);
        setDraft(draftOf(fresh));
      }
      setNotice({ text: a("team.failed", { detail: error.rawMessage.replace(/^invalid request: /, "") }), ok: false });
    }
  }

  return (
    <form
      className="speed-to-lead"
      aria-labelledby={`${id}-title`}
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <h2 id={`${id}-title`}>{a("speed.title")}</h2>
      <p className="hint">{a("speed.intro")}</p>
      <div className="field">
        <label htmlFor={`${id}-minutes`}>{a("speed.minutes")}</label>
        <input
          id={`${id}-minutes`}
          type="number"
          min={0}
          max={43200}
          value={draft.minutes}
          onChange={(e) => {
            setDraft({ ...draft, minutes: e.target.value });
          }}
        />
      </div>
      <fieldset>
        <legend>{a("speed.hours")}</legend>
        <div className="check">
          <input
            id={`${id}-hours`}
            type="checkbox"
            checked={draft.hoursOn}
            onChange={(e) => {
              setDraft({ ...draft, hoursOn: e.target.checked });
            }}
          />
          <label htmlFor={`${id}-hours`}>{a("speed.hoursOn")}</label>
        </div>
        <div className="row">
          <div className="field">
            <label htmlFor={`${id}-tz`}>{a("speed.timeZone")}</label>
            <input
              id={`${id}-tz`}
              type="text"
              value={draft.timeZone}
              onChange={(e) => {
                setDraft({ ...draft, timeZone: e.target.value });
              }}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-start`}>{a("speed.start")}</label>
            <input
              id={`${id}-start`}
              type="time"
              value={draft.start}
              onChange={(e) => {
                setDraft({ ...draft, start: e.target.value });
              }}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-end`}>{a("speed.end")}</label>
            <input
              id={`${id}-end`}
              type="time"
              value={draft.end}
              onChange={(e) => {
                setDraft({ ...draft, end: e.target.value });
              }}
            />
          </div>
        </div>
        <fieldset className="days">
          <legend>{a("speed.days")}</legend>
          {DAYS.map((d) => (
            <label key={d} className="day">
              <input
                type="checkbox"
                checked={draft.days.includes(d)}
                onChange={(e) => {
                  const days = e.target.checked ? [...draft.days, d].sort() : draft.days.filter((x) => x !== d);
                  setDraft({ ...draft, days });
                }}
              />
              {dayName(d)}
            </label>
          ))}
        </fieldset>
      </fieldset>
      <fieldset>
        <legend>{a("speed.stale")}</legend>
        <div className="row">
          {COLUMNS.map((c) => (
            <div className="field" key={c}>
              <label htmlFor={`${id}-stale-${c}`}>{a("speed.staleColumn", { column: a(`status.${c}`) })}</label>
              <input
                id={`${id}-stale-${c}`}
                type="number"
                min={1}
                max={365}
                placeholder={a("speed.never")}
                value={draft.stale[c]}
                onChange={(e) => {
                  setDraft({ ...draft, stale: { ...draft.stale, [c]: e.target.value } });
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
        {a("speed.save")}
      </button>
    </form>
  );
}
