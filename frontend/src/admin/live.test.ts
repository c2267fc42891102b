import { create } from "@bufbuild/protobuf";
import { describe, expect, it, vi } from "vitest";

import { type BoardChange, BoardChangeKind, BoardChangeSchema } from "../gen/astro/v1/prospect_pb";
import { watchBoard } from "./live";

// What the in-memory server saw.
const served = vi.hoisted(() => ({ watches: 0, polls: [] as string[] }));

// The board's client on an in-memory Connect server that, like the proof of
// concept on AWS Lambda, serves no streams.
vi.mock("./client", async () => {
  const { Code, ConnectError, createClient, createRouterTransport } = await import("@connectrpc/connect");
  const { ProspectService } = await import("../gen/astro/v1/prospect_pb");
  const transport = createRouterTransport(({ service }) => {
    service(ProspectService, {
      watchProspects() {
        served.watches += 1;
        throw new ConnectError("streams are not served here", Code.Unimplemented);
      },
      listProspectChanges(request) {
        served.polls.push(request.cursor);
        return {
          changes: [{ kind: BoardChangeKind.CREATED, prospectId: "p1", version: 1n }],
          cursor: `${request.cursor}+1`,
        };
      },
    });
  });
  return { prospects: createClient(ProspectService, transport) };
});

describe("watchBoard", () => {
  it("polls the changes at once where the server serves no streams (UNIMPLEMENTED)", async () => {
    const controller = new AbortController();
    const seen: BoardChange[] = [];
    await watchBoard(
      "c1",
      {
        changes: (changes) => {
          seen.push(...changes);
          controller.abort();
        },
        expired: () => {
          throw new Error("the cursor did not expire");
        },
      },
      controller.signal,
    );
    // One refused stream, then polling: no retries of the stream first.
    expect(served.watches).toBe(1);
    expect(served.polls).toEqual(["c1"]);
    expect(seen).toEqual([create(BoardChangeSchema, { kind: BoardChangeKind.CREATED, prospectId: "p1", version: 1n })]);
  });
});
