// The board: one column per status with its count, cards newest first,
// more loaded as a column scrolls. Cards move by drag and drop — pointer or
// keyboard (Space, arrows, Space) — shown at once and rolled back if the
// server refuses; a card opens in a drawer.

import {
  DndContext,
  type DragEndEvent,
  KeyboardSensor,
  PointerSensor,
  type KeyboardCoordinateGetter,
  useDraggable,
  useDroppable,
  useSensor,
  useSensors,
} from "@dnd-kit/core";
import { Code, ConnectError } from "@connectrpc/connect";
import { useCallback, useContext, useEffect, useId, useRef, useState } from "react";

import type { TeamSettings } from "../gen/astro/v1/member_pb";
import { FitGrade, type Prospect, ProspectStatus, ProspectView } from "../gen/astro/v1/prospect_pb";
import { CardDrawer } from "./CardDrawer";
import { ExportButton } from "./Export";
import { Age, GradeBadge, LateMarks, NowContext, SettingsContext, ShortAnswers, lateness, useMinuteClock } from "./fit";
import { forms as formClient, members as memberClient, prospects } from "./client";
import { watchBoard } from "./live";
import {
  type Board as BoardState,
  COLUMNS,
  type Order,
  applyChanges,
  type ColumnKey,
  STATUS,
  columnOf,
  emptyBoard,
  findCard,
  fullName,
  moveCard,
  placeCard,
  removeCard,
  withPage,
} from "./board";
import { canWork, useClaims } from "./session";
import { initials, nameOf as memberName, owners, useTeam } from "./team";
import { useAdminText } from "./texts";

const PAGE_SIZE = 50;


/// What a card shows on the board and in search results (as text, always);
/// its owner as initials, named in full for screen readers.
function CardSummary({ card }: { card: Prospect }) {
  const { a } = useAdminText();
  const { members } = useTeam();
  const owner = card.owner === "" ? null : memberName(members, card.owner);
  const now = useContext(NowContext);
  return (
    <>
      <strong>{fullName(card)}</strong>
      {card.company !== "" ? <span className="company">{card.company}</span> : null}
      <span className="email">{card.email}</span>
      <span className="card-meta">
        <GradeBadge card={card} />
        <LateMarks card={card} now={now} />
        <ShortAnswers card={card} />
        <Age card={card} now={now} />
      </span>
      {owner !== null ? (
        <span className="owner">
          <span aria-hidden="true" className="initials" title={owner}>
            {initials(owner)}
          </span>
          <span className="visually-hidden">{a("card.owner", { name: owner })}</span>
        </span>
      ) : null}
    </>
  );
}

/// Arrow keys jump from column to column (the columns sit side by side).
/// The columns are measured from the page itself: right after a drag starts
/// dnd-kit may not have measured its drop targets yet.
const betweenColumns: KeyboardCoordinateGetter = (event, { context }) => {
  const { active, collisionRect } = context;
  const step = event.code === "ArrowRight" ? 1 : event.code === "ArrowLeft" ? -1 : 0;
  if (active === null || collisionRect === null || step === 0) return undefined;
  const columns = COLUMNS.map((c) => document.querySelector(`section[data-column="${c}"]`)?.getBoundingClientRect()).filter(
    (r) => r !== undefined,
  );
  const centre = collisionRect.left + collisionRect.width / 2;
  const current = columns.findIndex((r) => centre >= r.left && centre <= r.right);
  const target = columns[Math.min(columns.length - 1, Math.max(0, (current === -1 ? 0 : current) + step))];
  if (target === undefined) return undefined;
  event.preventDefault();
  return { x: target.left + target.width / 2 - collisionRect.width / 2, y: target.top + 8 };
};

