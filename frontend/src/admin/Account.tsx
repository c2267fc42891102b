// The member's own account: their password (the current one needed; every
// other session ends, this one goes on with the new token).

import { Code, ConnectError } from "@connectrpc/connect";
import { type SyntheticEvent, useId, useState } from "react";

import { BadRequestSchema } from "../gen/google/rpc/error_details_pb";
import { auth } from "./client";
import { sessions } from "./session";
import { useAdminText } from "./texts";

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
    <section className="page account" aria-labelledby={`${id}-title`}>
      <form className="card" onSubmit={(e) => void onSubmit(e)} noValidate>
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
    </section>
  );
}
