// The board's state and its changes, as pure functions: pages arriving,
// an optimistic move, a card put where the server says it is, a removal,
// the live changes of everyone else.
// Columns stay in the board's order (newest first, or best fit first);
// counts follow every change until the next page brings the server's.

import type { Timestamp } from "@bufbuild/protobuf/wkt";

import { type BoardChange, BoardChangeKind, type Prospect, ProspectStatus } from "../gen/astro/v1/prospect_pb";

const micros = (t: Timestamp | undefined) => (t?.seconds ?? 0n) * 1_000_000n + BigInt(Math.floor((t?.nanos ?? 0) / 1000));

export const COLUMNS = ["NEW", "CONTACTED", "QUALIFIED", "WON", "LOST"] as const;
export type ColumnKey = (typeof COLUMNS)[number];

export const STATUS: Record<ColumnKey, ProspectStatus> = {
  NEW: ProspectStatus.NEW,
  CONTACTED: ProspectStatus.CONTACTED,
  QUALIFIED: ProspectStatus.QUALIFIED,
  WON: ProspectStatus.WON,
  LOST: ProspectStatus.LOST,
};

export function columnOf(status: ProspectStatus): ColumnKey | undefined {
  return COLUMNS.find((c) => STATUS[c] === status);
}

export interface Column {
  cards: Prospect[];
  /// Empty on the last page.
  nextPageToken: string;
  loaded: boolean;
}

/// How the columns are ordered: as `ListProspects` reads them.
export type Order = "newest" | "score";

export interface Board {
  columns: Record<ColumnKey, Column>;
  counts: Record<ColumnKey, number>;
  order: Order;
}

export function emptyBoard(order: Order = "newest"): Board {
  const column = (): Column => ({ cards: [], nextPageToken: "", loaded: false });
  const counts = { NEW: 0, CONTACTED: 0, QUALIFIED: 0, WON: 0, LOST: 0 };
  return { columns: { NEW: column(), CONTACTED: column(), QUALIFIED: column(), WON: column(), LOST: column() }, counts, order };
}

/// Newest first, then by id (the server's order).
function newerFirst(a: Prospect, b: Prospect): number {
  const at = (p: Prospect) => (p.createdAt?.seconds ?? 0n) * 1_000_000_000n + BigInt(p.createdAt?.nanos ?? 0);
  const d = at(b) - at(a);
  return d > 0n ? 1 : d < 0n ? -1 : b.id.localeCompare(a.id);
}

/// Best fit first: the index's order (grade, score, newest), then by id.
function betterFirst(a: Prospect, b: Prospect): number {
  return a.scoreKey === b.scoreKey ? b.id.localeCompare(a.id) : a.scoreKey < b.scoreKey ? 1 : -1;
}

export function inOrder(order: Order): (a: Prospect, b: Prospect) => number {
  return order === "score" ? betterFirst : newerFirst;
}

/// A page of one column arrived (`append`: a later page), with the board's counts.
export function withPage(
  board: Board,
  column: ColumnKey,
  page: { prospects: Prospect[]; nextPageToken: string; statusCounts: { status: ProspectStatus; count: bigint }[] },
  append: boolean,
): Board {
  const counts = { ...board.counts };
  for (const c of page.statusCounts) {
    const key = columnOf(c.status);
    if (key !== undefined) counts[key] = Number(c.count);
  }
  const known = append ? board.columns[column].cards : [];
  const fresh = page.prospects.filter((p) => !known.some((k) => k.id === p.id));
  return {
    ...board,
    counts,
    columns: { ...board.columns, [column]: { cards: [...known, ...fresh], nextPageToken: page.nextPageToken, loaded: true } },
  };
}

export function findCard(board: Board, id: string): Prospect | undefined {
  for (const c of COLUMNS) {
    const card = board.columns[c].cards.find((p) => p.id === id);
    if (card !== undefined) return card;
  }
  return undefined;
}

/// The board without card `id` (and its count).
export function removeCard(board: Board, id: string): Board {
  const card = findCard(board, id);
  const from = card === undefined ? undefined : columnOf(card.status);
  if (card === undefined || from === undefined) return board;
  const column = board.columns[from];
  return {
    ...board,
    counts: { ...board.counts, [from]: Math.max(0, board.counts[from] - 1) },
    columns: { ...board.columns, [from]: { ...column, cards: column.cards.filter((p) => p.id !== id) } },
  };
}

