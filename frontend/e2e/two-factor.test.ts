// Two-step verification in Debian's Chromium against the whole stack: a
// member sets it up in their account (the QR code and the key shown, one
// code to confirm, ten recovery codes shown once), then signs in with the
// password and a code; a recovery code works once; an admin requires it for
// everyone, and a member without it enrols at sign-in; an admin resets a
// member's. axe on the enrolment and the second step.

import AxeBuilder from "@axe-core/playwright";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ADMIN_EMAIL, ADMIN_PASSWORD, type Stack, launchBrowser, signIn, startStack } from "./stack";
import { totp } from "./totp";

const PASSWORD = "a long team password";
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack({ ASTRO_POW_MAX_NUMBER: "20000" }), launchBrowser()]);
  await stack.addMember("ted@example.com", PASSWORD, "sales", "Ted Twostep");
  await stack.addMember("nia@example.com", PASSWORD, "viewer", "Nia Newcomer");
});

afterAll(async () => {
  await browser.close();
  await stack.stop();
});

async function axeClean(page: Page): Promise<void> {
  const serious = (await new AxeBuilder({ page }).analyze()).violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
}

async function page(): Promise<Page> {
  const context = await browser.newContext({ locale: "en-US", viewport: { width: 390, height: 844 } });
  return context.newPage();
}

/// The password step: the code is asked next.
async function password(p: Page, email: string): Promise<void> {
  await p.goto(`${stack.url}/admin`);
  await p.getByLabel("Email").fill(email);
  await p.getByLabel("Password").fill(PASSWORD);
  await p.getByRole("button", { name: "Sign in" }).click();
}

async function code(p: Page, value: string): Promise<void> {
  await p.getByRole("heading", { name: "Two-step verification" }).waitFor();
  await p.getByLabel("Code", { exact: true }).fill(value);
  await p.getByRole("button", { name: "Verify" }).click();
}

const signedIn = (p: Page) => p.getByRole("button", { name: "Sign out", exact: true }).waitFor();

describe("two-step verification", () => {
  let secret = "";
  let recovery: string[] = [];
  const firstRecovery = () => recovery[0] ?? "";

  it("is set up in the account with the QR code, one code and recovery codes shown once", async () => {
    const ted = await page();
    await signIn(ted, stack, "ted@example.com", PASSWORD);
    await ted.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "My account" }).click();
    const section = ted.getByRole("form", { name: "Two-step verification" });
    await section.getByText("Off: your password alone signs you in.").waitFor();
    await section.getByLabel("Current password").fill(PASSWORD);
    await section.getByRole("button", { name: "Set up" }).click();
    const enrolment = ted.getByRole("form", { name: "Set up an authenticator app" });
    await enrolment.getByRole("img", { name: "QR code to scan with your authenticator app" }).waitFor();
    expect(await enrolment.getByRole("img").evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    secret = (await enrolment.locator("code[data-secret]").textContent()) ?? "";
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    await axeClean(ted);
    await enrolment.getByLabel("Code").fill("000000");
    await enrolment.getByRole("button", { name: "Turn on" }).click();
    await enrolment.getByText("That code is not right").waitFor();
    await enrolment.getByLabel("Code").fill(totp(secret));
    await enrolment.getByRole("button", { name: "Turn on" }).click();
    const codes = ted.getByRole("list", { name: "Your recovery codes" });
    await codes.waitFor();
    recovery = (await codes.getByRole("listitem").allTextContents()).map((c) => c.trim());
    expect(recovery).toHaveLength(10);
    await ted.getByRole("button", { name: "I have saved them" }).click();
    await section.getByText("On: every sign-in asks for a code from your app.").waitFor();
    await ted.context().close();
  });

  it("asks for a code after the password, each code good once, and takes a recovery code once", async () => {
    const ted = await page();
    await password(ted, "ted@example.com");
    await axeClean(ted);
    // The code of the enrolment's step was used: the next step's signs in.
    await code(ted, totp(secret, 1));
    await signedIn(ted);
    await ted.context().close();

    const again = await page();
    await password(again, "ted@example.com");
    await code(again, totp(secret, 1));
    await again.getByText("That code is not right (each code works once).").waitFor();
    await again.getByLabel("Code", { exact: true }).fill(firstRecovery().toUpperCase());
    await again.getByRole("button", { name: "Verify" }).click();
    await signedIn(again);
    await again.context().close();

    const third = await page();
    await password(third, "ted@example.com");
    await code(third, firstRecovery());
    await third.getByText("That code is not right (each code works once).").waitFor();
    await third.context().close();
  });

  it("is enrolled at sign-in once an admin requires it, and reset by an admin", async () => {
    const admin = await page();
    await signIn(admin, stack, ADMIN_EMAIL, ADMIN_PASSWORD);
    await admin.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Team" }).click();
    const team = admin.getByRole("region", { name: "Team" });
    const require = team.getByLabel("Require two-step verification of every member");
    await expect.poll(() => require.isEnabled()).toBe(true);
    await require.check();
    await expect.poll(() => require.isChecked()).toBe(true);

    const nia = await page();
    await password(nia, "nia@example.com");
    await nia.getByText("The team requires two-step verification: set it up to sign in.").waitFor();
    const enrolment = nia.getByRole("form", { name: "Set up an authenticator app" });
    const niaSecret = (await enrolment.locator("code[data-secret]").textContent()) ?? "";
    await enrolment.getByLabel("Code").fill(totp(niaSecret));
    await enrolment.getByRole("button", { name: "Turn on" }).click();
    await nia.getByRole("list", { name: "Your recovery codes" }).waitFor();
    await nia.getByRole("button", { name: "I have saved them" }).click();
    await signedIn(nia);
    await nia.context().close();

    // The admin resets Ted's: he signs in with his password alone... and,
    // as the team requires it, enrols again.
    await admin.reload();
    await admin.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Team" }).click();
    await team.getByRole("button", { name: "Reset Ted Twostep's two-step verification" }).click();
    await team.getByText("Ted Twostep: two-step verification reset, their sessions have ended.").waitFor();
    const ted = await page();
    await password(ted, "ted@example.com");
    await ted.getByRole("form", { name: "Set up an authenticator app" }).waitFor();
    await ted.context().close();
    await require.uncheck();
    await expect.poll(() => require.isChecked()).toBe(false);
    await admin.context().close();
  });
});
