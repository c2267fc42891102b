// Keeps the board live: `WatchProspects` from the first page's cursor, on
// again from the last cursor whenever the stream ends (a deployment, the
// API's 15-minute limit) or fails (with backoff). Where streams do not get
// through (a proxy that buffers them), it falls back by itself to asking
// `ListProspectChanges` every few seconds from the same cursor — at once
// where the server says it serves no streams (UNIMPLEMENTED: on Lambda).

import { Code, ConnectError } from "@connectrpc/connect";

import type { BoardChange } from "../gen/astro/v1/prospect_pb";
import { prospects } from "./client";

/// How often the fallback asks for changes.
export const POLL_MS = 3000;
/// Stream attempts in a row that bring nothing before polling instead.
const STREAM_FAILURES_BEFORE_POLLING = 3;

export interface LiveHandlers {
  changes(changes: BoardChange[]): void;
  /// The cursor is older than the server keeps changes: reload the board.
  expired(): void;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/// Runs until `signal` aborts (or the cursor expires).
export async function watchBoard(start: string, on: LiveHandlers, signal: AbortSignal): Promise<void> {
  let cursor = start;
  let failures = 0;
  let polling = false;
  // Read afresh each time (an await may have aborted it meanwhile).
  const stopped = () => signal.aborted;
  while (!stopped()) {
    try {
      if (polling) {
        const page = await prospects.listProspectChanges({ cursor, pageSize: 500 }, { signal });
        cursor = page.cursor;
        if (page.changes.length > 0) on.changes(page.changes);
        if (page.changes.length < 500) await sleep(POLL_MS, signal);
        continue;
      }
      let received = false;
      for await (const response of prospects.watchProspects({ cursor }, { signal })) {
        received = true;
        failures = 0;
        cursor = response.cursor;
        if (response.changes.length > 0) on.changes(response.changes);
      }
      // Ended by the server: go on from the cursor (at once, unless it
      // never answered).
      if (!received) failures += 1;
    } catch (caught) {
      if (stopped()) return;
      const error = ConnectError.from(caught);
      if (error.code === Code.FailedPrecondition) {
        on.expired();
        return;
      }
      // Streams are not served here (the proof of concept on AWS Lambda).
      if (error.code === Code.Unimplemented) {
        polling = true;
        continue;
      }
      // A refused token brings the sign-in back (client.ts); the stream
      // then resumes with the new one.
      if (error.code !== Code.Unauthenticated) failures += 1;
      const backoff = Math.min(10_000, 500 * 2 ** Math.min(failures, 5));
      await sleep(backoff * (0.5 + Math.random() / 2), signal);
    }
    if (failures >= STREAM_FAILURES_BEFORE_POLLING) polling = true;
  }
}
