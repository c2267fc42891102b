// The board's export in Debian's Chromium against the whole stack: the
// panel opens from the keyboard, the download is the board's cards as CSV
// (formulas neutralised), a search exports what it found, the French board
// gets `;`, a byte order mark and French headers; axe is clean.

import AxeBuilder from "@axe-core/playwright";
import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type Stack, artifacts, launchBrowser, signIn, startStack, submit } from "./stack";

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack({ ASTRO_POW_MAX_NUMBER: "20000" }), launchBrowser()]);
  await submit(stack, { firstName: "Nell", lastName: "One", email: "nell@example.com" });
  await submit(stack, { firstName: "Ned", lastName: "Two", email: "ned@example.com" });
  await submit(stack, { firstName: "=HYPERLINK(1)", lastName: "Three", email: "gail@example.com" });
});

afterAll(async () => {
  await browser.close();
  await stack.stop();
});

/// Opens the export panel, sets its options and returns the downloaded file's text.
async function download(page: Page, open: string, button: string): Promise<{ text: string; name: string }> {
  const panel = page.locator("details.export");
  if ((await panel.getAttribute("open")) === null) {
    await page.locator("details.export summary", { hasText: open }).focus();
    await page.keyboard.press("Enter");
  }
  const [file] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: button }).click()]);
  const path = await file.path();
  return { text: readFileSync(path, "utf8"), name: file.suggestedFilename() };
}

/// The file's rows, split on CRLF, each cell unquoted (none of ours holds the separator).
function rows(text: string, separator: string): string[][] {
  return text
    .split("\r\n")
    .filter((line) => line !== "")
    .map((line) => line.split(separator).map((cell) => cell.replace(/^"|"$/g, "").replace(/""/g, '"')));
}

describe("the export", () => {
  it("downloads the board, then a search, as CSV; in French with ; and a byte order mark", async () => {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    await signIn(page, stack);
    await page.getByText("Nell One").waitFor();

    await page.locator("details.export summary").focus();
    await page.keyboard.press("Enter");
    await page.screenshot({ path: `${artifacts}/export-panel.png` });
    await page.getByLabel("Separator").selectOption(",");
    await page.getByLabel("For Excel (UTF-8 mark first)").uncheck();
    const serious = (await new AxeBuilder({ page }).analyze()).violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
    expect(serious).toEqual([]);

    const board = await download(page, "Export (CSV)", "Download");
    expect(board.name).toMatch(/^prospects-\d{4}-\d\d-\d\d\.csv$/);
    expect(board.text.startsWith('"Id","Created at","Status","First name","Last name"')).toBe(true);
    const table = rows(board.text, ",");
    expect(table).toHaveLength(4);
    const firstNames = table.slice(1).map((r) => r[3]);
    expect(firstNames.sort()).toEqual(["'=HYPERLINK(1)", "Ned", "Nell"]);
    expect(table.slice(1).every((r) => r[2] === "New")).toBe(true);
    await page.getByRole("status").filter({ hasText: "3 cards exported." }).waitFor();

    // A search: what it found.
    await page.getByRole("searchbox").fill("Nell");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByRole("heading", { name: /1 result/ }).waitFor();
    const found = rows((await download(page, "Export (CSV)", "Download")).text, ",");
    expect(found.map((r) => r[3])).toEqual(["First name", "Nell"]);

    // In French: `;` and the mark by default, French words.
    await page.getByRole("button", { name: "Back to the board" }).click();
    await page.getByRole("button", { name: "Français" }).click();
    await page.reload();
    await page.getByText("Nell One").waitFor();
    const french = await download(page, "Exporter (CSV)", "Télécharger");
    expect(french.text.startsWith('\ufeff"Identifiant";"Créé le";"Statut";"Prénom"')).toBe(true);
    expect(rows(french.text.slice(1), ";").slice(1).every((r) => r[2] === "Nouveau")).toBe(true);
    await context.close();
  });
});
