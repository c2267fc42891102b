// "Forgot password": the request (an email, answered alike for any
// address) and the link's page (/admin/reset#<token>), where the member
// sets a new password and is signed in (or asked for their second factor).
// The token stays in the URL's fragment, which no server or log sees.

import { Code, ConnectError } from "@connectrpc/connect";
import { type SyntheticEvent, useCallback, useId, useState } from "react";

import { solveInWorker } from "../form/pow";
import { auth } from "./client";
import { sessions } from "./session";
import { captchaAsked } from "./SignIn";
import { useAdminText } from "./texts";
import { Field, SecondStepForm, fieldErrors } from "./TwoFactor";

export function resetToken(): string | null {
  if (!window.location.pathname.startsWith("/admin/reset")) return null;
  const token = window.location.hash.slice(1);
  return token === "" ? null : token;
}

/// Asks for a reset link.
export function ForgotPassword({ onBack }: { onBack: () => void }) {
  const { a } = useAdminText();
  const id = useId();
  const [email, setEmail] = useState("");
  const [state, setState] = useState<"idle" | "working" | "sent">("idle");
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>(undefined);

  async function ask(captchaToken: string, tries: number): Promise<void> {
    try {
      await auth.requestPasswordReset({ email, captchaToken });
      setState("sent");
      setMessage(a("forgot.sent"));
    } catch (caught) {
      const failure = ConnectError.from(caught);
      const asked = failure.code === Code.Unauthenticated ? captchaAsked(failure) : null;
      if (asked?.challenge != null && tries < 2) {
        setMessage(a("signIn.captcha"));
        await ask(await solveInWorker(asked.challenge), tries + 1);
        return;
      }
      setState("idle");
      const fields = failure.code === Code.InvalidArgument ? fieldErrors(failure) : {};
      if (fields.email !== undefined) setError(fields.email);
      else setMessage(a("signIn.failed"));
    }
  }

  function onSubmit(event: SyntheticEvent<HTMLFormElement>) {
    event.preventDefault();
    if (state === "working") return;
    setState("working");
    setMessage(null);
    setError(undefined);
    void ask("", 0);
  }

  return (
    <form className="card sign-in" onSubmit={onSubmit} aria-labelledby={`${id}-title`} noValidate>
      <h1 id={`${id}-title`}>{a("forgot.title")}</h1>
      <p className="hint">{a("forgot.intro")}</p>
      <div role="status" aria-live="polite" className={message !== null ? "alert" : "visually-hidden"}>
        {message}
      </div>
      {state === "sent" ? null : (
        <>
          <Field id={`${id}-email`} label={a("signIn.email")} error={error} value={email} set={setEmail} type="email" autoComplete="username" />
          <button type="submit" className="primary" disabled={state === "working"} aria-busy={state === "working"}>
            {a("forgot.submit")}
          </button>
        </>
      )}
      <button type="button" className="link" onClick={onBack}>
        {a("forgot.back")}
      </button>
    </form>
  );
}

/// The emailed link's page: a new password.
export function Reset({ token }: { token: string }) {
  const { a } = useAdminText();
  const id = useId();
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>(undefined);
  const [ticket, setTicket] = useState<string | null>(null);
  const restart = useCallback((why: string) => {
    window.history.replaceState(null, "", "/admin");
    setTicket(null);
    setMessage(why);
  }, []);

  async function onSubmit(event: SyntheticEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setMessage(null);
    setError(undefined);
    try {
      const answer = await auth.resetPassword({ token, newPassword: password });
      window.history.replaceState(null, "", "/admin");
      if (answer.secondStep !== undefined) setTicket(answer.secondStep.ticket);
      else sessions.signIn(answer.token);
    } catch (caught) {
      const failure = ConnectError.from(caught);
      const fields = failure.code === Code.InvalidArgument ? fieldErrors(failure) : {};
      if (fields.new_password !== undefined) setError(fields.new_password);
      else setMessage(fields.token ?? (failure.code === Code.FailedPrecondition ? failure.rawMessage : a("signIn.failed")));
    }
    setBusy(false);
  }

  if (ticket !== null)
    return (
      <div className="page">
        <SecondStepForm ticket={ticket} onRestart={restart} />
      </div>
    );
  return (
    <div className="page">
      <form className="card sign-in" onSubmit={(e) => void onSubmit(e)} aria-labelledby={`${id}-title`} noValidate>
        <h1 id={`${id}-title`}>{a("reset.title")}</h1>
        <div role="alert" className={message !== null ? "alert" : "visually-hidden"}>
          {message}
        </div>
        <Field
          id={`${id}-password`}
          label={a("account.new")}
          hint={a("account.hint")}
          error={error}
          value={password}
          set={setPassword}
          type="password"
          autoComplete="new-password"
        />
        <button type="submit" className="primary" disabled={busy} aria-busy={busy}>
          {a("reset.submit")}
        </button>
      </form>
    </div>
  );
}
