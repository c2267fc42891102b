// The team in Debian's Chromium against the whole stack: a viewer reads the
// board with no drag handle and no way to save; a salesperson takes a card
// and their name shows on it and in its history; an admin changes a role
// and deactivates a member, whose open board loses access at once; axe on
// the team page.

import AxeBuilder from "@axe-core/playwright";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ADMIN_EMAIL, ADMIN_PASSWORD, type Stack, launchBrowser, signIn, startStack, submit as submitTo } from "./stack";

const PASSWORD = "a long team password";
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack({ ASTRO_POW_MAX_NUMBER: "20000" }), launchBrowser()]);
  await stack.addMember("vera@example.com", PASSWORD, "viewer", "Vera Viewer");
  await stack.addMember("sam@example.com", PASSWORD, "sales", "Sam Seller");
});

afterAll(async () => {
  await browser.close();
  await stack.stop();
});

const submit = (fields: Record<string, string>) => submitTo(stack, fields);

async function signedIn(email: string, password: string): Promise<Page> {
  const context = await browser.newContext({ locale: "en-US", viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await signIn(page, stack, email, password);
  return page;
}

const cardOf = (page: Page, name: string) => page.getByRole("button", { name: new RegExp(`^${name}`) });

describe("the team", () => {
  it("lets a viewer read the board with no drag handle and nothing to save", async () => {
    await submit({ firstName: "Vic", lastName: "Viewed", email: "vic@example.com" });
    const page = await signedIn("vera@example.com", PASSWORD);
    await cardOf(page, "Vic Viewed").waitFor();
    expect(await page.locator('[aria-roledescription="draggable"]').count()).toBe(0);
    expect(await page.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Team" }).count()).toBe(0);
    await cardOf(page, "Vic Viewed").click();
    const drawer = page.getByRole("dialog", { name: "Vic Viewed" });
    await drawer.getByText("Read only").waitFor();
    expect(await drawer.getByLabel("Company").isDisabled()).toBe(true);
    expect(await drawer.getByRole("button", { name: "Save" }).count()).toBe(0);
    expect(await drawer.getByRole("button", { name: "Delete" }).count()).toBe(0);
    await page.context().close();
  });

  it("lets a salesperson take a card, shown with their name on the board and in the history", async () => {
    await submit({ firstName: "Tess", lastName: "Taken", email: "tess@example.com" });
    const page = await signedIn("sam@example.com", PASSWORD);
    // The board drawn first: a count does not wait.
    await cardOf(page, "Tess Taken").waitFor();
    expect(await page.locator('[aria-roledescription="draggable"]').count()).toBeGreaterThan(0);
    await cardOf(page, "Tess Taken").click();
    const drawer = page.getByRole("dialog", { name: "Tess Taken" });
    await drawer.getByRole("button", { name: "Take this prospect" }).click();
    await drawer.getByRole("button", { name: "Save" }).click();
    await drawer.getByText("Saved.").waitFor();
    await drawer.getByText("Edited (owner) by Sam Seller").waitFor();
    await drawer.getByRole("button", { name: "Delete" }).waitFor();
    await drawer.getByRole("button", { name: "Close" }).click();
    await cardOf(page, "Tess Taken").getByText("Owner: Sam Seller").waitFor();
    await page.context().close();
  });

  it("lets an admin change a role and deactivate a member, whose open board loses access", async () => {
    await stack.addMember("dee@example.com", PASSWORD, "sales", "Dee Parted");
    const dee = await signedIn("dee@example.com", PASSWORD);
    const admin = await signedIn(ADMIN_EMAIL, ADMIN_PASSWORD);
    await admin.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Team" }).click();
    const team = admin.getByRole("region", { name: "Team" });
    await team.getByRole("rowheader", { name: "Dee Parted" }).waitFor();

    await team.getByLabel("Role of Dee Parted").selectOption({ label: "Viewer" });
    await team.getByText("Dee Parted: change saved.").waitFor();
    // The list is read again after the change: the select follows.
    await expect.poll(() => team.getByLabel("Role of Dee Parted").inputValue()).toBe("3");

    await team.getByRole("button", { name: "Deactivate Dee Parted" }).click();
    await team.getByRole("button", { name: "Reactivate Dee Parted" }).waitFor();
    // The security log says who did it, to whom.
    const log = team.getByRole("region", { name: "Security log" });
    const line = log.getByRole("row").filter({ hasText: "state: active → deactivated" });
    await line.getByText(ADMIN_EMAIL).waitFor();
    await line.getByText("dee@example.com").waitFor();
    const serious = (await new AxeBuilder({ page: admin }).analyze()).violations.filter(
      (v) => v.impact === "serious" || v.impact === "critical",
    );
    expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);

    // Dee's board, open all along, is cut off: the next change on the board
    // ends her watch, and the sign-in comes back over it.
    await submit({ firstName: "Cut", lastName: "Off", email: "cut.off@example.com" });
    await dee.getByRole("dialog", { name: "Sign in" }).waitFor({ timeout: 15_000 });
    const again = dee.getByRole("dialog", { name: "Sign in" });
    await again.getByLabel("Email").fill("dee@example.com");
    await again.getByLabel("Password").fill(PASSWORD);
    await again.getByRole("button", { name: "Sign in" }).click();
    await again.getByText("Wrong email or password.").waitFor();

    // The last admin cannot be demoted: said, and nothing changes.
    await team.getByLabel(`Role of ${ADMIN_EMAIL}`).selectOption({ label: "Sales" });
    await team.getByText(`Not possible: ${ADMIN_EMAIL} is the last active admin.`).waitFor();
    await expect.poll(() => team.getByLabel(`Role of ${ADMIN_EMAIL}`).inputValue()).toBe("1");
    await dee.context().close();
    await admin.context().close();
  });

  it("assigns new prospects automatically once an admin turns it on, and shows a salesperson theirs", async () => {
    const admin = await signedIn(ADMIN_EMAIL, ADMIN_PASSWORD);
    await admin.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Team" }).click();
    const auto = admin.getByLabel("Give each new prospect, in turn");
    await expect.poll(() => auto.isEnabled()).toBe(true);
    expect(await auto.isChecked()).toBe(false);
    await auto.check();
    await expect.poll(() => auto.isChecked()).toBe(true);

    await submit({ firstName: "Rob", lastName: "Robin", email: "rob.robin@example.com" });
    const sam = await signedIn("sam@example.com", PASSWORD);
    await sam.getByLabel("Show").selectOption({ label: "My prospects" });
    await cardOf(sam, "Rob Robin").getByText("Owner: Sam Seller").waitFor();
    // Only Sam's cards: Vic (nobody's) is not on his board.
    expect(await cardOf(sam, "Vic Viewed").count()).toBe(0);
    await sam.getByLabel("Show").selectOption({ label: "All prospects" });
    await cardOf(sam, "Vic Viewed").waitFor();
    await admin.context().close();
    await sam.context().close();
  });

  it("lets a member change their password in their account, the current one needed", async () => {
    const page = await signedIn("vera@example.com", PASSWORD);
    await page.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "My account" }).click();
    const form = page.getByRole("form", { name: "Password" });
    await form.getByLabel("Current password").fill("not the right one at all");
    await form.getByLabel("New password", { exact: true }).fill("vera's brand new passphrase");
    await form.getByRole("button", { name: "Change the password" }).click();
    await page.getByText("is not your current password").waitFor();
    const serious = (await new AxeBuilder({ page }).analyze()).violations.filter(
      (v) => v.impact === "serious" || v.impact === "critical",
    );
    expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
    await form.getByLabel("Current password").fill(PASSWORD);
    await page.getByRole("button", { name: "Change the password" }).click();
    await page.getByText("Password changed: your other sessions have ended.").waitFor();
    // Still signed in here, with the new token: the board answers.
    await page.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Board" }).click();
    await cardOf(page, "Vic Viewed").waitFor();
    await page.context().close();
    const again = await signedIn("vera@example.com", "vera's brand new passphrase");
    await again.context().close();
  });

  it("lets an admin invite someone, who joins through the link once and is signed in", async () => {
    const admin = await signedIn(ADMIN_EMAIL, ADMIN_PASSWORD);
    await admin.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Team" }).click();
    const invite = admin.getByRole("form", { name: "Invite" });
    await invite.getByLabel("Email").fill("ivy@example.com");
    await invite.getByLabel("Role").selectOption({ label: "Sales" });
    await invite.getByRole("button", { name: "Make the invitation link" }).click();
    const field = invite.getByLabel("Invitation link for ivy@example.com");
    await field.waitFor();
    const link = await field.inputValue();
    expect(link).toContain("/admin/join#");
    await invite.getByText("ivy@example.com").first().waitFor();

    const context = await browser.newContext({ locale: "en-US", viewport: { width: 390, height: 844 } });
    const ivy = await context.newPage();
    await ivy.goto(link.replace("http://127.0.0.1:8080", stack.url));
    await ivy.getByRole("heading", { name: "Join the team" }).waitFor();
    const serious = (await new AxeBuilder({ page: ivy }).analyze()).violations.filter(
      (v) => v.impact === "serious" || v.impact === "critical",
    );
    expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
    await ivy.getByLabel("Your name").fill("Ivy Invited");
    await ivy.getByLabel("Password").fill("ivy's own long passphrase");
    await ivy.getByRole("button", { name: "Join" }).click();
    await ivy.getByRole("button", { name: "Sign out", exact: true }).waitFor();
    expect(new URL(ivy.url()).hash).toBe("");
    await context.close();

    // The link is spent.
    const again = await (await browser.newContext({ locale: "en-US" })).newPage();
    await again.goto(link.replace("http://127.0.0.1:8080", stack.url));
    await again.getByLabel("Your name").fill("Someone Else");
    await again.getByLabel("Password").fill("another long passphrase");
    await again.getByRole("button", { name: "Join" }).click();
    await again.getByText("this invitation was used already").waitFor();
    await again.context().close();
    await admin.context().close();
  });
});
