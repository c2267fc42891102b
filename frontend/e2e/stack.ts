// The whole system for the browser tests: the built `astro-gateway` (with
// its in-process service) on free ports, a fresh data directory, the built
// web app, the proof-of-work captcha on. And Debian's Chromium, driven by
// playwright-core.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { type DescService, create } from "@bufbuild/protobuf";
import { type Client, type Interceptor, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { type Browser, type Page, chromium } from "playwright-core";

import type { Challenge } from "../src/api/rest";
import { type FormDefinition, FormDefinitionSchema, FormService, QuestionType, StandardField } from "../src/gen/astro/v1/form_pb";
import { encodeSolution, findNumber } from "../src/form/pow";

const here = dirname(fileURLToPath(import.meta.url));
export const ADMIN_EMAIL = "admin@example.com";
export const ADMIN_PASSWORD = "correct horse battery staple";

export interface Stack {
  url: string;
  grpc: string;
  /// Adds a member as an operator does: `astro-service user add` on the
  /// stack's data directory while it runs.
  addMember(email: string, password: string, role: "admin" | "sales" | "viewer" | "service", name?: string): Promise<void>;
  stop(): Promise<void>;
}

/// `POST /auth/login` on the stack's REST API.
export function restLogin(stack: Stack, email = ADMIN_EMAIL, password = ADMIN_PASSWORD): Promise<Response> {
  return fetch(`${stack.url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
}

/// A submission through `POST /prospects` with a solved proof of work, as
/// the form sends it: the new card's id.
export async function submit(stack: Stack, fields: Record<string, unknown>): Promise<string> {
  const challenge = (await (await fetch(`${stack.url}/captcha/challenge`)).json()) as Challenge;
  const number = await findNumber(challenge);
  if (number === null) throw new Error("unsolvable challenge");
  const response = await fetch(`${stack.url}/prospects`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ lastName: "Prospect", consent: true, captchaToken: encodeSolution(challenge, number), ...fields }),
  });
  if (response.status !== 201) throw new Error(`the submission got ${String(response.status)}`);
  return ((await response.json()) as { id: string }).id;
}

/// Signs in at /admin in English and waits for the board.
export async function signIn(page: Page, stack: Stack, email = ADMIN_EMAIL, password = ADMIN_PASSWORD): Promise<void> {
  await page.goto(`${stack.url}/admin`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out", exact: true }).waitFor();
}

/// An admin's token, signed in over REST.
export async function adminToken(stack: Stack): Promise<string> {
  return ((await (await restLogin(stack)).json()) as { token: string }).token;
}

/// A gRPC-web client of `service` with an admin's token, as the app calls it.
export async function adminClient<T extends DescService>(stack: Stack, service: T): Promise<Client<T>> {
  const token = await adminToken(stack);
  const bearer: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
  return createClient(service, createGrpcWebTransport({ baseUrl: stack.url, interceptors: [bearer] }));
}

const both = (fr: string, en: string) => ({ fr, en });

/// What a test changes in [`fairForm`].
export interface FairOptions {
  fields?: { field: StandardField; required: boolean }[];
  moreQuestions?: { id: string; kind: QuestionType; label: { fr: string; en: string } }[];
  thankYou?: { fr: string; en: string };
  defaultLanguage?: string;
  allowedOrigins?: string[];
  doubleOptIn?: boolean;
}

/// A fair's form as the tests build it: the names, a required sector
/// (Software or Retail), a number of users (1–5000), then `options`.
export function fairForm(options: FairOptions = {}): FormDefinition {
  const { fields, moreQuestions = [], ...rest } = options;
  return create(FormDefinitionSchema, {
    title: both("Salon 2027", "Fair 2027"),
    fields: fields ?? [
      { field: StandardField.FIRST_NAME, required: true },
      { field: StandardField.LAST_NAME, required: true },
    ],
    questions: [
      {
        id: "sector",
        kind: QuestionType.SINGLE_CHOICE,
        label: both("Votre secteur ?", "Your sector?"),
        required: true,
        choices: [
          { id: "saas", label: both("Logiciel", "Software") },
          { id: "retail", label: both("Commerce", "Retail") },
        ],
      },
      { id: "seats", kind: QuestionType.NUMBER, label: both("Combien d’utilisateurs ?", "How many users?"), bounds: { min: 1, max: 5000 } },
      ...moreQuestions,
    ],
    ...rest,
  });
}

/// Creates and publishes form `name` with `draft` over gRPC-web, as an admin.
export async function publishForm(stack: Stack, name: string, draft: FormDefinition): Promise<void> {
  const forms = await adminClient(stack, FormService);
  const created = await forms.createForm({ form: { name, draft } });
  await forms.publishForm({ name, version: created.version });
}

/// Starts the built gateway; resolves once it serves.
export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const binary = process.env.ASTRO_GATEWAY_BIN ?? resolve(here, "../../target/debug/astro-gateway");
  const dir = mkdtempSync(join(tmpdir(), "astro-e2e-"));
  const child: ChildProcess = spawn(binary, [], {
    env: {
      PATH: process.env.PATH ?? "",
      ASTRO_HTTP_ADDR: "127.0.0.1:0",
      ASTRO_GRPC_ADDR: "127.0.0.1:0",
      ASTRO_DATA_DIR: dir,
      ASTRO_WEB_DIR: resolve(here, "../dist"),
      ASTRO_ADMIN_EMAIL: ADMIN_EMAIL,
      ASTRO_ADMIN_PASSWORD: ADMIN_PASSWORD,
      ASTRO_BCRYPT_COST: "10",
      ASTRO_LOG_FORMAT: "json",
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const addresses = await new Promise<{ http: string; grpc: string }>((done, fail) => {
    let grpc = "";
    const timer = setTimeout(() => { fail(new Error("the gateway did not start in 30 s")); }, 30_000);
    child.once("exit", (code) => { fail(new Error(`the gateway exited (${String(code)}): is it built? (${binary})`)); });
    if (child.stdout === null) throw new Error("no stdout");
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (process.env.TEST_LOG !== undefined) console.log(`[gateway] ${line}`);
      let entry: { message?: string; addr?: string };
      try {
        entry = JSON.parse(line) as { message?: string; addr?: string };
      } catch {
        return;
      }
      if (entry.message?.startsWith("serving native gRPC") === true) grpc = entry.addr ?? "";
      if (entry.message?.startsWith("serving the REST API") === true && entry.addr !== undefined) {
        clearTimeout(timer);
        done({ http: entry.addr, grpc });
      }
    });
  });
  const service = process.env.ASTRO_SERVICE_BIN ?? resolve(dirname(binary), "astro-service");
  return {
    url: `http://${addresses.http}`,
    grpc: addresses.grpc,
    addMember: (email, password, role, name = "") =>
      new Promise((done, fail) => {
        const cli = execFile(
          service,
          ["user", "add", "--email", email, "--role", role, "--name", name],
          { env: { PATH: process.env.PATH ?? "", ASTRO_DATA_DIR: dir, ASTRO_BCRYPT_COST: "10" } },
          (error) => {
            if (error === null) done();
            else fail(new Error(`user add ${email}: ${error.message}`));
          },
        );
        cli.stdin?.end(`${password}\n`);
      }),
    stop: async () => {
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/// Debian's Chromium, headless, with nothing reaching outside the machine.
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export const artifacts = resolve(here, "../test-results");
