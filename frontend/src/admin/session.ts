// The signed-in admin's token, shared by every call. A call refused with
// UNAUTHENTICATED (expired, rotated away) ends the session: the sign-in
// comes back over the board, which keeps its state.

import { useMemo, useSyncExternalStore } from "react";

const KEY = "astro.admin.token";

export interface Session {
  token: string | null;
  /// Set when a token was refused, so the sign-in can say why.
  expired: boolean;
}

let session: Session = { token: readStored(), expired: false };
const listeners = new Set<() => void>();

function readStored(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

function publish(next: Session): void {
  session = next;
  try {
    if (next.token === null) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, next.token);
  } catch {
    // Kept in memory only.
  }
  listeners.forEach((l) => {
    l();
  });
}

export const sessions = {
  current: (): Session => session,
  signIn: (token: string): void => {
    publish({ token, expired: false });
  },
  signOut: (): void => {
    publish({ token: null, expired: false });
  },
  expire: (): void => {
    if (session.token !== null) publish({ token: null, expired: true });
  },
};

export function useSession(): Session {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => session,
  );
}

/// Who the token says the member is: for drawing the app to fit the role
/// (no drag handles for a viewer…). The service decides what is allowed.
export interface Claims {
  email: string;
  role: string;
}

export function claimsOf(token: string | null): Claims | null {
  const payload = token?.split(".")[1];
  if (payload === undefined) return null;
  try {
    const binary = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const json = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))) as Record<string, unknown>;
    return typeof json.email === "string" && typeof json.role === "string" ? { email: json.email, role: json.role } : null;
  } catch {
    return null;
  }
}

export function useClaims(): Claims | null {
  const { token } = useSession();
  return useMemo(() => claimsOf(token), [token]);
}

/// Whether a role may change cards (create, edit, move).
export function canWork(claims: Claims | null): boolean {
  return claims?.role === "admin" || claims?.role === "sales";
}
