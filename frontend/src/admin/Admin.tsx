// The sales team's app at /admin: the sign-in, then the board (and, for
// admins, the team). When a token is refused the sign-in comes back over
// the board, which keeps its state (an open card, unsaved edits) for when
// the member is back.

import { ConnectError } from "@connectrpc/connect";
import { Suspense, lazy, useCallback, useEffect, useMemo, useRef, useState } from "react";

import { LanguageSwitch } from "../LanguageSwitch";
import type { Member } from "../gen/astro/v1/member_pb";
import { Board } from "./Board";
import { SignIn } from "./SignIn";
import { Account } from "./Account";
import { Join, joinToken } from "./Join";
import { Reset, resetToken } from "./Recover";
import { Team } from "./Team";
import { auth, members as memberClient } from "./client";
import { sessions, useClaims, useSession } from "./session";
import { type Team as TeamState, TeamContext } from "./team";
import { useAdminText } from "./texts";

/// The scoring rules' page, for admins only: its own chunk, loaded when opened.
const Scoring = lazy(() => import("./Scoring").then((m) => ({ default: m.Scoring })));

/// The pipeline's figures, for every member: their own chunk (with the
/// charting library), loaded when opened.
const Insights = lazy(() => import("./Insights"));

/// A person's data (GDPR access and erasure), for admins: its own chunk.
const Privacy = lazy(() => import("./Privacy"));
const Import = lazy(() => import("./Import"));
const Forms = lazy(() => import("./Forms"));

/// The team, read once signed in and again after a change.
function useTeamState(signedIn: boolean): TeamState {
  const [list, setList] = useState<Member[]>([]);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (!signedIn) return;
    const stop = new AbortController();
    memberClient.listMembers({ pageSize: 200 }, { signal: stop.signal }).then(
      (page) => {
        setList(page.members);
      },
      () => undefined,
    );
    return () => {
      stop.abort();
    };
  }, [signedIn, generation]);
  const reload = useCallback(() => {
    setGeneration((g) => g + 1);
  }, []);
  return useMemo(() => ({ members: list, reload }), [list, reload]);
}

export default function Admin() {
  const session = useSession();
  const claims = useClaims();
  const { a } = useAdminText();
  const signedIn = session.token !== null;
  const everSignedIn = signedIn || session.expired;
  const team = useTeamState(signedIn);
  const isAdmin = claims?.role === "admin";
  const [view, setView] = useState<"board" | "insights" | "team" | "scoring" | "forms" | "import" | "privacy" | "account">("board");
  const [notice, setNotice] = useState<string | null>(null);

  async function signOutEverywhere() {
    try {
      await auth.signOutEverywhere({});
      sessions.signOut();
    } catch (caught) {
      setNotice(a("signOutEverywhere.failed", { detail: ConnectError.from(caught).rawMessage }));
    }
  }

  return (
    <div className="admin">
      <header className="admin-head">
        <h1>{a("title")}</h1>
        {signedIn ? (
          <nav aria-label={a("nav.label")} className="admin-nav">
            {(isAdmin ? (["board", "insights", "team", "scoring", "forms", "import", "privacy", "account"] as const) : (["board", "insights", "account"] as const)).map((v) => (
              <button
                key={v}
                type="button"
                className="link"
                aria-current={view === v ? "page" : undefined}
                onClick={() => {
                  setView(v);
                }}
              >
                {a(`nav.${v}`)}
              </button>
            ))}
          </nav>
        ) : null}
        <LanguageSwitch />
        {signedIn ? (
          <>
            <button type="button" className="secondary" onClick={() => void signOutEverywhere()}>
              {a("signOutEverywhere")}
            </button>
            <button type="button" className="secondary" onClick={sessions.signOut}>
              {a("signOut")}
            </button>
          </>
        ) : null}
      </header>
      {notice !== null ? (
        <div role="alert" className="alert">
          {notice}
        </div>
      ) : null}
      {signedIn ? null : everSignedIn ? (
        <SignInAgain />
      ) : joinToken() !== null ? (
        <Join token={joinToken() ?? ""} />
      ) : resetToken() !== null ? (
        <Reset token={resetToken() ?? ""} />
      ) : (
        <div className="page">
          <SignIn expired={false} />
        </div>
      )}
      {everSignedIn ? (
        <TeamContext.Provider value={team}>
          <main inert={!signedIn}>
            {isAdmin && view === "team" ? <Team /> : view === "insights" ? (
              <Suspense fallback={<p className="loading">…</p>}>
                <Insights />
              </Suspense>
            ) : isAdmin && view === "scoring" ? (
              <Suspense fallback={<p className="loading">…</p>}>
                <Scoring />
              </Suspense>
            ) : isAdmin && view === "forms" ? (
              <Suspense fallback={<p className="loading">…</p>}>
                <Forms />
              </Suspense>
            ) : isAdmin && view === "import" ? (
              <Suspense fallback={<p className="loading">…</p>}>
                <Import />
              </Suspense>
            ) : isAdmin && view === "privacy" ? (
              <Suspense fallback={<p className="loading">…</p>}>
                <Privacy />
              </Suspense>
            ) : view === "account" ? <Account /> : <Board />}
          </main>
        </TeamContext.Provider>
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