export function Board() {
  const { a } = useAdminText();
  const claims = useClaims();
  const { members } = useTeam();
  const [board, setBoard] = useState<BoardState>(emptyBoard);
  // Whose cards the board shows: everyone's (""), the caller's ("me") or a member's.
  const [owner, setOwner] = useState("");
  // Newest or best fit first; every grade or the hot ones only.
  const [order, setOrder] = useState<Order>("newest");
  const [hotOnly, setHotOnly] = useState(false);
  // Only the cards waiting too long: overdue in New, stalled elsewhere.
  const [late, setLate] = useState(false);
  // Only one form's cards (newest first; the other filters wait meanwhile).
  const [form, setForm] = useState("");
  const [formNames, setFormNames] = useState<string[]>([]);
  useEffect(() => {
    const stop = new AbortController();
    formClient.listForms({}, { signal: stop.signal }).then(
      (listed) => {
        setFormNames(listed.forms.map((f) => f.name));
      },
      () => undefined,
    );
    return () => {
      stop.abort();
    };
  }, []);
  const now = useMinuteClock();
  const [settings, setSettings] = useState<TeamSettings | null>(null);
  useEffect(() => {
    const stop = new AbortController();
    memberClient.getTeamSettings({}, { signal: stop.signal }).then(setSettings, () => undefined);
    return () => {
      stop.abort();
    };
  }, []);
  // As the server reads them: the hot ones come best first.
  const sorted: Order = order === "score" || hotOnly ? "score" : "newest";
  const orderBy = sorted === "score" && !late ? "score desc" : "";
  const grade = hotOnly && !late ? FitGrade.HOT : FitGrade.UNSPECIFIED;
  /// What one column's page asks for: the late ones, or the board's filters.
  const request = useCallback(
    (column: ColumnKey) =>
      form !== ""
        ? { status: STATUS[column], form }
        : late
          ? { status: STATUS[column], overdue: column === "NEW", stale: column !== "NEW" }
          : { status: STATUS[column], owner, orderBy, grade },
    [form, late, owner, orderBy, grade],
  );
  const [notice, setNotice] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);

  // Moves of one card go to the server one after the other, each with the
  // version the previous one got back: a quick second move never races the
  // first. Only the last answer is drawn, so a move is not undone by the
  // answer to an earlier one.
  const versions = useRef(new Map<string, bigint>());
  const queues = useRef(new Map<string, { done: Promise<void>; last: number }>());
  const tickets = useRef(0);

  const loadPage = useCallback(
    async (column: ColumnKey, pageToken: string) => {
      const page = await prospects.listProspects({ ...request(column), pageSize: PAGE_SIZE, pageToken });
      setBoard((b) => withPage(b, column, page, pageToken !== ""));
    },
    [request],
  );

  // Every column's first page at once; then the board's changes, live, from
  // the cursor of the first page asked for (the other pages were read after
  // it, so nothing between is missed; what they show already is dropped by
  // version). A cursor too old for the server reloads it all.
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const stop = new AbortController();
    const wanted = owner === "me" ? (claims?.email ?? "") : owner;
    const belongs = (card: Prospect) => {
      if (form !== "") return card.form?.name === form;
      if (late) {
        const { overdue, staleDays } = lateness(card, settings, Date.now());
        return overdue || staleDays !== null;
      }
      return (wanted === "" || card.owner === wanted) && (grade === FitGrade.UNSPECIFIED || card.fit?.grade === grade);
    };
    COLUMNS.forEach((column, i) => {
      prospects.listProspects({ ...request(column), pageSize: PAGE_SIZE }, { signal: stop.signal }).then(
        (page) => {
          setBoard((b) => withPage(b, column, page, false));
          if (i !== 0) return;
          const readAt = page.readAt;
          void watchBoard(
            page.watchCursor,
            {
              changes: (changes) => {
                setBoard((b) => applyChanges(b, changes, (id) => queues.current.has(id), belongs, readAt));
              },
              expired: () => {
                setBoard(emptyBoard(sorted));
                setGeneration((g) => g + 1);
              },
            },
            stop.signal,
          );
        },
        () => undefined,
      );
    });
    return () => {
      stop.abort();
    };
  }, [generation, owner, grade, sorted, late, form, settings, request, claims?.email]);

  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 6 } }),
    useSensor(KeyboardSensor, {
      coordinateGetter: betweenColumns,
      keyboardCodes: { start: ["Space"], cancel: ["Escape"], end: ["Space"] },
    }),
  );


  function move(id: string, to: ColumnKey) {
    const before = findCard(board, id);
    if (before === undefined || columnOf(before.status) === to) return;
    setBoard((b) => moveCard(b, id, to));
    setNotice(null);
    const ticket = ++tickets.current;
    const previous = queues.current.get(id)?.done ?? Promise.resolve();
    const done = previous.then(() => send(id, to, before, ticket));
    queues.current.set(id, { done, last: ticket });
  }

  async function send(id: string, to: ColumnKey, before: Prospect, ticket: number) {
    const latest = () => queues.current.get(id)?.last === ticket;
    try {
      const saved = await prospects.updateProspect({
        prospect: { id, version: versions.current.get(id) ?? before.version, status: STATUS[to] },
        updateMask: { paths: ["status"] },
      });
      versions.current.set(id, saved.version);
      if (latest()) setBoard((b) => placeCard(b, saved));
    } catch (caught) {
      const error = ConnectError.from(caught);
      let shown = before;
      try {
        // Shown as the server has it now (someone else may have moved it).
        shown = await prospects.getProspect({ id, view: ProspectView.BASIC });
        versions.current.set(id, shown.version);
      } catch {
        // Unreachable: back where it was.
      }
      setBoard((b) => placeCard(b, shown));
      const name = fullName(before);
      setNotice(error.code === Code.Aborted ? a("move.conflict", { name }) : a("move.failed", { name }));
    } finally {
      if (latest()) {
        queues.current.delete(id);
        versions.current.delete(id);
      }
    }
  }

  function onDragEnd(event: DragEndEvent) {
    const to = event.over?.id;
    if (typeof to === "string" && (COLUMNS as readonly string[]).includes(to)) {
      move(String(event.active.id), to as ColumnKey);
    }
  }

  const nameOf = (id: string | number) => {
    const card = findCard(board, String(id));
    return card === undefined ? "" : fullName(card);
  };
  const columnName = (id: string | number | undefined) =>
    id !== undefined && (COLUMNS as readonly string[]).includes(String(id)) ? a(`status.${id as ColumnKey}`) : "";

  const [query, setQuery] = useState("");
  const [results, setResults] = useState<{ query: string; cards: Prospect[] } | null>(null);

  async function runSearch(text: string) {
    const q = text.trim();
    if (q === "") {
      setResults(null);
      return;
    }
    try {
      const page = await prospects.listProspects({ query: q, pageSize: PAGE_SIZE });
      setResults({ query: q, cards: page.prospects });
    } catch (caught) {
      setNotice(ConnectError.from(caught).rawMessage);
    }
  }

  return (
    <SettingsContext.Provider value={settings}>
      <NowContext.Provider value={now}>
        <div className="board-tools">
          <form
            role="search"
            className="search"
            onSubmit={(e) => {
              e.preventDefault();
              void runSearch(query);
            }}
          >
            <label htmlFor="board-search" className="visually-hidden">
              {a("search.label")}
            </label>
            <input
              id="board-search"
              type="search"
              placeholder={a("search.label")}
              maxLength={100}
              value={query}
              onChange={(e) => {
                setQuery(e.target.value);
              }}
            />
            <button type="submit" className="secondary">
              {a("search.submit")}
            </button>
          </form>
          <div className="owner-filter field">
            <label htmlFor="board-form">{a("filter.form")}</label>
            <select
              id="board-form"
              value={form}
              onChange={(e) => {
                setBoard(emptyBoard(e.target.value === "" ? sorted : "newest"));
                setForm(e.target.value);
              }}
            >
              <option value="">{a("filter.anyForm")}</option>
              {formNames.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </div>
          <div className="owner-filter field">
            <label htmlFor="board-owner">{a("filter.owner")}</label>
            <select
              id="board-owner"
              disabled={form !== ""}
              value={owner}
              onChange={(e) => {
                setBoard(emptyBoard(sorted));
                setOwner(e.target.value);
              }}
            >
              <option value="">{a("filter.everyone")}</option>
              {canWork(claims) ? <option value="me">{a("filter.mine")}</option> : null}
              {owners(members).map((m) => (
                <option key={m.email} value={m.email}>
                  {memberName(members, m.email)}
                </option>
              ))}
            </select>
          </div>
          <div className="board-order field">
            <label htmlFor="board-order">{a("board.order")}</label>
            <select
              id="board-order"
              disabled={form !== ""}
              value={order}
              onChange={(e) => {
                const next = e.target.value === "score" ? "score" : "newest";
                setBoard(emptyBoard(next === "score" || hotOnly ? "score" : "newest"));
                setOrder(next);
              }}
            >
              <option value="newest">{a("board.order.newest")}</option>
              <option value="score">{a("board.order.score")}</option>
            </select>
          </div>
          <div className="board-hot check">
            <input
              id="board-hot"
              type="checkbox"
              disabled={form !== ""}
              checked={hotOnly}
              onChange={(e) => {
                setBoard(emptyBoard(e.target.checked || order === "score" ? "score" : "newest"));
                setHotOnly(e.target.checked);
              }}
            />
            <label htmlFor="board-hot">{a("board.hotOnly")}</label>
          </div>
          <div className="board-hot check">
            <input
              id="board-late"
              type="checkbox"
              disabled={form !== ""}
              checked={late}
              onChange={(e) => {
                setBoard(emptyBoard(e.target.checked ? "newest" : sorted));
                setLate(e.target.checked);
              }}
            />
            <label htmlFor="board-late">{a("board.late")}</label>
          </div>
          <ExportButton
            filter={
              results !== null
                ? { query: results.query }
                : form !== ""
                  ? { form }
                  : late
                  ? { overdue: true, stale: true }
                  : { owner, orderBy, grade }
            }
          />
        </div>
        <div role="status" aria-live="polite" className={notice !== null ? "alert" : "visually-hidden"}>
          {notice}
        </div>
        {results !== null ? (
          <section className="results" aria-labelledby="search-results">
            <h2 id="search-results">{a("search.results", { count: results.cards.length, query: results.query })}</h2>
            <ul className="cards">
              {results.cards.map((card) => (
                <li key={card.id}>
                  <button
                    type="button"
                    className="prospect"
                    onClick={() => {
                      setOpen(card.id);
                    }}
                  >
                    <CardSummary card={card} />
                  </button>
                </li>
              ))}
            </ul>
            <button
              type="button"
              className="link"
              onClick={() => {
                setResults(null);
                setQuery("");
              }}
            >
              {a("search.clear")}
            </button>
          </section>
        ) : null}
        <DndContext
          sensors={sensors}
          onDragEnd={onDragEnd}
          accessibility={{
            screenReaderInstructions: { draggable: a("card.moveHint") },
            announcements: {
              onDragStart: ({ active }) => a("dnd.picked", { name: nameOf(active.id), column: columnName(columnOf(findCard(board, String(active.id))?.status ?? ProspectStatus.UNSPECIFIED)) }),
              onDragOver: ({ active, over }) => a("dnd.over", { name: nameOf(active.id), column: columnName(over?.id) }),
              onDragEnd: ({ active, over }) => a("dnd.moved", { name: nameOf(active.id), column: columnName(over?.id) }),
              onDragCancel: ({ active }) => a("dnd.cancelled", { name: nameOf(active.id) }),
            },
          }}
        >
          <div className="board">
            {COLUMNS.map((column) => (
              <BoardColumn
                key={column}
                column={column}
                cards={board.columns[column].cards}
                count={board.counts[column]}
                more={board.columns[column].nextPageToken}
                onMore={(token) => void loadPage(column, token).catch(() => undefined)}
                onOpen={setOpen}
              />
            ))}
          </div>
        </DndContext>
        {open !== null ? (
          <CardDrawer
            id={open}
            card={findCard(board, open) ?? results?.cards.find((c) => c.id === open)}
            onClose={() => {
              setOpen(null);
            }}
            onSaved={(card) => {
              setBoard((b) => placeCard(b, card));
              setResults((r) => (r === null ? r : { ...r, cards: r.cards.map((c) => (c.id === card.id ? card : c)) }));
            }}
            onDeleted={(id) => {
              setBoard((b) => removeCard(b, id));
              setResults((r) => (r === null ? r : { ...r, cards: r.cards.filter((c) => c.id !== id) }));
              setOpen(null);
            }}
          />
        ) : null}
      </NowContext.Provider>
    </SettingsContext.Provider>
  );
}

