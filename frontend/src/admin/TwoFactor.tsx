// Two-factor sign-in in the web app: the code asked after the password,
// the enrolment (QR code and secret, confirmed by one code) and the
// recovery codes shown once. The same pieces serve the sign-in (with the
// ticket the password step gave) and the account page (signed in).

import { Code, ConnectError } from "@connectrpc/connect";
import { type SyntheticEvent, useEffect, useId, useRef, useState } from "react";

import type { TwoFactorEnrolment } from "../gen/astro/v1/auth_pb";
import { BadRequestSchema } from "../gen/google/rpc/error_details_pb";
import { auth } from "./client";
import { sessions } from "./session";
import { useAdminText } from "./texts";

/// The field errors of an INVALID_ARGUMENT answer, by field.
export function fieldErrors(error: ConnectError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const v of error.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations)) fields[v.field] = v.description;
  return fields;
}

/// One labelled input with its optional hint and its error, described by both.
export function Field({
  id,
  label,
  hint,
  error,
  value,
  set,
  type = "text",
  autoComplete,
  focus = false,
}: {
  id: string;
  label: string;
  hint?: string;
  error: string | undefined;
  value: string;
  set: (v: string) => void;
  type?: "text" | "email" | "password";
  autoComplete: string;
  focus?: boolean;
}) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (focus) ref.current?.focus();
  }, [focus]);
  const described = [hint !== undefined ? `${id}-hint` : "", error !== undefined ? `${id}-error` : ""].filter((d) => d !== "").join(" ");
  const code = autoComplete === "one-time-code";
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint !== undefined ? (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      ) : null}
      <input
        ref={ref}
        id={id}
        type={type}
        autoComplete={autoComplete}
        spellCheck={code ? false : undefined}
        autoCapitalize={code ? "off" : undefined}
        maxLength={code ? 64 : undefined}
        value={value}
        aria-invalid={error !== undefined}
        aria-describedby={described === "" ? undefined : described}
        onChange={(e) => {
          set(e.target.value);
        }}
      />
      {error !== undefined ? (
        <p id={`${id}-error`} className="error">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/// After the password: a code of the app or a recovery code, then the token.
export function SecondStepForm({ ticket, onRestart }: { ticket: string; onRestart: (message: string) => void }) {
  const { a } = useAdminText();
  const id = useId();
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  async function onSubmit(event: SyntheticEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      const answer = await auth.completeSignIn({ ticket, code });
      sessions.signIn(answer.token);
    } catch (caught) {
      const failure = ConnectError.from(caught);
      if (failure.code === Code.InvalidArgument && fieldErrors(failure).code !== undefined) setError(a("twoFactor.wrongCode"));
      else if (failure.code === Code.FailedPrecondition || failure.code === Code.InvalidArgument) onRestart(a("twoFactor.again"));
      else setError(a("signIn.failed"));
      setBusy(false);
    }
  }

  return (
    <form className="card sign-in" onSubmit={(e) => void onSubmit(e)} aria-labelledby={`${id}-title`} noValidate>
      <h1 id={`${id}-title`}>{a("twoFactor.title")}</h1>
      <Field id={`${id}-code`} label={a("twoFactor.code")} hint={a("twoFactor.codeHint")} error={error} value={code} set={setCode} autoComplete="one-time-code" focus />
      <button type="submit" className="primary" disabled={busy} aria-busy={busy}>
        {a("twoFactor.verify")}
      </button>
    </form>
  );
}

/// The recovery codes, shown once.
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const { a } = useAdminText();
  const id = useId();
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <section className="card recovery" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} ref={ref} tabIndex={-1}>
        {a("twoFactor.codesTitle")}
      </h2>
      <p>{a("twoFactor.codesHint")}</p>
      <ul className="recovery-codes" aria-label={a("twoFactor.codesTitle")}>
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <button type="button" className="primary" onClick={onDone}>
        {a("twoFactor.codesSaved")}
      </button>
    </section>
  );
}

/// Enrolment: the QR code and the secret, then one code confirms. `ticket`
/// when enrolling at sign-in; else signed in, with `currentPassword`.
export function Enrolment({
  ticket,
  currentPassword,
  onEnrolled,
  onRestart,
}: {
  ticket: string;
  currentPassword: string;
  onEnrolled: (codes: string[], token: string | null) => void;
  onRestart: (message: string) => void;
}) {
  const { a } = useAdminText();
  const id = useId();
  const [shown, setShown] = useState<TwoFactorEnrolment | null>(null);
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    auth.startTwoFactorEnrolment({ ticket, currentPassword }).then(setShown, (caught: unknown) => {
      const failure = ConnectError.from(caught);
      const fields = failure.code === Code.InvalidArgument ? fieldErrors(failure) : {};
      onRestart(fields.current_password ?? (failure.code === Code.FailedPrecondition || fields.ticket !== undefined ? a("twoFactor.again") : failure.rawMessage));
    });
  }, [ticket, currentPassword, onRestart, a]);

  async function onSubmit(event: SyntheticEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      const answer = await auth.confirmTwoFactorEnrolment({ ticket, code });
      onEnrolled(answer.recoveryCodes, answer.signIn?.token ?? null);
    } catch (caught) {
      const failure = ConnectError.from(caught);
      if (failure.code === Code.InvalidArgument && fieldErrors(failure).code !== undefined) setError(a("twoFactor.wrongCode"));
      else onRestart(failure.code === Code.FailedPrecondition ? a("twoFactor.again") : failure.rawMessage);
      setBusy(false);
    }
  }

  if (shown === null) return <p role="status">{a("twoFactor.preparing")}</p>;
  const qr = `data:image/svg+xml;base64,${btoa(shown.qrCodeSvg)}`;
  return (
    <form className="card enrolment" onSubmit={(e) => void onSubmit(e)} aria-labelledby={`${id}-title`} noValidate>
      <h2 id={`${id}-title`}>{a("twoFactor.enrolTitle")}</h2>
      <p>{a("twoFactor.enrolHint")}</p>
      <img className="qr" src={qr} width={200} height={200} alt={a("twoFactor.qrAlt")} />
      <p>
        {a("twoFactor.secret")} <code data-secret>{shown.secret}</code>
      </p>
      <Field id={`${id}-code`} label={a("twoFactor.code")} hint={a("twoFactor.enrolCodeHint")} error={error} value={code} set={setCode} autoComplete="one-time-code" focus />
      <button type="submit" className="primary" disabled={busy} aria-busy={busy}>
        {a("twoFactor.confirm")}
      </button>
    </form>
  );
}
