// A real SMTP server for the browser tests: aiosmtpd (installed by `make
// deps` into .tools/venv, as for the Rust suites) on a free loopback port,
// keeping what it receives in a maildir the tests read.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export interface Smtp {
  url: string;
  /// Waits (up to 15 s) for a message to `to`; its text, quoted-printable undone.
  waitFor(to: string, count?: number): Promise<string>;
  stop(): void;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") done(address.port);
        else fail(new Error("no port"));
      });
    });
  });
}

function accepting(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => {
      done(false);
    });
  });
}

/// Undoes quoted-printable: soft line breaks and =XX escapes.
function decode(text: string): string {
  return text.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/// A stack's settings to send its emails to `smtp`, its worker polling often.
export function emailingTo(smtp: Smtp): Record<string, string> {
  return { ASTRO_SMTP_URL: smtp.url, ASTRO_NOTIFY_FROM: "Astro Qualif <team@example.com>", ASTRO_NOTIFY_POLL_MS: "100" };
}

export async function startSmtp(): Promise<Smtp> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "astro-mail-"));
  // A maildir: aiosmtpd creates its folders only for a directory it creates.
  for (const sub of ["tmp", "new", "cur"]) mkdirSync(join(dir, sub));
  const venv = resolve(here, "../../.tools/venv/bin/python");
  const python = process.env.MOTO_PYTHON ?? (existsSync(venv) ? venv : "python3");
  const child: ChildProcess = spawn(python, ["-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${String(port)}`, "-c", "aiosmtpd.handlers.Mailbox", dir], {
    stdio: "ignore",
  });
  const deadline = Date.now() + 20_000;
  while (!(await accepting(port))) {
    if (Date.now() > deadline) throw new Error("aiosmtpd did not start: `make deps` installs it");
    await new Promise((r) => setTimeout(r, 50));
  }
  const messages = (): string[] =>
    ["new", "cur"].flatMap((sub) => {
      const path = join(dir, sub);
      return existsSync(path) ? readdirSync(path).map((f) => decode(readFileSync(join(path, f), "utf8"))) : [];
    });
  return {
    url: `smtp://127.0.0.1:${String(port)}`,
    waitFor: async (to, count = 1) => {
      const until = Date.now() + 15_000;
      for (;;) {
        const found = messages().filter((m) => m.split(/\r?\n/).some((l) => l.trimEnd() === `To: ${to}`));
        if (found.length >= count) return found[count - 1] ?? "";
        if (Date.now() > until) throw new Error(`no email to ${to} within 15 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: () => {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/// The first link in `text` that starts with `prefix`.
export function linkIn(text: string, prefix: string): string {
  const start = text.indexOf(prefix);
  if (start < 0) throw new Error(`no ${prefix} link in: ${text}`);
  return /^\S+/.exec(text.slice(start))?.[0] ?? "";
}
