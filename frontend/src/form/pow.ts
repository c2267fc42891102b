// The self-hosted captcha, solved in the browser: an ALTCHA challenge is the
// SHA-256 of `salt + n` for a secret n ≤ maxnumber; the solution is base64
// of {algorithm, challenge, number, salt, signature}. The search runs in a
// worker made from this file's own function (a `blob:` URL), so that the
// embed script on another site's page needs no second file from our
// origin; where the page's policy forbids such workers, it runs on the main
// thread, awaiting each digest (the page stays responsive, only slower).

import type { Challenge } from "../api/rest";

/// The secret number, or null when none up to `maxnumber` fits. Self-
/// contained: its text is the worker's program.
export async function findNumber(challenge: Challenge): Promise<number | null> {
  if (challenge.algorithm !== "SHA-256") return null;
  const encoder = new TextEncoder();
  for (let n = 0; n <= challenge.maxnumber; n++) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(challenge.salt + String(n))));
    let hex = "";
    for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
    if (hex === challenge.challenge) return n;
  }
  return null;
}

/// The token to send as `captchaToken`.
export function encodeSolution(challenge: Challenge, number: number): string {
  const { algorithm, salt, signature } = challenge;
  const json = JSON.stringify({ algorithm, challenge: challenge.challenge, number, salt, signature });
  return btoa(json);
}

/// The worker's program: the search, and a message handler.
export const WORKER = `const findNumber = ${findNumber.toString()};\nonmessage = (e) => { findNumber(e.data).then((n) => postMessage(n)); };\n`;

function solved(challenge: Challenge, number: number | null): string {
  if (number === null) throw new Error("the challenge has no solution");
  return encodeSolution(challenge, number);
}

/// Solves `challenge` in a worker (on the main thread if none may start).
export function solveInWorker(challenge: Challenge): Promise<string> {
  const onMainThread = () => findNumber(challenge).then((n) => solved(challenge, n));
  let worker: Worker;
  let url: string;
  try {
    url = URL.createObjectURL(new Blob([WORKER], { type: "text/javascript" }));
    worker = new Worker(url);
  } catch {
    return onMainThread();
  }
  return new Promise<number | null>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<number | null>) => {
      resolve(event.data);
    };
    // A page policy refusing `blob:` workers ends here.
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(event.message));
    };
    worker.postMessage(challenge);
  })
    .then((n) => solved(challenge, n), onMainThread)
    .finally(() => {
      worker.terminate();
      URL.revokeObjectURL(url);
    });
}
