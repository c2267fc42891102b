// A form of the team's own, against the whole stack: an admin builds and
// publishes it over gRPC-web (the generated client, as the app does), a
// visitor's submission names it and answers its questions over REST, and
// the card's drawer in Debian's Chromium shows the form and the answers
// with their labels; axe is clean.

import AxeBuilder from "@axe-core/playwright";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { QuestionType } from "../src/gen/astro/v1/form_pb";
import { type Stack, fairForm, launchBrowser, publishForm, signIn, startStack, submit } from "./stack";

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack({ ASTRO_POW_MAX_NUMBER: "20000" }), launchBrowser()]);
});

afterAll(async () => {
  await browser.close();
  await stack.stop();
});

const both = (fr: string, en: string) => ({ fr, en });

describe("a form of the team's own", () => {
  it("is published, answered, and its answers show on the card", async () => {
    const demo = { id: "demo", kind: QuestionType.YES_NO, label: both("Une démo ?", "A demo?") };
    await publishForm(stack, "salon-2027", fairForm({ defaultLanguage: "en", moreQuestions: [demo] }));

    // The page's view of it: public, over REST.
    const definition = (await (await fetch(`${stack.url}/forms/salon-2027`)).json()) as { version: number; questions: { id: string }[] };
    expect([definition.version, definition.questions.map((q) => q.id)]).toEqual([1, ["sector", "seats", "demo"]]);
    await submit(stack, {
      firstName: "Fiona",
      lastName: "Fair",
      email: "fiona@example.com",
      consentLanguage: "en",
      form: "salon-2027",
      formVersion: 1,
      answers: [
        { questionId: "sector", choices: ["retail"] },
        { questionId: "seats", number: 1200 },
        { questionId: "demo", yes: true },
      ],
    });

    await submit(stack, { firstName: "Otto", email: "otto@example.com", consentLanguage: "en" });

    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, stack);
    // The board filtered on the form: its card only.
    await page.getByRole("button", { name: /^Otto Prospect/ }).waitFor();
    await page.getByLabel("Form", { exact: true }).selectOption("salon-2027");
    await expect.poll(() => page.getByRole("button", { name: /^Otto Prospect/ }).count()).toBe(0);
    expect(await page.getByLabel("Show", { exact: true }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: /^Fiona Fair/ }).click();
    const drawer = page.getByRole("dialog", { name: "Fiona Fair" });
    await drawer.getByText("Form: salon-2027 (version 1)").waitFor();
    const answers = drawer.locator("dl.answers");
    expect(await answers.locator("dt").allTextContents()).toEqual(["Your sector?", "How many users?", "A demo?"]);
    expect(await answers.locator("dd").allTextContents()).toEqual(["Retail", "1,200", "Yes"]);
    const serious = (await new AxeBuilder({ page }).include("dialog").analyze()).violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.help}`);
    expect(serious).toEqual([]);
    await context.close();
  });

  it("is built in the web app: questions added, reordered by keyboard, saved and published", async () => {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, stack);
    await page.getByRole("button", { name: "Forms", exact: true }).click();
    await page.getByRole("heading", { name: "Forms", exact: true }).waitFor();
    await page.getByLabel("New form's name (lower-case letters, digits, hyphens)").fill("fair");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const editor = page.getByRole("form", { name: "Form “fair”" });
    await editor.waitFor();

    // Two questions; the second, a choice, moved first by keyboard.
    await editor.getByRole("button", { name: "Add a question" }).click();
    const first = editor.getByRole("group", { name: "Question 1" });
    await first.getByLabel("Id", { exact: true }).fill("team-size");
    await first.getByLabel("Kind").selectOption({ label: "Number" });
    await first.getByLabel("Label (French)").fill("Taille de l’équipe");
    await first.getByLabel("Label (English)").fill("Team size");
    await editor.getByRole("button", { name: "Add a question" }).click();
    const second = editor.getByRole("group", { name: "Question 2" });
    await second.getByLabel("Id", { exact: true }).fill("sector");
    await second.getByLabel("Kind").selectOption({ label: "Single choice" });
    await second.getByLabel("Required").check();
    await second.getByLabel("Label (French)").fill("Secteur");
    await second.getByLabel("Label (English)").fill("Sector");
    for (const [n, fr, en] of [
      [1, "Logiciel", "Software"],
      [2, "Commerce", "Retail"],
    ] as const) {
      await second.getByRole("button", { name: "Add a choice" }).click();
      await second.getByLabel(`Choice ${String(n)} (French)`).fill(fr);
      await second.getByLabel(`Choice ${String(n)} (English)`).fill(en);
    }
    await second.getByRole("button", { name: "Move question 2 up" }).focus();
    await page.keyboard.press("Enter");
    expect(await editor.getByRole("group", { name: "Question 1" }).getByLabel("Id", { exact: true }).inputValue()).toBe("sector");
    const serious = (await new AxeBuilder({ page }).analyze()).violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
    expect(serious).toEqual([]);

    // The live preview, in both languages, checks as visitors' forms do.
    const preview = page.getByRole("region", { name: "Preview of the draft" });
    await preview.getByRole("radiogroup", { name: "Secteur" }).waitFor();
    await preview.getByRole("button", { name: "English" }).click();
    await preview.getByRole("radiogroup", { name: "Sector" }).waitFor();
    await preview.getByLabel("Team size").fill("many");
    await preview.getByRole("button", { name: "Send my request" }).click();
    await preview.getByText("Enter a number.").waitFor();
    await preview.getByText("This field is required.").first().waitFor();

    await editor.getByRole("button", { name: "Publish" }).click();
    await page.getByRole("status").filter({ hasText: "Published: version 1." }).waitFor();
    // The line to paste on another site.
    const snippet = page.getByLabel("Script (fits the page, recommended)");
    expect(await snippet.inputValue()).toBe(`<script src="${stack.url}/embed.js" data-form="fair" async></script>`);
    const definition = (await (await fetch(`${stack.url}/forms/fair`)).json()) as {
      questions: { id: string; kind: string; required: boolean; choices?: { label: { en: string } }[] }[];
    };
    expect(definition.questions.map((q) => [q.id, q.kind, q.required])).toEqual([
      ["sector", "single_choice", true],
      ["team-size", "number", false],
    ]);
    expect(definition.questions[0]?.choices?.map((c) => c.label.en)).toEqual(["Software", "Retail"]);
    await context.close();
  });
});
