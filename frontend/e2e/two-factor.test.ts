// Two-step verification and the members' emails in Debian's Chromium
// against the whole stack, with a real SMTP server catching the emails: an
// admin invites a salesperson by email; she follows the emailed link, sets
// her password, sets up two-step verification in her account (the test's
// "phone" computes the codes from the key the page shows), signs out and
// in with password and code; a recovery code works once; the admin
// deactivates her and her open board loses access. "Forgot password" by
// email; an admin requires two-step verification, a member without it
// enrols at sign-in, and an admin resets a member's. axe on the new screens.

import AxeBuilder from "@axe-core/playwright";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type Smtp, emailingTo, linkIn, startSmtp } from "./smtp";
import { ADMIN_EMAIL, ADMIN_PASSWORD, type Stack, launchBrowser, signIn, startStack, submit } from "./stack";
import { totp } from "./totp";

const PASSWORD = "a long team password";
let stack: Stack;
let browser: Browser;
let smtp: Smtp;

beforeAll(async () => {
  smtp = await startSmtp();
  [stack, browser] = await Promise.all([
    startStack({ ASTRO_POW_MAX_NUMBER: "20000", ...emailingTo(smtp) }),
    launchBrowser(),
  ]);
  await stack.addMember("nia@example.com", PASSWORD, "viewer", "Nia Newcomer");
  await stack.addMember("fay@example.com", PASSWORD, "sales", "Fay Forgetful");
});

afterAll(async () => {
  await browser.close();
  await stack.stop();
  smtp.stop();
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
async function password(p: Page, email: string, secret = PASSWORD): Promise<void> {
  await p.goto(`${stack.url}/admin`);
  await p.getByLabel("Email").fill(email);
  await p.getByLabel("Password").fill(secret);
  await p.getByRole("button", { name: "Sign in" }).click();
}

async function code(p: Page, value: string): Promise<void> {
  await p.getByRole("heading", { name: "Two-step verification" }).waitFor();
  await p.getByLabel("Code", { exact: true }).fill(value);
  await p.getByRole("button", { name: "Verify" }).click();
}

const signedIn = (p: Page) => p.getByRole("button", { name: "Sign out", exact: true }).waitFor();
/// An emailed link, on this stack (the service's public URL is the default one).
const onStack = (link: string) => link.replace("http://127.0.0.1:8080", stack.url);

describe("two-step verification", () => {
  let secret = "";
  let recovery: string[] = [];
  const firstRecovery = () => recovery[0] ?? "";

  let tedsBoard: Page | null = null;

  it("reaches an invited salesperson by email, who joins and sets it up with the QR code, one code and recovery codes", async () => {
    const admin = await page();
    await signIn(admin, stack, ADMIN_EMAIL, ADMIN_PASSWORD);
    await admin.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Team" }).click();
    const invite = admin.getByRole("form", { name: "Invite" });
    await invite.getByLabel("Email").fill("ted@example.com");
    await invite.getByLabel("Role").selectOption({ label: "Sales" });
    await invite.getByLabel("Name").fill("Ted Twostep");
    await invite.getByRole("button", { name: "Make the invitation link" }).click();
    await admin.getByText("Invitation emailed to ted@example.com.").waitFor();
    await admin.context().close();

    const email = await smtp.waitFor("ted@example.com");
    expect(email).toContain("Subject: You are invited to join the team on Astro Qualif");
    const ted = await page();
    await ted.goto(onStack(linkIn(email, "http://127.0.0.1:8080/admin/join#")));
    await ted.getByLabel("Password").fill(PASSWORD);
    await ted.getByRole("button", { name: "Join" }).click();
    await signedIn(ted);
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
    await ted.getByRole("button", { name: "Sign out", exact: true }).click();
    await ted.getByRole("heading", { name: "Sign in" }).waitFor();
    await ted.context().close();
  });

  it("asks for a code after the password, each code good once, and takes a recovery code once", async () => {
    const ted = await page();
    await password(ted, "ted@example.com");
    await axeClean(ted);
    // The code of the enrolment's step was used: the next step's signs in,
    // once (computed once: a step may end while the test runs).
    const next = totp(secret, 1);
    await code(ted, next);
    await signedIn(ted);
    tedsBoard = ted;

    const again = await page();
    await password(again, "ted@example.com");
    await code(again, next);
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

  it("cuts a deactivated member off: their open board loses access", async () => {
    const admin = await page();
    await signIn(admin, stack, ADMIN_EMAIL, ADMIN_PASSWORD);
    await admin.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Team" }).click();
    const team = admin.getByRole("region", { name: "Team" });
    await team.getByRole("button", { name: "Deactivate Ted Twostep" }).click();
    await team.getByRole("button", { name: "Reactivate Ted Twostep" }).waitFor();
    await submit(stack, { firstName: "Cut", lastName: "Off", email: "cut.off@example.com" });
    const board = tedsBoard;
    if (board === null) throw new Error("Ted's board was not open");
    await board.getByRole("dialog", { name: "Sign in" }).waitFor({ timeout: 15_000 });
    await board.context().close();
    await team.getByRole("button", { name: "Reactivate Ted Twostep" }).click();
    await team.getByRole("button", { name: "Deactivate Ted Twostep" }).waitFor();
    await admin.context().close();
  });

  it("sends a one-time link to a member who forgot their password", async () => {
    const fay = await page();
    await fay.goto(`${stack.url}/admin`);
    await fay.getByRole("button", { name: "Forgot your password?" }).click();
    await fay.getByLabel("Email").fill("fay@example.com");
    await fay.getByRole("button", { name: "Send the link" }).click();
    await fay.getByText("If this address is a member's, an email with a link is on its way.").waitFor();
    await axeClean(fay);
    const email = await smtp.waitFor("fay@example.com");
    const link = onStack(linkIn(email, "http://127.0.0.1:8080/admin/reset#"));
    await fay.goto(link);
    await fay.getByRole("heading", { name: "Choose a new password" }).waitFor();
    await fay.getByLabel("New password", { exact: true }).fill("short");
    await fay.getByRole("button", { name: "Save and sign in" }).click();
    await fay.getByText("must be at least 12 characters").waitFor();
    await fay.getByLabel("New password", { exact: true }).fill("fay's fresh long passphrase");
    await fay.getByRole("button", { name: "Save and sign in" }).click();
    await signedIn(fay);
    expect(new URL(fay.url()).hash).toBe("");
    await fay.context().close();

    const again = await page();
    await again.goto(link);
    await again.getByLabel("New password", { exact: true }).fill("another long passphrase");
    await again.getByRole("button", { name: "Save and sign in" }).click();
    await again.getByText("this link was used already").waitFor();
    await again.context().close();
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

    // The admin resets Ted's: as the team requires it, he enrols again.
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
