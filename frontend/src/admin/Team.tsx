// The team page, for admins: every member with their role and state; a
// role changed, a member deactivated, reactivated or removed takes effect at
// once (their sessions end). Each change carries the version last read, so
// two admins never silently overwrite each other.

import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useId, useState } from "react";

import { Role } from "../gen/astro/access/v1/options_pb";
import {
  type Invitation,
  type Member,
  MemberState,
  type SecurityEvent,
  SecurityEventKind,
  type TeamSettings,
} from "../gen/astro/v1/member_pb";
import { BadRequestSchema } from "../gen/google/rpc/error_details_pb";
import { members as memberClient } from "./client";
import { SpeedToLead } from "./SpeedToLead";
import { useTeam } from "./team";
import { useAdminText } from "./texts";

const ROLES = [Role.ADMIN, Role.SALES, Role.VIEWER, Role.SERVICE] as const;
const KINDS = {
  [SecurityEventKind.UNSPECIFIED]: "log.UNSPECIFIED",
  [SecurityEventKind.SIGNED_IN]: "log.SIGNED_IN",
  [SecurityEventKind.SIGN_IN_FAILED]: "log.SIGN_IN_FAILED",
  [SecurityEventKind.SIGNED_OUT_EVERYWHERE]: "log.SIGNED_OUT_EVERYWHERE",
  [SecurityEventKind.MEMBER_ADDED]: "log.MEMBER_ADDED",
  [SecurityEventKind.MEMBER_CHANGED]: "log.MEMBER_CHANGED",
  [SecurityEventKind.MEMBER_REMOVED]: "log.MEMBER_REMOVED",
  [SecurityEventKind.PASSWORD_RESET]: "log.PASSWORD_RESET",
  [SecurityEventKind.SETTINGS_CHANGED]: "log.SETTINGS_CHANGED",
  [SecurityEventKind.PASSWORD_CHANGED]: "log.PASSWORD_CHANGED",
  [SecurityEventKind.INVITATION_SENT]: "log.INVITATION_SENT",
  [SecurityEventKind.INVITATION_REVOKED]: "log.INVITATION_REVOKED",
  [SecurityEventKind.INVITATION_ACCEPTED]: "log.INVITATION_ACCEPTED",
  [SecurityEventKind.TWO_FACTOR_ENABLED]: "log.TWO_FACTOR_ENABLED",
  [SecurityEventKind.TWO_FACTOR_DISABLED]: "log.TWO_FACTOR_DISABLED",
  [SecurityEventKind.RECOVERY_CODE_USED]: "log.RECOVERY_CODE_USED",
  [SecurityEventKind.PASSWORD_RESET_REQUESTED]: "log.PASSWORD_RESET_REQUESTED",
} as const;
/// A role's claim, as an invitation stores it: the enum value's name, lower-cased.
const roleClaim = (r: Role) => Role[r].toLowerCase();

const ROLE_KEYS = { [Role.ADMIN]: "role.ADMIN", [Role.SALES]: "role.SALES", [Role.VIEWER]: "role.VIEWER", [Role.SERVICE]: "role.SERVICE" } as const;

