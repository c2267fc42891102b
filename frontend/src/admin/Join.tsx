// The invitation's page (/admin/join#<token>): the invited person sets
// their name and password and is signed in. The token stays in the URL's
// fragment, which no server or log ever sees, and leaves the address bar
// once used.

import { Code, ConnectError } from "@connectrpc/connect";
import { type SyntheticEvent, useId, useState } from "react";

import { BadRequestSchema } from "../gen/google/rpc/error_details_pb";
import { auth } from "./client";
import { sessions } from "./session";
import { useAdminText } from "./texts";

export function joinToken(): string | null {
  if (!window.location.pathname.startsWith("/admin/join")) return null;
  const token = window.location.hash.slice(1);
  return token === "" ? null : token;
}

export function Join({ token }: { token: string }) {
  const { a } = useAdminText();
  const id = useId();
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [state, setState] = useState<"idle" | "working">("idle");
  const [message, setMessage] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});

  async function onSubmit(event: SyntheticEvent<HTMLFormElement>) {
    event.preventDefault();
    setState("working");
    setMessage(null);
    setErrors({});
    try {
      const answer = await auth.acceptInvitation({ token, displayName: name, password });
      window.history.replaceState(null, "", "/admin");
      sessions.signIn(answer.token);
    } catch (caught) {
      const error = ConnectError.from(caught);
      const fields: Record<string, string> = {};
      for (const v of error.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations)) fields[v.field] = v.description;
      setErrors(fields);
      if (error.code === Code.FailedPrecondition || fields.token !== undefined) setMessage(fields.token ?? error.rawMessage);
      else if (error.code !== Code.InvalidArgument) setMessage(a("join.failed"));
      setState("idle");
    }
  }

  const described = (field: string) => (errors[field] !== undefined ? `${id}-${field}-error` : undefined);
  const error = (field: string) =>
    errors[field] !== undefined ? (
      <p id={`${id}-${field}-error`} className="error">
        {errors[field]}
      </p>
    ) : null;

  return (
    <div className="page">
      <form className="card sign-in" onSubmit={(e) => void onSubmit(e)} aria-labelledby={`${id}-title`} noValidate>
        <h1 id={`${id}-title`}>{a("join.title")}</h1>
        <p className="hint">{a("join.intro")}</p>
        <div role="alert" className={message !== null ? "alert" : "visually-hidden"}>
          {message}
        </div>
        <div className="field">
          <label htmlFor={`${id}-name`}>{a("join.name")}</label>
          <input
            id={`${id}-name`}
            autoComplete="name"
            maxLength={100}
            value={name}
            aria-invalid={errors.display_name !== undefined}
            aria-describedby={described("display_name")}
            onChange={(e) => {
              setName(e.target.value);
            }}
          />
          {error("display_name")}
        </div>
        <div className="field">
          <label htmlFor={`${id}-password`}>{a("join.password")}</label>
          <input
            id={`${id}-password`}
            type="password"
            autoComplete="new-password"
            value={password}
            aria-invalid={errors.password !== undefined}
            aria-describedby={described("password") ?? `${id}-hint`}
            onChange={(e) => {
              setPassword(e.target.value);
            }}
          />
          <p id={`${id}-hint`} className="hint">
            {a("account.hint")}
          </p>
          {error("password")}
        </div>
        <button type="submit" className="primary" disabled={state === "working"}>
          {a("join.submit")}
        </button>
      </form>
    </div>
  );
}
