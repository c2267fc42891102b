// The pipeline's figures in Debian's Chromium against the whole stack:
// submissions from two sources and a first contact show up in the tables
// under the charts (the contract's answer, as text), in English and in
// French; axe is clean; the page's JavaScript is its own lazy chunk (its
// size is printed).

import AxeBuilder from "@axe-core/playwright";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type Stack, adminToken, artifacts, launchBrowser, signIn, startStack, submit } from "./stack";

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack({ ASTRO_POW_MAX_NUMBER: "20000" }), launchBrowser()]);
  const winter = { utmSource: "newsletter", utmMedium: "email", utmCampaign: "winter", referrer: "" };
  const first = await submit(stack, { firstName: "Nell", lastName: "One", email: "nell@example.com", source: winter });
  await submit(stack, { firstName: "Ned", lastName: "Two", email: "ned@example.com", source: winter });
  await submit(stack, { firstName: "Gail", lastName: "Three", email: "gail@example.com" });
  // Nell is contacted.
  const response = await fetch(`${stack.url}/prospects/${first}`, {
    method: "PATCH",
    headers: { "content-type": "application/json", authorization: `Bearer ${await adminToken(stack)}`, "if-match": '"1"' },
    body: JSON.stringify({ status: "contacted" }),
  });
  expect(response.status).toBe(200);
});

afterAll(async () => {
  await browser.close();
  await stack.stop();
});

/// The cells of the table under the chart titled `caption`, row by row.
async function table(page: Page, caption: string): Promise<string[][]> {
  const figure = page.locator("figure", { has: page.locator("figcaption", { hasText: caption }) });
  const rows = figure.locator("tbody tr");
  await rows.first().waitFor();
  const out: string[][] = [];
  for (let i = 0; i < (await rows.count()); i++) {
    out.push((await rows.nth(i).locator("th, td").allTextContents()).map((c) => c.trim()));
  }
  return out;
}

function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() === 0 ? 7 : d.getUTCDay();
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const week = Math.ceil(((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000 + 1) / 7);
  return `${String(d.getUTCFullYear())}-W${String(week).padStart(2, "0")}`;
}

describe("the insights page", () => {
  it("shows the week's prospects, the conversion and the sources as tables under their charts, in both languages", async () => {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const scripts = new Set<string>();
    page.on("response", (r) => {
      const url = new URL(r.url());
      if (url.pathname.endsWith(".js")) scripts.add(url.pathname);
    });
    await signIn(page, stack);
    const before = new Set(scripts);
    await page.getByRole("button", { name: "Figures" }).click();
    await page.getByRole("heading", { name: "The pipeline's figures" }).waitFor();

    const weeks = await table(page, "Prospects per week");
    expect(weeks.at(-1)).toEqual([isoWeek(new Date()), "3"]);
    expect(weeks).toHaveLength(12);
    expect(await table(page, "Conversion")).toEqual([
      ["New → Contacted", "33.3%"],
      ["Contacted → Qualified", "0%"],
      ["Qualified → Won", "0%"],
      ["Prospect → Won", "0%"],
    ]);
    const sources = await table(page, "By source (utm_source)");
    expect(sources.map((r) => r.slice(0, 4))).toEqual([
      ["newsletter", "2", "1", "0"],
      ["(none)", "1", "0", "0"],
    ]);
    expect((await table(page, "By campaign (utm_campaign)")).map((r) => r[0])).toEqual(["winter", "(none)"]);
    expect(await page.locator("canvas[role=img]").count()).toBe(5);
    await page.screenshot({ path: `${artifacts}/insights.png`, fullPage: true });

    const serious = (await new AxeBuilder({ page }).analyze()).violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
    expect(serious).toEqual([]);

    // Its own chunk, loaded when the page opened.
    const lazy = [...scripts].filter((s) => !before.has(s));
    expect(lazy.some((s) => s.includes("Insights"))).toBe(true);
    const dist = resolve(import.meta.dirname, "../dist");
    const size = lazy.reduce((sum, path) => sum + gzipSync(readFileSync(join(dist, path))).length, 0);
    console.log(`JavaScript, gzipped: the insights page adds ${(size / 1024).toFixed(1)} KB`);

    await page.getByRole("button", { name: "Français" }).click();
    await page.getByRole("heading", { name: "Les chiffres du pipeline" }).waitFor();
    expect((await table(page, "Conversion"))[0]).toEqual(["Nouveau → Contacté", "33,3\u00a0%"]);
    await context.close();
  });
});
