// A person's GDPR request in Debian's Chromium against the whole stack: an
// admin looks up the address, downloads what is held (JSON in the
// contract's form), erases it after a confirmation; the card leaves the
// board and the log shows the erasure without the address; axe is clean.

import AxeBuilder from "@axe-core/playwright";
import { readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type Stack, launchBrowser, signIn, startStack, submit } from "./stack";

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack({ ASTRO_POW_MAX_NUMBER: "20000" }), launchBrowser()]);
  await submit(stack, { firstName: "Perrine", lastName: "Privée", email: "perrine@example.com", company: "Discrète SA" });
  await submit(stack, { firstName: "Kept", lastName: "Card", email: "kept@example.com" });
});

afterAll(async () => {
  await browser.close();
  await stack.stop();
});

describe("a person's data", () => {
  it("is looked up, downloaded as JSON and erased, leaving only the record", async () => {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    await signIn(page, stack);
    await page.getByText("Perrine Privée").waitFor();
    await page.getByRole("button", { name: "Personal data" }).click();
    await page.getByRole("heading", { name: "Personal data (GDPR)" }).waitFor();

    await page.getByPlaceholder("The person's email address").fill("Perrine@Example.com");
    await page.getByRole("button", { name: "Look up" }).click();
    await page.getByRole("heading", { name: /perrine@example.com: 1 card, 1 history line/ }).waitFor();
    await page.getByRole("cell", { name: "Discrète SA" }).waitFor();
    const serious = (await new AxeBuilder({ page }).analyze()).violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
    expect(serious).toEqual([]);

    const [file] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download (JSON)" }).click()]);
    const held = JSON.parse(readFileSync(await file.path(), "utf8")) as {
      email: string;
      prospects: { firstName: string; company: string; events: unknown[]; consent: { given: boolean } }[];
    };
    expect(held.email).toBe("perrine@example.com");
    expect(held.prospects.map((p) => [p.firstName, p.company, p.events.length, p.consent.given])).toEqual([
      ["Perrine", "Discrète SA", 1, true],
    ]);

    await page.getByRole("button", { name: "Erase everything…" }).click();
    await page.getByRole("alertdialog").getByRole("button", { name: "Yes, erase" }).click();
    await page.getByRole("status").filter({ hasText: "Erased: 1 card" }).waitFor();
    const row = page.locator("table tbody tr").first();
    await row.getByRole("cell", { name: "admin@example.com" }).waitFor();
    expect(await page.locator("main").textContent()).not.toContain("perrine");

    // Retention: Lost cards kept 12 months, saved with the settings' version.
    await page.getByLabel("Lost (months)").fill("12");
    await page.getByRole("button", { name: "Save retention" }).click();
    await page.getByRole("status").filter({ hasText: "Retention saved." }).waitFor();
    // Out of bounds: the browser holds the form back (the service would name the field).
    await page.getByLabel("Won (months)").fill("0");
    await page.getByRole("button", { name: "Save retention" }).click();
    expect(await page.getByLabel("Won (months)").evaluate((e) => (e as HTMLInputElement).validity.rangeUnderflow)).toBe(true);
    await page.reload();
    await page.getByRole("button", { name: "Personal data" }).click();
    expect(await page.getByLabel("Lost (months)").inputValue()).toBe("12");

    await page.getByRole("button", { name: "Board" }).click();
    await page.getByText("Kept Card").waitFor();
    expect(await page.getByText("Perrine Privée").count()).toBe(0);
    await context.close();
  });
});
