// The fit score in Debian's Chromium against the whole stack: each card
// shows its grade (text and shape), its answers in short and its age; a
// column ordered best first and the hot ones alone; the drawer says why; an
// admin raises the bar for HOT and the grades change on an open board; the
// toolbar's search field is wider than its button and the sign-in card is
// centred; axe is clean on the board and the rules.

import AxeBuilder from "@axe-core/playwright";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type Stack, artifacts, launchBrowser, signIn as signInTo, startStack, submit as submitTo } from "./stack";

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack({ ASTRO_POW_MAX_NUMBER: "20000" }), launchBrowser()]);
  // Submitted hot, then cold, then warm: newest first is not best first.
  await submitTo(stack, {
    firstName: "Grace",
    lastName: "Hopper",
    email: "grace@navy.example",
    jobTitle: "CEO",
    phone: "+33 6 12 34 56 78",
    budget: "over_50k",
    timeline: "immediate",
  });
  await submitTo(stack, {
    firstName: "Léa",
    lastName: "Martin",
    email: "lea@gmail.com",
    jobTitle: "Étudiante",
    budget: "under_5k",
    timeline: "later",
  });
  await submitTo(stack, {
    firstName: "Chloé",
    lastName: "Durand",
    email: "chloe@industrie.example",
    jobTitle: "Responsable achats",
    message: "Un devis rapidement svp",
    timeline: "within_3_months",
  });
});

afterAll(async () => {
  await browser.close();
  await stack.stop();
});

const column = (page: Page, name: string) => page.getByRole("region", { name: new RegExp(`^${name}`) });
const names = async (page: Page, name: string) =>
  (await column(page, name).locator("[data-card] strong").allTextContents()).map((n) => n.trim());
const serious = async (page: Page) =>
  (await new AxeBuilder({ page }).analyze()).violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);

