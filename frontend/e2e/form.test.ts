// The public form in Debian's Chromium against the whole stack: French and
// English with the real proof of work, validation, a retry on a flaky
// network that makes one card only, accessibility (axe), a 360 px phone,
// and the JavaScript the form costs (no framework: the page is drawn by
// the same code as the embed).

import { readFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

import AxeBuilder from "@axe-core/playwright";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type Stack, adminToken, artifacts, launchBrowser, startStack } from "./stack";

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
  mkdirSync(artifacts, { recursive: true });
});

afterAll(async () => {
  await browser.close();
  await stack.stop();
});

interface Card {
  id: string;
  firstName: string;
  email: string;
  company: string;
  budget?: string;
  source?: { utmSource?: string; utmCampaign?: string };
}

async function cardsWithEmail(email: string): Promise<Card[]> {
  const response = await fetch(`${stack.url}/prospects?email=${encodeURIComponent(email)}`, {
    headers: { authorization: `Bearer ${await adminToken(stack)}` },
  });
  return ((await response.json()) as { prospects: Card[] }).prospects;
}

async function page(locale: string, width = 1280): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ locale, viewport: { width, height: 900 } });
  return { context, page: await context.newPage() };
}

describe("the public form", () => {
  it("is filled and sent in French with the real proof of work", async () => {
    const { context, page: p } = await page("fr-FR");
    await p.goto(`${stack.url}/?utm_source=newsletter&utm_campaign=printemps`);
    await expect.poll(() => p.locator("html").getAttribute("lang")).toBe("fr");
    await p.getByLabel("Prénom").fill("Ada");
    await p.getByLabel(/^Nom/).fill("Lovelace");
    await p.getByLabel("E-mail professionnel").fill("ada.fr@example.com");
    await p.getByLabel("Entreprise").fill("Machines Analytiques");
    await p.getByLabel("Votre besoin").fill("Qualifier nos prospects plus vite.");
    await p.getByLabel("Budget").selectOption("5k_to_20k");
    await p.getByLabel(/J’accepte d’être recontacté/).check();
    await p.getByRole("button", { name: "Envoyer ma demande" }).click();
    await p.getByRole("heading", { name: "Merci, c’est reçu !" }).waitFor({ timeout: 60_000 });

    const [card] = await cardsWithEmail("ada.fr@example.com");
    expect(card?.firstName).toBe("Ada");
    expect(card?.company).toBe("Machines Analytiques");
    expect(card?.budget).toBe("5k_to_20k");
    expect(card?.source?.utmSource).toBe("newsletter");
    expect(card?.source?.utmCampaign).toBe("printemps");
    await context.close();
  });

  it("is sent in English, checks its fields first, and remembers the language", async () => {
    const { context, page: p } = await page("en-US");
    await p.goto(stack.url);
    await p.getByRole("button", { name: "Send my request" }).click();
    // Nothing sent: the errors are on the fields, the first one focused.
    await expect.poll(() => p.getByRole("alert").textContent()).toContain("The form has 4 errors");
    await expect.poll(() => p.evaluate(() => document.activeElement?.getAttribute("name"))).toBe("firstName");
    expect(await p.getByLabel("First name").getAttribute("aria-invalid")).toBe("true");
    await p.getByLabel("Work email").fill("not an address");

    await p.getByLabel("First name").fill("Grace");
    await p.getByLabel("Last name").fill("Hopper");
    await p.getByLabel("Work email").fill("grace.en@example.com");
    await p.getByLabel("Phone").fill("+1 202 555 0142");
    await p.getByLabel("Timeline").selectOption("within_3_months");
    await p.getByLabel(/I agree to be contacted/).check();
    await p.getByRole("button", { name: "Send my request" }).click();
    await p.getByRole("heading", { name: "Thank you, we have it!" }).waitFor({ timeout: 60_000 });
    expect((await cardsWithEmail("grace.en@example.com")).length).toBe(1);

    // Switched to French, and still French after a reload.
    await p.goto(stack.url);
    await p.getByRole("button", { name: "Français" }).click();
    await p.getByRole("heading", { name: "Parlons de votre projet" }).waitFor();
    await p.reload();
    await p.getByRole("heading", { name: "Parlons de votre projet" }).waitFor();
    await context.close();
  });

  it("retried after a lost answer, makes one card only", async () => {
    const { context, page: p } = await page("en-US");
    let lost = 0;
    // The first answer is lost on the way back: the server did create the card.
    await p.route("**/prospects", async (route) => {
      if (route.request().method() === "POST" && lost === 0) {
        lost += 1;
        await route.fetch();
        await route.abort("connectionreset");
        return;
      }
      await route.continue();
    });
    await p.goto(stack.url);
    await p.getByLabel("First name").fill("Katherine");
    await p.getByLabel("Last name").fill("Johnson");
    await p.getByLabel("Work email").fill("katherine@example.com");
    await p.getByLabel(/I agree to be contacted/).check();
    await p.getByRole("button", { name: "Send my request" }).click();
    await expect.poll(() => p.getByRole("alert").textContent(), { timeout: 60_000 }).toContain("Could not connect");
    await p.getByRole("button", { name: "Send my request" }).click();
    await p.getByRole("heading", { name: "Thank you, we have it!" }).waitFor({ timeout: 60_000 });
    expect(lost).toBe(1);
    expect((await cardsWithEmail("katherine@example.com")).length).toBe(1);
    await context.close();
  });

  it("has no serious accessibility violation, in either language and with errors shown", async () => {
    for (const locale of ["fr-FR", "en-US"]) {
      const { context, page: p } = await page(locale);
      await p.goto(stack.url);
      await p.locator("form").waitFor();
      await p.getByRole("button").last().click();
      await p.getByRole("alert").waitFor();
      const results = await new AxeBuilder({ page: p }).analyze();
      const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
      // The honeypot is out of reach of people and screen readers.
      expect(await p.locator("input[name=website]").getAttribute("tabindex")).toBe("-1");
      expect(await p.locator(".honeypot").getAttribute("aria-hidden")).toBe("true");
      await context.close();
    }
  });

  it("fits a 360 px phone with no horizontal scroll", async () => {
    const { context, page: p } = await page("fr-FR", 360);
    await p.goto(stack.url);
    await p.locator("form").waitFor();
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    await p.screenshot({ path: join(artifacts, "form-360px.png"), fullPage: true });
    expect(overflow).toBe(0);
    await context.close();
  });

  it("costs at most 25 KB of gzipped JavaScript, no framework, the proof of work in a worker", async () => {
    const { context, page: p } = await page("en-US");
    const scripts = new Set<string>();
    const workers: string[] = [];
    p.on("worker", (w) => workers.push(w.url()));
    p.on("response", (r) => {
      const url = new URL(r.url());
      if (url.pathname.endsWith(".js")) scripts.add(url.pathname);
    });
    await p.goto(stack.url);
    await p.getByLabel("First name").fill("Mary");
    await expect.poll(() => p.getByText("Robot check done.").count(), { timeout: 60_000 }).toBe(1);
    const dist = resolve(import.meta.dirname, "../dist");
    const size = (path: string) => gzipSync(readFileSync(join(dist, path))).length;
    const form = [...scripts].reduce((sum, path) => sum + size(path), 0);
    expect(workers.some((url) => url.startsWith("blob:"))).toBe(true);
    expect([...scripts].some((s) => s.includes("Admin") || s.includes("boot") || s.includes("jsx-runtime"))).toBe(false);

    const admin = new Set<string>();
    const adminPage = await context.newPage();
    adminPage.on("response", (r) => {
      const url = new URL(r.url());
      if (url.pathname.endsWith(".js")) admin.add(url.pathname);
    });
    await adminPage.goto(`${stack.url}/admin`);
    await adminPage.waitForLoadState("networkidle");
    const adminOnly = [...admin].filter((s) => !scripts.has(s)).reduce((sum, path) => sum + size(path), 0);
    console.log(`JavaScript, gzipped: the form ${(form / 1024).toFixed(1)} KB; /admin adds ${(adminOnly / 1024).toFixed(1)} KB`);
    expect(form).toBeLessThanOrEqual(25 * 1024);
    await context.close();
  });

  it("answers in the names and values of the gateway's OpenAPI document", async () => {
    const document = (await (await fetch(`${stack.url}/openapi.json`)).json()) as {
      components: { schemas: Record<string, { properties?: Record<string, unknown>; enum?: string[] }> };
    };
    const { BUDGETS, PUBLISHED_FORM_FIELDS, SUBMISSION_FIELDS, TIMELINES } = await import("../src/api/rest");
    const submission = document.components.schemas.ProspectSubmission?.properties ?? {};
    expect(Object.keys(submission).sort()).toEqual([...SUBMISSION_FIELDS].sort());
    const published = document.components.schemas.PublishedForm?.properties ?? {};
    expect(Object.keys(published).sort()).toEqual([...PUBLISHED_FORM_FIELDS].sort());
    expect(document.components.schemas.Budget?.enum).toEqual([...BUDGETS]);
    expect(document.components.schemas.Timeline?.enum).toEqual([...TIMELINES]);
  });
});
