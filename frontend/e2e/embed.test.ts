// A form on another site, in Debian's Chromium against the whole stack: an
// admin publishes a form that one origin may embed; that origin's page —
// served here on another port, with CSS that tries hard to break anything
// it can reach — embeds it by the one-line script tag, and a visitor fills
// it (a required question of the team's own included) and sends it with
// the real proof of work. The card carries the answers, the form and the
// host page's UTM. The same page on an origin the form does not allow gets
// nothing; the iframe variant works, resizes, and is framed only where
// allowed; axe is clean on the embedded form.

import { readFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";

import AxeBuilder from "@axe-core/playwright";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { StandardField } from "../src/gen/astro/v1/form_pb";
import { type Smtp, emailingTo, linkIn, startSmtp } from "./smtp";
import { type Stack, adminToken, fairForm, launchBrowser, publishForm, signIn, startStack } from "./stack";

let stack: Stack;
let browser: Browser;
let allowed: Server;
let refused: Server;
let smtp: Smtp;

const both = (fr: string, en: string) => ({ fr, en });
const origin = (server: Server) => `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;

/// A host page that styles everything it can reach, hard.
const AGGRESSIVE = `
  * { font-size: 40px !important; color: #ff00ff !important; background: #00ff00 !important; letter-spacing: 8px !important;
      text-transform: uppercase !important; box-sizing: content-box !important; margin: 30px !important; }
  form, input, label, button, select, textarea, fieldset, div { display: none !important; }
  astro-qualif-form { --astro-accent: rgb(128, 0, 32); }
  html { font-family: Georgia, serif; }
`;

function hostPage(stackUrl: string, request: string): string {
  if (request.startsWith("/iframe.html")) {
    // The iframe snippet of the builder: the frame, and a listener that sizes it.
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Iframe host</title></head><body>
      <main><h1>Our fair</h1>
      <iframe id="astro" title="Contact form" src="${stackUrl}/f/salon" style="width:100%;border:0" height="150"></iframe>
      <script>addEventListener("message", (e) => { if (e.origin === "${stackUrl}" && e.data && e.data.type === "astro-qualif:height") document.getElementById("astro").height = e.data.height; });</script>
      </main></body></html>`;
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host page</title><style>${AGGRESSIVE}</style></head>
    <body><main><h1>Welcome to our fair</h1>
    <script src="${stackUrl}/embed.js" data-form="salon" async></script>
    </main></body></html>`;
}

function serve(): Promise<Server> {
  const server = createServer((request, response) => {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(hostPage(stack.url, request.url ?? "/"));
  });
  return new Promise((done) => server.listen(0, "127.0.0.1", () => { done(server); }));
}

beforeAll(async () => {
  smtp = await startSmtp();
  [stack, browser] = await Promise.all([
    startStack({ ASTRO_POW_MAX_NUMBER: "20000", ...emailingTo(smtp) }),
    launchBrowser(),
  ]);
  [allowed, refused] = await Promise.all([serve(), serve()]);
  await publishForm(
    stack,
    "salon",
    fairForm({
      fields: [
        { field: StandardField.FIRST_NAME, required: true },
        { field: StandardField.LAST_NAME, required: true },
        { field: StandardField.COMPANY, required: false },
      ],
      thankYou: both("Merci, à bientôt au salon !", "Thank you, see you at the fair!"),
      defaultLanguage: "fr",
      allowedOrigins: [origin(allowed)],
      doubleOptIn: true,
    }),
  );
});

afterAll(async () => {
  await browser.close();
  allowed.close();
  refused.close();
  await stack.stop();
  smtp.stop();
});

interface Card {
  firstName: string;
  emailConfirmation?: string;
  form?: string;
  formVersion?: number;
  answers?: { questionId: string; choices?: string[]; number?: number; choiceLabels?: string[] }[];
  source?: { utmSource?: string; utmCampaign?: string; referrer?: string };
}

async function cards(email: string): Promise<Card[]> {
  const response = await fetch(`${stack.url}/prospects?email=${encodeURIComponent(email)}`, {
    headers: { authorization: `Bearer ${await adminToken(stack)}` },
  });
  return ((await response.json()) as { prospects: Card[] }).prospects;
}

async function open(): Promise<Page> {
  const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  return context.newPage();
}

describe("a form embedded on another site", () => {
  it("is drawn by the script tag, untouched by the page's CSS, and sends a card with its answers and the page's UTM", async () => {
    const page = await open();
    await page.goto(`${origin(allowed)}/page.html?utm_source=fair&utm_campaign=salon-2027`);
    // The page's language (English) wins over the form's own (French).
    await page.getByRole("heading", { name: "Fair 2027" }).waitFor();
    const submit = page.getByRole("button", { name: "Send my request" });
    expect(await submit.isVisible()).toBe(true);
    // The page's colours and sizes stop at the shadow root; its accent is taken.
    const style = await submit.evaluate((b) => {
      const s = getComputedStyle(b);
      return { background: s.backgroundColor, size: s.fontSize, transform: s.textTransform, font: s.fontFamily };
    });
    // The page's font is inherited; its colours, sizes and transforms are not.
    expect(style).toEqual({ background: "rgb(128, 0, 32)", size: "16px", transform: "none", font: "Georgia, serif" });

    // A required question of the team's own is checked before sending.
    await page.getByLabel("First name").fill("Hedy");
    await page.getByLabel("Last name").fill("Lamarr");
    await page.getByLabel("Work email").fill("hedy@example.com");
    await page.getByLabel("How many users?").fill("9000");
    await page.getByLabel(/I agree to be contacted/).check();
    await submit.click();
    await expect.poll(() => page.getByRole("alert").first().textContent()).toContain("The form has 2 errors");
    await expect.poll(() => page.getByText("A number from 1 to 5000.").count()).toBe(1);

    const serious = (await new AxeBuilder({ page }).include("astro-qualif-form").analyze()).violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
    expect(serious).toEqual([]);

    await page.getByRole("radio", { name: "Retail" }).check();
    await page.getByLabel("How many users?").fill("250");
    await submit.click();
    await page.getByRole("heading", { name: "Thank you, we have it!" }).waitFor({ timeout: 60_000 });
    await page.getByText("Thank you, see you at the fair!").waitFor();
    await page.getByText("One last step: open the link we just sent to hedy@example.com").waitFor();

    const [card] = await cards("hedy@example.com");
    expect(card?.form).toBe("salon");
    expect(card?.formVersion).toBe(1);
    expect(card?.answers?.map((a) => [a.questionId, a.choices ?? a.number])).toEqual([
      ["sector", ["retail"]],
      ["seats", 250],
    ]);
    expect(card?.answers?.[0]?.choiceLabels).toEqual(["Retail"]);
    expect(card?.source?.utmSource).toBe("fair");
    expect(card?.source?.utmCampaign).toBe("salon-2027");
    // No cookie on either origin, nothing stored.
    expect(await page.context().cookies()).toEqual([]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    await page.context().close();

    // On the board: the card's drawer shows its form, answers and the host page's UTM.
    const board = await open();
    await signIn(board, stack);
    await board.getByRole("button", { name: /^Hedy Lamarr/ }).click();
    const drawer = board.getByRole("dialog", { name: "Hedy Lamarr" });
    await drawer.getByText("Form: salon (version 1)").waitFor();
    expect(await drawer.locator("dl.answers dd").allTextContents()).toEqual(["Retail", "250"]);
    await drawer.getByText(/fair · salon-2027/).waitFor();
    await board.context().close();

    // The form asks for double opt-in: the emailed link confirms the card, once.
    expect(card?.emailConfirmation).toBe("pending");
    const email = await smtp.waitFor("hedy@example.com");
    expect(email).toContain("Subject: Please confirm your email address");
    const link = linkIn(email, "http://127.0.0.1:8080/confirm#").replace("http://127.0.0.1:8080", stack.url);
    const inbox = await open();
    await inbox.goto(link);
    await inbox.getByText("Thank you, your address is confirmed.").waitFor();
    expect(new URL(inbox.url()).hash).toBe("");
    expect((await cards("hedy@example.com"))[0]?.emailConfirmation).toBe("confirmed");
    const again = await inbox.context().newPage();
    await again.goto(link);
    await again.getByText("Your address was confirmed already. Thank you!").waitFor();
    await inbox.context().close();
  });

  it("costs at most 25 KB gzipped, the proof of work included", () => {
    const size = gzipSync(readFileSync(resolve(import.meta.dirname, "../dist/embed.js"))).length;
    console.log(`embed.js, gzipped: ${(size / 1024).toFixed(1)} KB`);
    expect(size).toBeLessThanOrEqual(25 * 1024);
  });

  it("is refused to an origin the form does not allow", async () => {
    const page = await open();
    await page.goto(`${origin(refused)}/page.html`);
    await page.getByText("This form is not available at the moment.").waitFor();
    expect(await page.getByRole("button", { name: "Send my request" }).count()).toBe(0);
    await page.context().close();
  });

  it("works in an iframe that fits its content, framed only where allowed", async () => {
    const page = await open();
    await page.goto(`${origin(allowed)}/iframe.html`);
    const frame = page.frameLocator("#astro");
    await frame.getByRole("heading", { name: "Fair 2027" }).waitFor();
    const height = () => page.locator("#astro").evaluate((f) => (f as HTMLIFrameElement).height);
    await expect.poll(async () => Number(await height())).toBeGreaterThan(600);
    const before = Number(await height());
    // The errors make the form taller: the frame follows.
    await frame.getByRole("button", { name: /Send my request|Envoyer ma demande/ }).click();
    await expect.poll(async () => Number(await height())).toBeGreaterThan(before);

    await frame.getByLabel(/First name|Prénom/).fill("Radia");
    await frame.getByLabel(/^(Last name|Nom)/).fill("Perlman");
    await frame.getByLabel(/Work email|E-mail professionnel/).fill("radia@example.com");
    await frame.getByRole("radio", { name: /Software|Logiciel/ }).check();
    await frame.getByLabel(/I agree to be contacted|J’accepte/).check();
    await frame.getByRole("button", { name: /Send my request|Envoyer ma demande/ }).click();
    await frame.getByText(/see you at the fair|à bientôt au salon/).waitFor({ timeout: 60_000 });
    expect((await cards("radia@example.com"))[0]?.form).toBe("salon");
    await page.context().close();

    // Elsewhere the browser refuses to frame it.
    const elsewhere = await open();
    const console: string[] = [];
    elsewhere.on("console", (m) => console.push(m.text()));
    await elsewhere.goto(`${origin(refused)}/iframe.html`);
    await expect.poll(() => console.some((m) => m.includes("frame-ancestors")), { timeout: 10_000 }).toBe(true);
    expect(await elsewhere.frameLocator("#astro").locator("form").count()).toBe(0);
    await elsewhere.context().close();
  });
});
