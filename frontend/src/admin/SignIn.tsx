// Sign-in over gRPC-web. After too many failures the service asks for a
// captcha (google.rpc.ErrorInfo CAPTCHA_REQUIRED / CAPTCHA_INVALID, with the
// challenge in its metadata): the proof of work is then solved in a worker
// and the sign-in sent again with it; a third-party widget is shown instead
// when one is configured.

import { Code, ConnectError } from "@connectrpc/connect";
import { type SyntheticEvent, useCallback, useId, useRef, useState } from "react";

import type { CaptchaSettings, Challenge } from "../api/rest";
import { solveInWorker } from "../form/pow";
import { ErrorInfoSchema, RetryInfoSchema } from "../gen/google/rpc/error_details_pb";
import { auth } from "./client";
import { sessions } from "./session";
import { ForgotPassword } from "./Recover";
import { useAdminText } from "./texts";
import { Enrolment, RecoveryCodes, SecondStepForm } from "./TwoFactor";

/// Where a sign-in is: the password, then maybe a code or an enrolment.
type Stage = { kind: "password" } | { kind: "forgot" } | { kind: "code"; ticket: string } | { kind: "enrol"; ticket: string } | { kind: "codes"; codes: string[]; token: string };

/// What the service asked for, read from its error details.
export function captchaAsked(error: ConnectError): { settings: CaptchaSettings; challenge: Challenge | null } | null {
  const info = error.findDetails(ErrorInfoSchema).find((i) => i.domain === "astro-qualif" && i.reason.startsWith("CAPTCHA_"));
  if (info === undefined) return null;
  const m = info.metadata;
  const provider = (m.provider ?? "pow") as CaptchaSettings["provider"];
  const challenge =
    m.challenge !== undefined && m.salt !== undefined && m.signature !== undefined
      ? { algorithm: m.algorithm ?? "SHA-256", challenge: m.challenge, maxnumber: Number(m.maxnumber ?? "0"), salt: m.salt, signature: m.signature }
      : null;
  return { settings: { provider, siteKey: m.siteKey }, challenge };
}

export function SignIn({ expired }: { expired: boolean }) {
  const { a } = useAdminText();
  const id = useId();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [state, setState] = useState<"idle" | "working" | "captcha">("idle");
  const [message, setMessage] = useState<string | null>(expired ? a("signIn.expired") : null);
  const widget = useRef<HTMLDivElement>(null);
  const [stage, setStage] = useState<Stage>({ kind: "password" });
  const restart = useCallback((why: string) => {
    setStage({ kind: "password" });
    setState("idle");
    setMessage(why);
  }, []);

  async function attempt(captchaToken: string, tries: number): Promise<void> {
    try {
      const answer = await auth.login({ email, password, captchaToken });
      const step = answer.secondStep;
      if (step === undefined) sessions.signIn(answer.token);
      else setStage({ kind: step.enrol ? "enrol" : "code", ticket: step.ticket });
    } catch (caught) {
      const error = ConnectError.from(caught);
      const asked = error.code === Code.Unauthenticated ? captchaAsked(error) : null;
      if (asked !== null && tries < 2) {
        setState("captcha");
        setMessage(a("signIn.captcha"));
        const token =
          asked.challenge !== null
            ? await solveInWorker(asked.challenge)
            : await (await import("../form/providers")).widget(asked.settings, widget.current ?? document.body).then((get) => get());
        await attempt(token, tries + 1);
        return;
      }
      setState("idle");
      if (error.code === Code.Unauthenticated) setMessage(a("signIn.wrong"));
      else if (error.code === Code.ResourceExhausted) {
        const delay = error.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds ?? 1n;
        setMessage(a("signIn.busy", { seconds: Number(delay) }));
      } else setMessage(a("signIn.failed"));
    }
  }

  function onSubmit(event: SyntheticEvent<HTMLFormElement>) {
    event.preventDefault();
    if (state !== "idle") return;
    setState("working");
    setMessage(null);
    void attempt("", 0);
  }

  if (stage.kind === "forgot")
    return (
      <ForgotPassword
        onBack={() => {
          setStage({ kind: "password" });
        }}
      />
    );
  if (stage.kind === "code") return <SecondStepForm ticket={stage.ticket} onRestart={restart} />;
  if (stage.kind === "enrol")
    return (
      <div className="sign-in">
        <p className="alert">{a("twoFactor.required")}</p>
        <Enrolment
          ticket={stage.ticket}
          currentPassword=""
          onRestart={restart}
          onEnrolled={(codes, token) => {
            setStage({ kind: "codes", codes, token: token ?? "" });
          }}
        />
      </div>
    );
  if (stage.kind === "codes")
    return (
      <div className="sign-in">
        <RecoveryCodes
          codes={stage.codes}
          onDone={() => {
            sessions.signIn(stage.token);
          }}
        />
      </div>
    );
  return (
    <form className="card sign-in" onSubmit={onSubmit} aria-labelledby={`${id}-title`} noValidate>
      <h1 id={`${id}-title`}>{a("signIn.title")}</h1>
      <div role="alert" className={message !== null ? "alert" : "visually-hidden"}>
        {message}
      </div>
      <div className="field">
        <label htmlFor={`${id}-email`}>{a("signIn.email")}</label>
        <input
          id={`${id}-email`}
          type="email"
          autoComplete="username"
          required
          value={email}
          onChange={(e) => {
            setEmail(e.target.value);
          }}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-password`}>{a("signIn.password")}</label>
        <input
          id={`${id}-password`}
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => {
            setPassword(e.target.value);
          }}
        />
      </div>
      <div ref={widget} className="captcha" />
      <p className="captcha-state" role="status">
        {state === "captcha" ? a("signIn.captchaWorking") : ""}
      </p>
      <button type="submit" className="primary" disabled={state !== "idle"} aria-busy={state !== "idle"}>
        {state === "idle" ? a("signIn.submit") : a("signIn.working")}
      </button>
      <button
        type="button"
        className="link"
        onClick={() => {
          setMessage(null);
          setStage({ kind: "forgot" });
        }}
      >
        {a("forgot.link")}
      </button>
    </form>
  );
}
