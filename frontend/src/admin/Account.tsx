// The member's own account: their password (the current one needed; every
// other session ends, this one goes on with the new token) and their
// two-factor sign-in (set up with the password, the QR code and one code;
// turned off with the password).

import { Code, ConnectError } from "@connectrpc/connect";
import { type SyntheticEvent, useCallback, useId, useState } from "react";

import { BadRequestSchema } from "../gen/google/rpc/error_details_pb";
import { auth } from "./client";
import { claimsOf, sessions, useSession } from "./session";
import { useTeam } from "./team";
import { useAdminText } from "./texts";
import { Enrolment, Field, fieldErrors, RecoveryCodes } from "./TwoFactor";

function TwoFactorSettings() {
  const { a } = useAdminText();
  const id = useId();
  const { token } = useSession();
  const { members, reload } = useTeam();
  const me = members.find((m) => m.email === claimsOf(token)?.email);
  const on = me?.twoFactorEnabled ?? false;
  const [password, setPassword] = useState("");
  const [stage, setStage] = useState<{ kind: "idle" } | { kind: "enrol"; password: string } | { kind: "codes"; codes: string[] }>({ kind: "idle" });
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>(undefined);
  const restart = useCallback((why: string) => {
    setStage({ kind: "idle" });
    setError(why);
  }, []);

  async function turnOff() {
    setMessage(null);
    setError(undefined);
    try {
      await auth.disableTwoFactor({ currentPassword: password });
      setPassword("");
      setMessage(a("twoFactor.turnedOff"));
      reload();
    } catch (caught) {
      const failure = ConnectError.from(caught);
      const fields = failure.code === Code.InvalidArgument ? fieldErrors(failure) : {};
      if (failure.code !== Code.Unauthenticated) setError(fields.current_password ?? failure.rawMessage);
    }
  }

  if (stage.kind === "enrol")
    return (
      <Enrolment
        ticket=""
        currentPassword={stage.password}
        onRestart={restart}
        onEnrolled={(codes) => {
          setStage({ kind: "codes", codes });
        }}
      />
    );
  if (stage.kind === "codes")
    return (
      <RecoveryCodes
        codes={stage.codes}
        onDone={() => {
          setStage({ kind: "idle" });
          setMessage(a("twoFactor.turnedOn"));
          reload();
        }}
      />
    );
  return (
    <form
      className="card"
      aria-labelledby={`${id}-title`}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (on) void turnOff();
        else {
          setMessage(null);
          setError(undefined);
          setStage({ kind: "enrol", password });
          setPassword("");
        }
      }}
    >
      <h2 id={`${id}-title`}>{a("twoFactor.settings")}</h2>
      <p className="hint">{on ? a("twoFactor.isOn") : a("twoFactor.isOff")}</p>
      <div role="status" aria-live="polite" className={message !== null ? "alert" : "visually-hidden"}>
        {message}
      </div>
      <Field id={`${id}-password`} label={a("account.current")} error={error} value={password} set={setPassword} type="password" autoComplete="current-password" />
      <button type="submit" className={on ? "danger" : "primary"}>
        {on ? a("twoFactor.turnOff") : a("twoFactor.setUp")}
      </button>
    </form>
  );
}

export function Account() {
  const { a } = useAdminText();
  const id = useId();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [state, setState] = useState<"idle" | "saving">("idle");
  const [message, setMessage] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});

  async function onSubmit(event: SyntheticEvent<HTMLFormElement>) {
    event.preventDefault();
    setState("saving");
    setMessage(null);
    setErrors({});
    try {
      const answer = await auth.changePassword({ currentPassword: current, newPassword: next });
      sessions.signIn(answer.token);
      setCurrent("");
      setNext("");
      setMessage(a("account.changed"));
    } catch (caught) {
      const error = ConnectError.from(caught);
      if (error.code === Code.InvalidArgument) {
        const fields: Record<string, string> = {};
        for (const v of error.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations)) fields[v.field] = v.description;
        setErrors(fields);
      } else if (error.code !== Code.Unauthenticated) setMessage(a("account.failed", { detail: error.rawMessage }));
    } finally {
      setState("idle");
    }
  }

  const field = (name: "current_password" | "new_password", label: string, value: string, set: (v: string) => void) => (
    <div className="field">
      <label htmlFor={`${id}-${name}`}>{label}</label>
      <input
        id={`${id}-${name}`}
        type="password"
        autoComplete={name === "new_password" ? "new-password" : "current-password"}
        value={value}
        aria-invalid={errors[name] !== undefined}
        aria-describedby={errors[name] !== undefined ? `${id}-${name}-error` : undefined}
        onChange={(e) => {
          set(e.target.value);
        }}
      />
      {errors[name] !== undefined ? (
        <p id={`${id}-${name}-error`} className="error">
          {errors[name]}
        </p>
      ) : null}
    </div>
  );

  return (
    <div className="page account">
      <form className="card" onSubmit={(e) => void onSubmit(e)} aria-labelledby={`${id}-title`} noValidate>
        <h2 id={`${id}-title`}>{a("account.password")}</h2>
        <p className="hint">{a("account.hint")}</p>
        <div role="status" aria-live="polite" className={message !== null ? "alert" : "visually-hidden"}>
          {message}
        </div>
        {field("current_password", a("account.current"), current, setCurrent)}
        {field("new_password", a("account.new"), next, setNext)}
        <button type="submit" className="primary" disabled={state === "saving"}>
          {a("account.save")}
        </button>
      </form>
      <TwoFactorSettings />
    </div>
  );
}
