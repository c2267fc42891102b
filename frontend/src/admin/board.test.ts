import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";

import {
  type BoardChange,
  BoardChangeKind,
  BoardChangeSchema,
  type Prospect,
  ProspectSchema,
  ProspectStatus,
} from "../gen/astro/v1/prospect_pb";
import { applyChanges, emptyBoard, findCard, moveCard, placeCard, removeCard, withPage } from "./board";

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

  it("does not count twice a change the first page's counts already had", () => {
    const board = withPage(emptyBoard(), "NEW", { prospects: [], nextPageToken: "", statusCounts: counts(2, 0) }, false);
    const at = (seconds: number) => timestampFromMs(seconds * 1000);
    const created = (id: string, seconds: number) =>
      create(BoardChangeSchema, { kind: BoardChangeKind.CREATED, prospectId: id, version: 1n, prospect: card(id, seconds), changedAt: at(seconds) });
    // A filter that shows nothing: only the counts follow.
    const hidden = () => false;
    const next = applyChanges(board, [created("old", 99), created("new", 101)], () => false, hidden, at(100));
    expect(next.counts.NEW).toBe(3);
  });

  it("keeps a board ordered by score best first, a re-scored card in its new place", () => {
    const scored = (id: string, key: string) => ({ ...card(id, 1), scoreKey: key });
    let board = withPage(
      emptyBoard("score"),
      "NEW",
      { prospects: [scored("hot", "3#100090#a"), scored("warm", "2#100045#b")], nextPageToken: "", statusCounts: counts(2, 0) },
      false,
    );
    board = placeCard(board, scored("cold", "1#099990#c"));
    board = placeCard(board, { ...scored("hot", "2#100090#a"), version: 2n });
    expect(board.columns.NEW.cards.map((c) => c.id)).toEqual(["hot", "warm", "cold"]);
    board = placeCard(board, scored("hotter", "3#100095#d"));
    expect(board.columns.NEW.cards.map((c) => c.id)).toEqual(["hotter", "hot", "warm", "cold"]);
    expect(board.order).toBe("score");
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

function change(kind: BoardChangeKind, prospect: Prospect | undefined, version: bigint, fromStatus = ProspectStatus.UNSPECIFIED, id = prospect?.id ?? ""): BoardChange {
  return create(BoardChangeSchema, { kind, prospectId: id, version, fromStatus, ...(prospect === undefined ? {} : { prospect }) });
}

describe("the live board", () => {
  const none = () => false;
  const opened = () => {
    let board = withPage(emptyBoard(), "NEW", { prospects: [card("b", 2), card("a", 1)], nextPageToken: "", statusCounts: counts(2, 1) }, false);
    board = withPage(board, "QUALIFIED", { prospects: [card("q", 5, ProspectStatus.QUALIFIED)], nextPageToken: "", statusCounts: counts(2, 1) }, false);
    return board;
  };

  it("shows a new card on top of its column, moves and edits, removes, with the counts", () => {
    let board = applyChanges(opened(), [change(BoardChangeKind.CREATED, card("c", 9), 1n)], none);
    expect(board.columns.NEW.cards.map((c) => c.id)).toEqual(["c", "b", "a"]);
    expect(board.counts.NEW).toBe(3);
    board = applyChanges(board, [change(BoardChangeKind.MOVED, card("c", 9, ProspectStatus.QUALIFIED, 2n), 2n, ProspectStatus.NEW)], none);
    expect(board.columns.QUALIFIED.cards.map((c) => c.id)).toEqual(["c", "q"]);
    expect([board.counts.NEW, board.counts.QUALIFIED]).toEqual([2, 2]);
    const edited = { ...card("c", 9, ProspectStatus.QUALIFIED, 3n), company: "Engines" };
    board = applyChanges(board, [change(BoardChangeKind.EDITED, edited, 3n)], none);
    expect(findCard(board, "c")?.company).toBe("Engines");
    board = applyChanges(board, [change(BoardChangeKind.DELETED, undefined, 4n, ProspectStatus.QUALIFIED, "c")], none);
    expect(findCard(board, "c")).toBeUndefined();
    expect(board.counts.QUALIFIED).toBe(1);
  });

  it("drops what it shows already: its own echo, a change a page had", () => {
    const board = opened();
    const echo = change(BoardChangeKind.CREATED, card("a", 1), 1n);
    expect(applyChanges(board, [echo], none)).toEqual(board);
    const older = change(BoardChangeKind.MOVED, card("q", 5, ProspectStatus.WON, 1n), 1n, ProspectStatus.QUALIFIED);
    expect(applyChanges(board, [older], none)).toEqual(board);
  });

  it("never undoes a move in flight with the echo of an earlier one", () => {
    // Moved to QUALIFIED then on to WON; the echo of the first move comes
    // back while the second is being sent.
    const optimistic = moveCard(moveCard(opened(), "a", "QUALIFIED"), "a", "WON");
    const echo = change(BoardChangeKind.MOVED, card("a", 1, ProspectStatus.QUALIFIED, 2n), 2n, ProspectStatus.NEW);
    const board = applyChanges(optimistic, [echo], (id) => id === "a");
    expect(findCard(board, "a")?.status).toBe(ProspectStatus.WON);
  });

  it("counts the moves and deletions of cards it does not show", () => {
    let board = applyChanges(opened(), [change(BoardChangeKind.DELETED, undefined, 3n, ProspectStatus.NEW, "unseen")], none);
    expect(board.counts.NEW).toBe(1);
    board = applyChanges(board, [change(BoardChangeKind.MOVED, card("old", 0, ProspectStatus.QUALIFIED, 2n), 2n, ProspectStatus.NEW)], none);
    expect([board.counts.NEW, board.counts.QUALIFIED]).toEqual([0, 2]);
    board = applyChanges(board, [change(BoardChangeKind.EDITED, card("other", 0, ProspectStatus.LOST, 2n), 2n)], none);
    expect(board.counts.LOST).toBe(0);
  });

  it("with an owner filter, keeps out the cards of others while their counts still move", () => {
    const mine = (c: Prospect) => c.owner === "ann@example.com";
    const owned = (id: string, seconds: number, owner: string, status = ProspectStatus.NEW, version = 1n) => ({
      ...card(id, seconds, status, version),
      owner,
    });
    let board = applyChanges(opened(), [change(BoardChangeKind.CREATED, owned("x", 9, "ben@example.com"), 1n)], none, mine);
    expect(findCard(board, "x")).toBeUndefined();
    expect(board.counts.NEW).toBe(3);
    board = applyChanges(board, [change(BoardChangeKind.CREATED, owned("y", 10, "ann@example.com"), 1n)], none, mine);
    expect(board.columns.NEW.cards[0]?.id).toBe("y");
    // Given to someone else: it leaves the columns; the count stays where the card is.
    const given = change(BoardChangeKind.EDITED, owned("y", 10, "ben@example.com", ProspectStatus.NEW, 2n), 2n);
    board = applyChanges(board, [given], none, mine);
    expect(findCard(board, "y")).toBeUndefined();
    expect(board.counts.NEW).toBe(4);
    const moved = change(BoardChangeKind.MOVED, owned("x", 9, "ben@example.com", ProspectStatus.QUALIFIED, 2n), 2n, ProspectStatus.NEW);
    board = applyChanges(board, [moved], none, mine);
    expect([board.counts.NEW, board.counts.QUALIFIED]).toEqual([3, 2]);
  });
});
