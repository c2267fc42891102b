// The sales team's app at /admin: the sign-in, then the board. When a token
// is refused the sign-in comes back over the board, which keeps its state
// (an open card, unsaved edits) for when the admin is back.

import { useEffect, useRef } from "react";

import { LanguageSwitch } from "../LanguageSwitch";
import { Board } from "./Board";
import { SignIn } from "./SignIn";
import { sessions, useSession } from "./session";
import { useAdminText } from "./texts";

export default function Admin() {
  const session = useSession();
  const { a } = useAdminText();
  const signedIn = session.token !== null;
  const everSignedIn = signedIn || session.expired;
  return (
    <div className="admin">
      <header className="admin-head">
        <h1>{a("title")}</h1>
        <LanguageSwitch />
        {signedIn ? (
          <button type="button" className="secondary" onClick={sessions.signOut}>
            {a("signOut")}
          </button>
        ) : null}
      </header>
      {signedIn ? null : everSignedIn ? (
        <SignInAgain />
      ) : (
        <div className="page">
          <SignIn expired={false} />
        </div>
      )}
      {everSignedIn ? (
        <main inert={!signedIn}>
          <Board />
        </main>
      ) : null}
    </div>
  );
}

/// The sign-in over the board (and over an open card): a modal dialog on
/// top of everything, that only a successful sign-in closes.
function SignInAgain() {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = dialog.current;
    d?.showModal();
    return () => d?.close();
  }, []);
  const { a } = useAdminText();
  return (
    <dialog
      ref={dialog}
      className="sign-in-again"
      aria-label={a("signIn.title")}
      onCancel={(e) => {
        e.preventDefault();
      }}
    >
      <SignIn expired />
    </dialog>
  );
}
