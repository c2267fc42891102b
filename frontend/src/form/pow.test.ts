import { createHash } from "node:crypto";

import { describe, expect, it } from "vitest";

import type { Challenge } from "../api/rest";
import { WORKER, encodeSolution, findNumber } from "./pow";

function challengeFor(number: number, maxnumber = 5000): Challenge {
  const salt = "00ff?expires=9999999999&";
  const challenge = createHash("sha256").update(salt + String(number)).digest("hex");
  return { algorithm: "SHA-256", challenge, maxnumber, salt, signature: "sig" };
}

describe("the proof of work", () => {
  it("finds the secret number and encodes the solution as the server reads it", async () => {
    const c = challengeFor(1234);
    expect(await findNumber(c)).toBe(1234);
    const decoded: unknown = JSON.parse(atob(encodeSolution(c, 1234)));
    expect(decoded).toEqual({ algorithm: "SHA-256", challenge: c.challenge, number: 1234, salt: c.salt, signature: "sig" });
  });

  it("gives up past maxnumber and on an unknown algorithm", async () => {
    expect(await findNumber(challengeFor(50, 10))).toBeNull();
    expect(await findNumber({ ...challengeFor(1), algorithm: "MD5" })).toBeNull();
  });

  it("is a worker's whole program on its own (the embed has no second file)", async () => {
    const c = challengeFor(321);
    const answer = await new Promise((resolve) => {
      // The program alone, with nothing of this module in scope.
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      const program = new Function("postMessage", `${WORKER}\nreturn onmessage;`) as (post: (n: unknown) => void) => (e: { data: Challenge }) => void;
      program(resolve)({ data: c });
    });
    expect(answer).toBe(321);
  });
});
