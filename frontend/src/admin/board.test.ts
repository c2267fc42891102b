import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";

import { type Prospect, ProspectSchema, ProspectStatus } from "../gen/astro/v1/prospect_pb";
import { emptyBoard, findCard, moveCard, placeCard, removeCard, withPage } from "./board";

function card(id: string, seconds: number, status = ProspectStatus.NEW, version = 1n): Prospect {
  return create(ProspectSchema, { id, firstName: id, status, version, createdAt: { seconds: BigInt(seconds), nanos: 0 } });
}

const counts = (n: number, q: number) => [
  { status: ProspectStatus.NEW, count: BigInt(n) },
  { status: ProspectStatus.QUALIFIED, count: BigInt(q) },
];

describe("the board's state", () => {
  it("takes pages newest first, later pages after, and the server's counts", () => {
    let board = withPage(emptyBoard(), "NEW", { prospects: [card("b", 2), card("a", 1)], nextPageToken: "t", statusCounts: counts(3, 0) }, false);
    board = withPage(board, "NEW", { prospects: [card("z", 0)], nextPageToken: "", statusCounts: counts(3, 0) }, true);
    expect(board.columns.NEW.cards.map((c) => c.id)).toEqual(["b", "a", "z"]);
    expect(board.columns.NEW.nextPageToken).toBe("");
    expect(board.counts.NEW).toBe(3);
  });

  it("moves a card at once, in date order, with both counts", () => {
    let board = withPage(emptyBoard(), "NEW", { prospects: [card("b", 2), card("a", 1)], nextPageToken: "", statusCounts: counts(2, 1) }, false);
    board = withPage(board, "QUALIFIED", { prospects: [card("q", 5, ProspectStatus.QUALIFIED)], nextPageToken: "", statusCounts: counts(2, 1) }, false);
    const moved = moveCard(board, "a", "QUALIFIED");
    expect(moved.columns.NEW.cards.map((c) => c.id)).toEqual(["b"]);
    expect(moved.columns.QUALIFIED.cards.map((c) => c.id)).toEqual(["q", "a"]);
    expect(findCard(moved, "a")?.status).toBe(ProspectStatus.QUALIFIED);
    expect([moved.counts.NEW, moved.counts.QUALIFIED]).toEqual([1, 2]);
    expect(moveCard(moved, "a", "QUALIFIED")).toBe(moved);
  });

  it("rolls a failed move back by putting the card the server sent where it belongs", () => {
    const original = card("a", 1);
    let board = withPage(emptyBoard(), "NEW", { prospects: [card("b", 2), original], nextPageToken: "", statusCounts: counts(2, 0) }, false);
    board = moveCard(board, "a", "WON");
    // Rolled back to what it was…
    const back = placeCard(board, original);
    expect(back.columns.NEW.cards.map((c) => c.id)).toEqual(["b", "a"]);
    expect(back.columns.WON.cards).toEqual([]);
    expect([back.counts.NEW, back.counts.WON]).toEqual([2, 0]);
    // …or, when someone else moved it first, to where they put it.
    const theirs = placeCard(board, card("a", 1, ProspectStatus.LOST, 2n));
    expect(theirs.columns.LOST.cards.map((c) => c.version)).toEqual([2n]);
    expect(theirs.columns.WON.cards).toEqual([]);
  });

  it("removes a deleted card and its count", () => {
    const board = withPage(emptyBoard(), "NEW", { prospects: [card("a", 1)], nextPageToken: "", statusCounts: counts(1, 0) }, false);
    const after = removeCard(board, "a");
    expect(after.columns.NEW.cards).toEqual([]);
    expect(after.counts.NEW).toBe(0);
    expect(removeCard(after, "a")).toBe(after);
  });
});
