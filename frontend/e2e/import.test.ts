// Importing a spreadsheet in Debian's Chromium against the whole stack: a
// French CSV uploaded, its columns guessed (one changed by hand), the
// preview's errors, consent and the duplicate choice, the run to its end,
// the refused row named, the cards on the board, and the undo that takes
// them back; axe is clean and the page works from the keyboard.

import AxeBuilder from "@axe-core/playwright";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type Stack, launchBrowser, signIn, startStack, submit } from "./stack";

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack({ ASTRO_POW_MAX_NUMBER: "20000" }), launchBrowser()]);
  await submit(stack, { firstName: "Déjà", lastName: "Là", email: "deja@example.com", company: "Ancienne SARL" });
});

afterAll(async () => {
  await browser.close();
  await stack.stop();
});

const CSV = [
  "Prénom;Nom;Courriel;Société;Remarque",
  "Inès;Importée;ines@example.com;Nouvelle SAS;Vue au salon",
  "Déjà;Là;deja@example.com;Rachetée SA;",
  "Sans;Adresse;pas-une-adresse;;",
].join("\r\n");

async function axeSerious(page: import("playwright-core").Page): Promise<string[]> {
  return (await new AxeBuilder({ page }).analyze()).violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

describe("importing a spreadsheet", () => {
  it("maps, previews, runs, reports and undoes", async () => {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, stack);
    await page.getByText("Déjà Là").waitFor();
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.getByRole("heading", { name: "Import a spreadsheet (CSV)" }).waitFor();

    await page.getByLabel("CSV file").setInputFiles({ name: "salon.csv", mimeType: "text/csv", buffer: Buffer.from(CSV, "utf8") });
    await page.getByRole("heading", { name: "salon.csv: 3 rows" }).waitFor();
    expect(await page.getByLabel("Courriel").inputValue()).toBe("email");
    expect(await page.getByLabel("Société").inputValue()).toBe("company");
    expect(await page.getByLabel("Remarque").inputValue()).toBe("");
    // Without consent every row is refused; the preview says why.
    await page.getByText("3 rows refused of 3").waitFor();
    await page.getByLabel("Remarque").selectOption("message");
    await page.getByLabel("I confirm that the people in this file agreed to be contacted.").check();
    await page.getByText("1 row refused of 3").waitFor();
    await page.getByRole("row", { name: /pas-une-adresse/ }).getByText(/Courriel : /).waitFor();
    // The duplicate choice, from the keyboard.
    await page.getByLabel("skip the row").focus();
    await page.keyboard.press("ArrowDown");
    await expect.poll(() => page.getByLabel("update the existing card with the filled cells").isChecked()).toBe(true);
    expect(await axeSerious(page)).toEqual([]);

    await page.getByRole("button", { name: "Import 2 rows" }).click();
    const done = page.getByRole("row", { name: /salon\.csv/ });
    await done.getByText("1 created, 1 updated, 0 skipped, 1 refused").waitFor();
    await done.getByRole("button", { name: "Refused rows" }).click();
    await page.getByRole("table", { name: "1 row refused" }).getByRole("cell", { name: "Courriel" }).waitFor();
    expect(await axeSerious(page)).toEqual([]);

    await page.getByRole("button", { name: "Board" }).click();
    await page.getByText("Inès Importée").waitFor();
    await page.getByText("Rachetée SA").waitFor();

    // Undo: the new card leaves, the old one gets its company back.
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.getByRole("row", { name: /salon\.csv/ }).getByRole("button", { name: "Undo the import…" }).click();
    await page.getByRole("alertdialog").getByRole("button", { name: "Yes, undo" }).click();
    await page.getByRole("row", { name: /salon\.csv/ }).getByText("1 removed, 1 restored, 0 kept").waitFor();
    await page.getByRole("button", { name: "Board" }).click();
    await page.getByText("Ancienne SARL").waitFor();
    expect(await page.getByText("Inès Importée").count()).toBe(0);
    await context.close();
  });

  it("takes a file of 5 MB in one call through the edge, and refuses one over 8 MB before sending it", async () => {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, stack);
    await page.getByRole("button", { name: "Import", exact: true }).click();
    // Past gRPC's default 4 MiB message: 1,200 rows with long notes.
    const note = "n".repeat(4_000);
    const rows = Array.from({ length: 1_200 }, (_, i) => `Big${String(i)},Row,big${String(i)}@example.com,${note}`);
    const big = Buffer.from(["First name,Last name,Email,Notes", ...rows].join("\n"), "utf8");
    expect(big.length).toBeGreaterThan(4.5 * 1024 * 1024);
    await page.getByLabel("CSV file").setInputFiles({ name: "big.csv", mimeType: "text/csv", buffer: big });
    await page.getByRole("heading", { name: /^big\.csv: 1,?200 rows$/ }).waitFor();
    const huge = Buffer.alloc(8 * 1024 * 1024 + 1, "a");
    await page.getByLabel("CSV file").setInputFiles({ name: "huge.csv", mimeType: "text/csv", buffer: huge });
    await page.getByText("This file is 8.0 MB; 8 MB at most: split it.").waitFor();
    await context.close();
  });
});
