import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";

import { Role } from "../gen/astro/access/v1/options_pb";
import { MemberSchema, MemberState } from "../gen/astro/v1/member_pb";
import { claimsOf } from "./session";
import { initials, nameOf, owners } from "./team";

const member = (email: string, displayName: string, role: Role, state = MemberState.ACTIVE) =>
  create(MemberSchema, { email, displayName, role, state });

describe("the team on the board", () => {
  const team = [
    member("ada@example.com", "Ada Lovelace", Role.SALES),
    member("bob@example.com", "", Role.ADMIN),
    member("vera@example.com", "Vera", Role.VIEWER),
    member("gone@example.com", "Gone", Role.SALES, MemberState.DEACTIVATED),
  ];

  it("names a member by display name, else by email", () => {
    expect(nameOf(team, "ada@example.com")).toBe("Ada Lovelace");
    expect(nameOf(team, "bob@example.com")).toBe("bob@example.com");
    expect(nameOf(team, "stranger@example.com")).toBe("stranger@example.com");
  });

  it("draws two initials", () => {
    expect(initials("Ada Lovelace")).toBe("AL");
    expect(initials("bob@example.com")).toBe("BE");
    expect(initials("élise")).toBe("É");
  });

  it("offers as owners the active admins and salespeople only", () => {
    expect(owners(team).map((m) => m.email)).toEqual(["ada@example.com", "bob@example.com"]);
  });

  it("reads the email and role of a token, and nothing from garbage", () => {
    const payload = btoa(JSON.stringify({ email: "ada@example.com", role: "viewer", iat: 1, exp: 2 })).replace(/=+$/, "");
    expect(claimsOf(`h.${payload}.s`)).toEqual({ email: "ada@example.com", role: "viewer" });
    expect(claimsOf("not-a-token")).toBeNull();
    expect(claimsOf(null)).toBeNull();
  });
});