function BoardColumn(props: {
  column: ColumnKey;
  cards: Prospect[];
  count: number;
  more: string;
  onMore: (token: string) => void;
  onOpen: (id: string) => void;
}) {
  const { a } = useAdminText();
  const { column, cards, count, more, onMore, onOpen } = props;
  const { setNodeRef, isOver } = useDroppable({ id: column });
  const headingId = useId();
  const sentinel = useRef<HTMLButtonElement>(null);

  // More cards as the column scrolls to its end.
  useEffect(() => {
    const node = sentinel.current;
    if (node === null || more === "") return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) onMore(more);
    });
    observer.observe(node);
    return () => {
      observer.disconnect();
    };
  }, [more, onMore]);

  return (
    <section ref={setNodeRef} className={isOver ? "column over" : "column"} aria-labelledby={headingId} data-column={column}>
      <h2 id={headingId}>
        {a(`status.${column}`)} <span className="count">{a("column.count", { count })}</span>
      </h2>
      <ul className="cards">
        {cards.map((card) => (
          <CardItem key={card.id} card={card} onOpen={onOpen} />
        ))}
      </ul>
      {cards.length === 0 ? <p className="empty">{a("column.empty")}</p> : null}
      {more !== "" ? (
        <button
          ref={sentinel}
          type="button"
          className="secondary more"
          onClick={() => {
            onMore(more);
          }}
        >
          {a("column.more")}
        </button>
      ) : null}
    </section>
  );
}