/// `card` where its status says, in the board's order, replacing any older copy.
export function placeCard(board: Board, card: Prospect): Board {
  const to = columnOf(card.status);
  const without = removeCard(board, card.id);
  if (to === undefined) return without;
  const column = without.columns[to];
  return {
    ...without,
    counts: { ...without.counts, [to]: without.counts[to] + 1 },
    columns: { ...without.columns, [to]: { ...column, cards: [...column.cards, card].sort(inOrder(board.order)) } },
  };
}

/// The optimistic move: the card shows in `to` at once.
export function moveCard(board: Board, id: string, to: ColumnKey): Board {
  const card = findCard(board, id);
  if (card === undefined || columnOf(card.status) === to) return board;
  return placeCard(board, { ...card, status: STATUS[to] });
}

/// Applies the live board's changes (`WatchProspects`). A change for a card
/// shown at its version or a later one is dropped (the echo of our own
/// write, or a change a page already showed); so is any change for a card
/// with a move of ours in flight (`pending`): the answer to that move puts
/// it where the server has it, so an optimistic move is never undone by the
/// echo of an earlier one. Cards not shown still move the counts.
///
/// With `belongs` (a filter: one owner's cards), a card it refuses leaves
/// the columns and only the counts, which are the whole board's, follow it.
///
/// A change to a card not shown made before `readAt` (the first page's
/// `readAt`: the counts already have it) is dropped: the watch reads a
/// little behind its cursor, and would otherwise count it twice.
export function applyChanges(
  board: Board,
  changes: BoardChange[],
  pending: (id: string) => boolean,
  belongs: (card: Prospect) => boolean = () => true,
  readAt?: Timestamp,
): Board {
  let next = board;
  for (const change of changes) {
    if (pending(change.prospectId)) continue;
    const shown = findCard(next, change.prospectId);
    if (shown !== undefined && shown.version >= change.version) continue;
    if (shown === undefined && readAt !== undefined && micros(change.changedAt) < micros(readAt)) continue;
    const card = change.prospect;
    if (card !== undefined && change.kind !== BoardChangeKind.DELETED && !belongs(card)) {
      next = countOnly(next, change, card, shown);
      continue;
    }
    switch (change.kind) {
      case BoardChangeKind.CREATED:
      case BoardChangeKind.MOVED:
      case BoardChangeKind.EDITED: {
        const card = change.prospect;
        if (card === undefined) break;
        if (shown !== undefined || change.kind !== BoardChangeKind.EDITED) {
          next = placeCard(shown === undefined ? withoutCount(next, change) : next, card);
        }
        break;
      }
      case BoardChangeKind.DELETED: {
        next = shown !== undefined ? removeCard(next, change.prospectId) : withoutCount(next, change);
        break;
      }
      default:
        break;
    }
  }
  return next;
}

/// A change to a card the filter does not show: the card leaves the
/// columns, the counts move with it.
function countOnly(board: Board, change: BoardChange, card: Prospect, shown: Prospect | undefined): Board {
  if (shown === undefined && change.kind === BoardChangeKind.EDITED) return board;
  const without = shown !== undefined ? removeCard(board, shown.id) : withoutCount(board, change);
  const to = columnOf(card.status);
  if (to === undefined) return without;
  return { ...without, counts: { ...without.counts, [to]: without.counts[to] + 1 } };
}

/// The count of the column a card not shown leaves (a move or a deletion).
function withoutCount(board: Board, change: BoardChange): Board {
  const from = change.kind === BoardChangeKind.CREATED ? undefined : columnOf(change.fromStatus);
  if (from === undefined) return board;
  return { ...board, counts: { ...board.counts, [from]: Math.max(0, board.counts[from] - 1) } };
}

/// How the app names a card: its names, else (a form that did not ask
/// them) its address.
export function fullName(p: Pick<Prospect, "firstName" | "lastName" | "email">): string {
  return `${p.firstName} ${p.lastName}`.trim() || p.email;
}