describe("the fit score on the board", () => {
  it("shows each card's grade, orders a column best first, keeps the hot ones and says why", async () => {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();

    // The sign-in card sits in the middle of the page.
    await page.goto(`${stack.url}/admin`);
    const card = await page.locator(".sign-in").boundingBox();
    if (card === null) throw new Error("no sign-in card");
    expect(Math.abs(card.x - (1280 - (card.x + card.width)))).toBeLessThan(24);

    await signInTo(page, stack);
    const grace = column(page, "New").getByRole("button", { name: /^Grace Hopper/ });
    await grace.waitFor();
    // Text and shape, with the answers in short and the age in the column.
    expect(await grace.locator(".grade").textContent()).toBe("▲ Hot 90");
    expect(await grace.locator(".answers").textContent()).toBe("€50k + · Now");
    expect(await grace.locator(".age").textContent()).toMatch(/^\d+m\s*for \d+ minutes? in this column$/);
    expect(await names(page, "New")).toEqual(["Chloé Durand", "Léa Martin", "Grace Hopper"]);
    expect(await page.getByRole("heading", { name: /^New/ }).textContent()).toContain("3 prospects");

    // The toolbar: the search field is wider than its button.
    const field = await page.getByRole("searchbox").boundingBox();
    const button = await page.getByRole("button", { name: "Search", exact: true }).boundingBox();
    if (field === null || button === null) throw new Error("no search");
    expect(field.width).toBeGreaterThan(button.width * 2);
    expect(Math.abs(field.y - button.y)).toBeLessThan(4);

    await page.getByLabel("Order").selectOption("score");
    await expect.poll(() => names(page, "New")).toEqual(["Grace Hopper", "Chloé Durand", "Léa Martin"]);
    await page.getByLabel("Hot only").check();
    await expect.poll(() => names(page, "New")).toEqual(["Grace Hopper"]);
    // The counts stay the whole column's, each card counted once (the live
    // board replays the changes made just before the page was read).
    await page.waitForTimeout(1500);
    expect(await page.getByRole("heading", { name: /^New/ }).textContent()).toContain("3 prospects");
    await page.screenshot({ path: `${artifacts}/board-hot.png` });
    expect(await serious(page)).toEqual([]);
    await page.getByLabel("Hot only").uncheck();
    await expect.poll(() => names(page, "New")).toEqual(["Grace Hopper", "Chloé Durand", "Léa Martin"]);

    // Why: each rule met and its points, as a table.
    await column(page, "New").getByRole("button", { name: /^Chloé Durand/ }).click();
    const why = page.getByRole("region", { name: "Why this score" });
    await why.getByRole("table").waitFor();
    expect(await why.getByRole("row").allTextContents()).toEqual([
      "Timeline+15",
      "Job title: Managers (responsable)+10",
      "Company address (industrie.example)+10",
      "Message: Buying signals (devis)+10",
    ]);
    await context.close();
  });

  it("lets an admin raise the bar for hot, and an open board shows the new grades", async () => {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
    const watcher = await context.newPage();
    await signInTo(watcher, stack);
    const grace = column(watcher, "New").getByRole("button", { name: /^Grace Hopper/ });
    await grace.locator(".grade", { hasText: "Hot" }).waitFor();

    const admin = await context.newPage();
    await signInTo(admin, stack);
    await admin.getByRole("button", { name: "Scoring" }).click();
    await admin.getByRole("heading", { name: "Scoring rules" }).waitFor();
    expect(await serious(admin)).toEqual([]);
    // Out of bounds: refused, naming the field, nothing saved.
    await admin.getByLabel("Hot from").fill("20");
    await admin.getByRole("button", { name: "Save and re-score the cards" }).click();
    await admin.getByText(/To fix: rules.hot_threshold: must be above warm_threshold/).waitFor();
    await admin.getByLabel("Hot from").fill("95");
    await admin.getByRole("button", { name: "Save and re-score the cards" }).click();
    await admin.getByText("Version 2 saved: the cards are re-scored in the background.").waitFor();
    await admin.getByText("Every card is scored with version 2.").waitFor({ timeout: 20_000 });
    await admin.screenshot({ path: `${artifacts}/scoring.png`, fullPage: true });

    // The open board heard it: Grace's 90 is now warm.
    await grace.locator(".grade", { hasText: "Warm" }).waitFor({ timeout: 10_000 });
    expect(await grace.locator(".grade").textContent()).toBe("● Warm 90");
    await context.close();
  });

  it("lets an admin set the first-contact deadline in business hours and the days before a card stalls", async () => {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signInTo(page, stack);
    await page.getByRole("button", { name: "Team" }).click();
    const form = page.getByRole("form", { name: "First-contact deadline" });
    await form.getByLabel("Deadline in minutes (0: none)").fill("60");
    await form.getByLabel("Count business hours only").check();
    await form.getByLabel("Time zone (IANA, e.g. Europe/Paris)").fill("Mars/Olympus");
    await form.getByRole("button", { name: "Save the deadlines" }).click();
    await form.getByText(/settings.business_hours.time_zone: must be an IANA time zone/).waitFor();
    await form.getByLabel("Time zone (IANA, e.g. Europe/Paris)").fill("Europe/Paris");
    await form.getByLabel("Contacted: days before a card stalls").fill("7");
    await form.getByRole("button", { name: "Save the deadlines" }).click();
    await form.getByText("Deadlines saved.").waitFor();
    expect(await serious(page)).toEqual([]);
    await page.reload();
    await page.getByRole("button", { name: "Team" }).click();
    const again = page.getByRole("form", { name: "First-contact deadline" });
    expect(await again.getByLabel("Deadline in minutes (0: none)").inputValue()).toBe("60");
    expect(await again.getByLabel("Contacted: days before a card stalls").inputValue()).toBe("7");
    expect(await again.getByLabel("Count business hours only").isChecked()).toBe(true);
    // A card submitted now has its deadline: not overdue yet.
    await submitTo(stack, { firstName: "Dorothy", lastName: "Vaughan", email: "dorothy@nasa.example" });
    await page.getByRole("button", { name: "Board" }).click();
    const dorothy = column(page, "New").getByRole("button", { name: /^Dorothy Vaughan/ });
    await dorothy.waitFor();
    expect(await dorothy.locator(".late").count()).toBe(0);
    await context.close();
  });
});