function CardItem({ card, onOpen }: { card: Prospect; onOpen: (id: string) => void }) {
  // A member who may not move cards gets no drag handle: the card only opens.
  if (!canWork(useClaims())) return <ReadOnlyCard card={card} onOpen={onOpen} />;
  return <MovableCard card={card} onOpen={onOpen} />;
}

function ReadOnlyCard({ card, onOpen }: { card: Prospect; onOpen: (id: string) => void }) {
  return (
    <li>
      <button
        type="button"
        className="prospect"
        data-card={card.id}
        onClick={() => {
          onOpen(card.id);
        }}
      >
        <CardSummary card={card} />
      </button>
    </li>
  );
}

function MovableCard({ card, onOpen }: { card: Prospect; onOpen: (id: string) => void }) {
  const { attributes, listeners, setNodeRef, transform, isDragging } = useDraggable({ id: card.id });
  const style = transform === null ? undefined : { transform: `translate3d(${transform.x}px, ${transform.y}px, 0)` };
  return (
    <li>
      <div
        ref={setNodeRef}
        {...attributes}
        {...listeners}
        style={style}
        className={isDragging ? "prospect dragging" : "prospect"}
        data-card={card.id}
        onClick={() => {
          onOpen(card.id);
        }}
        onKeyDown={(event) => {
          if (event.key === "Enter") onOpen(card.id);
          else listeners?.onKeyDown?.(event);
        }}
      >
        <CardSummary card={card} />
      </div>
    </li>
  );
}
