import { describe, expect, it } from "vitest";

import { readOutcome } from "./rest";

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

describe("the server's answers to a submission", () => {
  it("maps RFC 9457 field errors onto the form's fields", async () => {
    const outcome = await readOutcome(
      answer(400, {
        type: "/docs#problem-invalid",
        title: "Invalid request",
        status: 400,
        detail: "email: must be a valid email address; captchaToken: was already used",
        errors: [
          { field: "email", detail: "must be a valid email address" },
          { field: "captchaToken", detail: "was already used: solve a new captcha" },
        ],
      }),
    );
    expect(outcome.kind).toBe("invalid");
    if (outcome.kind !== "invalid") return;
    expect(outcome.errors.get("email")).toBe("must be a valid email address");
    expect(outcome.errors.get("captchaToken")).toContain("already used");
  });

  it("reads a creation, a throttle with its wait, and anything else as a failure", async () => {
    expect(await readOutcome(answer(201, { id: "0193" }))).toEqual({ kind: "created", id: "0193" });
    expect(await readOutcome(answer(429, { status: 429, detail: "slow down" }, { "retry-after": "7" }))).toEqual({
      kind: "busy",
      retryAfterSeconds: 7,
    });
    expect(await readOutcome(answer(503, { status: 503, detail: "temporarily unavailable" }))).toEqual({
      kind: "failed",
      detail: "temporarily unavailable",
    });
    expect((await readOutcome(new Response("<html>", { status: 502 }))).kind).toBe("failed");
  });
});
