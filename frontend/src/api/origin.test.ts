import { afterEach, describe, expect, it, vi } from "vitest";

describe("the API's address", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it("stays the page's own origin when the build names none", async () => {
    vi.stubEnv("VITE_API_URL", "");
    const { apiBase, apiUrl } = await import("./origin");
    expect(apiBase).toBe("");
    expect(apiUrl("/prospects")).toBe("/prospects");
  });

  it("is the API Gateway stage named at build time, for the API's own paths too", async () => {
    vi.stubEnv("VITE_API_URL", "https://abc123.execute-api.eu-west-1.amazonaws.com/production/");
    const { apiBase, apiUrl } = await import("./origin");
    expect(apiBase).toBe("https://abc123.execute-api.eu-west-1.amazonaws.com/production");
    expect(apiUrl("/captcha/challenge")).toBe(
      "https://abc123.execute-api.eu-west-1.amazonaws.com/production/captcha/challenge",
    );
    expect(apiUrl("https://challenges.example/widget")).toBe("https://challenges.example/widget");
  });
});