export function Team() {
  const { a, lang } = useAdminText();
  const when = (e: SecurityEvent) =>
    e.at === undefined ? "" : new Date(Number(e.at.seconds) * 1000).toLocaleString(lang === "fr" ? "fr-FR" : "en-GB");
  const { members, reload } = useTeam();
  const headingId = useId();
  const [message, setMessage] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [settings, setSettings] = useState<TeamSettings | null>(null);

  useEffect(() => {
    const stop = new AbortController();
    memberClient.getTeamSettings({}, { signal: stop.signal }).then(setSettings, () => undefined);
    return () => {
      stop.abort();
    };
  }, []);

  const [log, setLog] = useState<{ events: SecurityEvent[]; next: string }>({ events: [], next: "" });
  const [logGeneration, setLogGeneration] = useState(0);
  useEffect(() => {
    const stop = new AbortController();
    memberClient.listSecurityEvents({ pageSize: 50 }, { signal: stop.signal }).then(
      (page) => {
        setLog({ events: page.events, next: page.nextPageToken });
      },
      () => undefined,
    );
    return () => {
      stop.abort();
    };
  }, [logGeneration, members]);

  async function moreLog() {
    const page = await memberClient.listSecurityEvents({ pageSize: 50, pageToken: log.next });
    setLog((l) => ({ events: [...l.events, ...page.events], next: page.nextPageToken }));
  }

  const [invitations, setInvitations] = useState<Invitation[]>([]);
  const [invite, setInvite] = useState({ email: "", role: Role.SALES, name: "" });
  const [link, setLink] = useState<{ email: string; link: string } | null>(null);
  const [inviteErrors, setInviteErrors] = useState<Record<string, string>>({});
  useEffect(() => {
    const stop = new AbortController();
    memberClient.listInvitations({}, { signal: stop.signal }).then(
      (page) => {
        setInvitations(page.invitations);
      },
      () => undefined,
    );
    return () => {
      stop.abort();
    };
  }, [logGeneration, members]);

  async function sendInvite() {
    setMessage(null);
    setInviteErrors({});
    try {
      const sent = await memberClient.inviteMember({ email: invite.email, role: invite.role, displayName: invite.name });
      if (sent.emailed) {
        setLink(null);
        setMessage(a("invite.emailed", { email: sent.invitation?.email ?? invite.email }));
      } else setLink({ email: sent.invitation?.email ?? invite.email, link: sent.link });
      setInvite({ email: "", role: Role.SALES, name: "" });
    } catch (caught) {
      const error = ConnectError.from(caught);
      const fields: Record<string, string> = {};
      for (const v of error.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations)) fields[v.field] = v.description;
      setInviteErrors(fields);
      if (error.code !== Code.InvalidArgument && error.code !== Code.Unauthenticated) setMessage(a("team.failed", { detail: error.rawMessage }));
    }
    setLogGeneration((g) => g + 1);
  }

  async function revoke(invitation: Invitation) {
    try {
      await memberClient.revokeInvitation({ id: invitation.id });
    } catch (caught) {
      setMessage(a("team.failed", { detail: ConnectError.from(caught).rawMessage }));
    }
    setLogGeneration((g) => g + 1);
  }

  async function setSetting(field: "autoAssign" | "requireTwoFactor", on: boolean) {
    if (settings === null) return;
    setMessage(null);
    // Shown at once; put back as stored if the change is refused.
    setSettings({ ...settings, [field]: on });
    const path = field === "autoAssign" ? "auto_assign" : "require_two_factor";
    try {
      setSettings(await memberClient.updateTeamSettings({ settings: { ...settings, [field]: on }, updateMask: { paths: [path] } }));
    } catch (caught) {
      const error = ConnectError.from(caught);
      if (error.code !== Code.Unauthenticated) setMessage(a("team.failed", { detail: error.rawMessage }));
      setSettings(await memberClient.getTeamSettings({}));
    }
    setLogGeneration((g) => g + 1);
  }

  const label = (m: Member) => (m.displayName !== "" ? m.displayName : m.email);

  async function change(member: Member, patch: Partial<Member>, paths: string[]) {
    setMessage(null);
    try {
      await memberClient.updateMember({ member: { ...member, ...patch }, updateMask: { paths } });
      setMessage(a("team.saved", { name: label(member) }));
    } catch (caught) {
      explain(ConnectError.from(caught), member);
    }
    reload();
  }

  async function resetTwoFactor(member: Member) {
    setMessage(null);
    try {
      await memberClient.resetTwoFactor({ email: member.email });
      setMessage(a("team.twoFactorReset", { name: label(member) }));
    } catch (caught) {
      explain(ConnectError.from(caught), member);
    }
    reload();
  }

  async function remove(member: Member) {
    setConfirming(null);
    setMessage(null);
    try {
      await memberClient.deleteMember({ email: member.email, version: member.version });
      setMessage(a("team.removed", { name: label(member) }));
    } catch (caught) {
      explain(ConnectError.from(caught), member);
    }
    reload();
  }

  function explain(error: ConnectError, member: Member) {
    if (error.code === Code.FailedPrecondition) setMessage(a("team.lastAdmin", { name: label(member) }));
    else if (error.code === Code.Aborted) setMessage(a("team.conflict", { name: label(member) }));
    else if (error.code !== Code.Unauthenticated) setMessage(a("team.failed", { detail: error.rawMessage }));
  }

  return (
    <section className="team page" aria-labelledby={headingId}>
      <h2 id={headingId}>{a("team.title")}</h2>
      <div role="status" aria-live="polite" className={message !== null ? "alert" : "visually-hidden"}>
        {message}
      </div>
      <form
        className="invite"
        aria-labelledby={`${headingId}-invite`}
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void sendInvite();
        }}
      >
        <h3 id={`${headingId}-invite`}>{a("invite.title")}</h3>
        <div className="row">
          <div className="field">
            <label htmlFor={`${headingId}-invite-email`}>{a("invite.email")}</label>
            <input
              id={`${headingId}-invite-email`}
              type="email"
              value={invite.email}
              aria-invalid={inviteErrors.email !== undefined}
              aria-describedby={inviteErrors.email !== undefined ? `${headingId}-invite-email-error` : undefined}
              onChange={(e) => {
                setInvite({ ...invite, email: e.target.value });
              }}
            />
            {inviteErrors.email !== undefined ? (
              <p id={`${headingId}-invite-email-error`} className="error">
                {inviteErrors.email}
              </p>
            ) : null}
          </div>
          <div className="field">
            <label htmlFor={`${headingId}-invite-role`}>{a("invite.role")}</label>
            <select
              id={`${headingId}-invite-role`}
              value={invite.role}
              onChange={(e) => {
                const role = ROLES.find((r) => String(r) === e.target.value);
                if (role !== undefined) setInvite({ ...invite, role });
              }}
            >
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {a(ROLE_KEYS[r])}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${headingId}-invite-name`}>{a("invite.name")}</label>
            <input
              id={`${headingId}-invite-name`}
              value={invite.name}
              maxLength={100}
              onChange={(e) => {
                setInvite({ ...invite, name: e.target.value });
              }}
            />
          </div>
        </div>
        <button type="submit" className="secondary">
          {a("invite.submit")}
        </button>
        {link !== null ? (
          <div className="field">
            <label htmlFor={`${headingId}-link`}>{a("invite.link", { email: link.email })}</label>
            <input
              id={`${headingId}-link`}
              readOnly
              value={link.link}
              onFocus={(e) => {
                e.target.select();
              }}
            />
          </div>
        ) : null}
        {invitations.length > 0 ? (
          <>
            <h4>{a("invite.pending")}</h4>
            <ul className="invitations">
              {invitations.map((i) => (
                <li key={i.id}>
                  {i.email} · {a(ROLE_KEYS[ROLES.find((r) => roleClaim(r) === i.role) ?? Role.SALES])} ·{" "}
                  {a("invite.expires", { date: i.expiresAt === undefined ? "" : new Date(Number(i.expiresAt.seconds) * 1000).toLocaleDateString(lang === "fr" ? "fr-FR" : "en-GB") })}{" "}
                  <button type="button" className="link" onClick={() => void revoke(i)}>
                    {a("invite.revoke", { email: i.email })}
                  </button>
                </li>
              ))}
            </ul>
          </>
        ) : null}
      </form>
      <fieldset className="team-settings plain">
        <legend>{a("team.settings")}</legend>
        <label>
          <input
            type="checkbox"
            checked={settings?.autoAssign ?? false}
            disabled={settings === null}
            onChange={(e) => void setSetting("autoAssign", e.target.checked)}
          />
          {a("team.autoAssign")}
        </label>
        <label>
          <input
            type="checkbox"
            checked={settings?.requireTwoFactor ?? false}
            disabled={settings === null}
            onChange={(e) => void setSetting("requireTwoFactor", e.target.checked)}
          />
          {a("team.requireTwoFactor")}
        </label>
      </fieldset>
      {settings !== null ? <SpeedToLead settings={settings} onSaved={setSettings} /> : null}
      <table>
        <thead>
          <tr>
            <th scope="col">{a("team.name")}</th>
            <th scope="col">{a("team.email")}</th>
            <th scope="col">{a("team.role")}</th>
            <th scope="col">{a("team.state")}</th>
            <th scope="col">{a("team.actions")}</th>
          </tr>
        </thead>
        <tbody>
          {members.map((m) => (
            <tr key={m.email} data-member={m.email}>
              <th scope="row">{label(m)}</th>
              <td>{m.email}</td>
              <td>
                <select
                  aria-label={a("team.roleOf", { name: label(m) })}
                  value={m.role}
                  onChange={(e) => {
                    const role = ROLES.find((r) => String(r) === e.target.value);
                    if (role !== undefined) void change(m, { role }, ["role"]);
                  }}
                >
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {a(ROLE_KEYS[r])}
                    </option>
                  ))}
                </select>
              </td>
              <td>
                {m.state === MemberState.DEACTIVATED ? a("team.deactivated") : a("team.active")}
                {m.away ? ` · ${a("team.away")}` : ""}
                {m.twoFactorEnabled ? ` · ${a("team.twoFactor")}` : ""}
              </td>
              <td className="actions">
                {m.state === MemberState.DEACTIVATED ? (
                  <button type="button" className="secondary" onClick={() => void change(m, { state: MemberState.ACTIVE }, ["state"])}>
                    {a("team.reactivate", { name: label(m) })}
                  </button>
                ) : (
                  <button type="button" className="secondary" onClick={() => void change(m, { state: MemberState.DEACTIVATED }, ["state"])}>
                    {a("team.deactivate", { name: label(m) })}
                  </button>
                )}{" "}
                <button type="button" className="secondary" onClick={() => void change(m, { away: !m.away }, ["away"])}>
                  {m.away ? a("team.setBack", { name: label(m) }) : a("team.setAway", { name: label(m) })}
                </button>{" "}
                {m.twoFactorEnabled ? (
                  <>
                    <button type="button" className="secondary" onClick={() => void resetTwoFactor(m)}>
                      {a("team.resetTwoFactor", { name: label(m) })}
                    </button>{" "}
                  </>
                ) : null}
                {confirming === m.email ? (
                  <span role="group" aria-label={a("team.confirmRemove", { name: label(m) })}>
                    {a("team.confirmRemove", { name: label(m) })}{" "}
                    <button type="button" className="danger" onClick={() => void remove(m)}>
                      {a("drawer.confirmYes")}
                    </button>{" "}
                    <button
                      type="button"
                      className="secondary"
                      onClick={() => {
                        setConfirming(null);
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
                      setConfirming(m.email);
                    }}
                  >
                    {a("team.remove", { name: label(m) })}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <section aria-labelledby={`${headingId}-log`} className="security-log">
        <h3 id={`${headingId}-log`}>{a("log.title")}</h3>
        <table>
          <thead>
            <tr>
              <th scope="col">{a("log.when")}</th>
              <th scope="col">{a("log.what")}</th>
              <th scope="col">{a("log.who")}</th>
              <th scope="col">{a("log.subject")}</th>
              <th scope="col">{a("log.detail")}</th>
            </tr>
          </thead>
          <tbody>
            {log.events.map((e) => (
              <tr key={e.id}>
                <td>
                  <time dateTime={e.at === undefined ? undefined : new Date(Number(e.at.seconds) * 1000).toISOString()}>{when(e)}</time>
                </td>
                <td>{a(KINDS[e.kind])}</td>
                <td>{e.actor}</td>
                <td>{e.subject}</td>
                <td>{[e.detail, e.clientAddress].filter((t) => t !== "").join(" · ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {log.next !== "" ? (
          <button type="button" className="secondary" onClick={() => void moreLog()}>
            {a("log.more")}
          </button>
        ) : null}
      </section>
    </section>
  );
}
