// The self-hosted captcha, solved in the browser: an ALTCHA challenge is the
// SHA-256 of `salt + n` for a secret n ≤ maxnumber; the solution is base64
// of {algorithm, challenge, number, salt, signature}. The search runs in a
// worker, off the main thread, so the form stays responsive.

import type { Challenge } from "../api/rest";

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/// The secret number, or null when none up to `maxnumber` fits.
export async function findNumber(challenge: Challenge): Promise<number | null> {
  if (challenge.algorithm !== "SHA-256") return null;
  const encoder = new TextEncoder();
  for (let n = 0; n <= challenge.maxnumber; n++) {
    const digest = await crypto.subtle.digest("SHA-256", encoder.encode(challenge.salt + String(n)));
    if (hex(digest) === challenge.challenge) return n;
  }
  return null;
}

/// The token to send as `captchaToken`.
export function encodeSolution(challenge: Challenge, number: number): string {
  const { algorithm, salt, signature } = challenge;
  const json = JSON.stringify({ algorithm, challenge: challenge.challenge, number, salt, signature });
  return btoa(json);
}

/// Solves `challenge` in a worker.
export function solveInWorker(challenge: Challenge): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./pow.worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<number | null>) => {
      worker.terminate();
      if (event.data === null) reject(new Error("the challenge has no solution"));
      else resolve(encodeSolution(challenge, event.data));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message));
    };
    worker.postMessage(challenge);
  });
}
