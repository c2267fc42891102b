// The team as the board shows it: names for emails (owners, history), and
// who may own a card. Loaded once a session by the admin app and shared.

import { createContext, useContext } from "react";

import { Role } from "../gen/astro/access/v1/options_pb";
import { type Member, MemberState } from "../gen/astro/v1/member_pb";

export interface Team {
  members: Member[];
  reload: () => void;
}

export const TeamContext = createContext<Team>({ members: [], reload: () => undefined });

export function useTeam(): Team {
  return useContext(TeamContext);
}

/// The name the team knows `email` by: the member's, else the email itself.
export function nameOf(members: Member[], email: string): string {
  const member = members.find((m) => m.email === email);
  return member !== undefined && member.displayName !== "" ? member.displayName : email;
}

/// Up to two letters for a compact badge ("Ada Lovelace" → "AL").
export function initials(name: string): string {
  const words = name.split(/[\s@._-]+/).filter((w) => w !== "");
  return words
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase() ?? "")
    .join("");
}

/// Members who may own a card: active admins and salespeople.
export function owners(members: Member[]): Member[] {
  return members.filter((m) => m.state === MemberState.ACTIVE && (m.role === Role.ADMIN || m.role === Role.SALES));
}
