// The pure rules of private notes (PROTOCOL §10) in an agent's thread:
// each note once, oldest first, and their place among the messages. Notes
// have no `seq`: they go by `createdAt`, a message first when both share a
// millisecond (the order of the server's transcript). No sockets here, so
// these rules are unit-tested on their own (test/notes.test.ts).

import type { Note } from './protocol';

/** One row of an agent's thread: a message (with its index in the message list) or a note. */
export type ThreadItem<M> = { kind: 'message'; message: M; index: number } | { kind: 'note'; note: Note };

function time(iso: string): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

function byTime(a: Note, b: Note): number {
  return time(a.createdAt) - time(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Merges `incoming` into `current` (oldest first): one entry per id, the
 * known copy kept (a note never changes once stored). Returns `current`
 * itself when nothing is new, so React can skip a render.
 */
export function mergeNotes(current: readonly Note[], incoming: readonly Note[] | null | undefined): Note[] {
  if (!incoming?.length) return current as Note[];
  const known = new Set(current.map((n) => n.id));
  const added: Note[] = [];
  for (const n of incoming) {
    if (!n || typeof n.id !== 'string' || known.has(n.id)) continue;
    known.add(n.id);
    added.push(n);
  }
  if (added.length === 0) return current as Note[];
  return [...current, ...added].sort(byTime);
}

/**
 * The messages (in their own order, by seq) with the notes slotted in at
 * their place in time: a note goes before the first stored message that is
 * strictly newer than it. Messages still being sent (`pending`) were
 * written just now, so every note comes before them.
 */
export function interleaveNotes<M extends { createdAt: string; pending?: boolean }>(
  messages: readonly M[],
  notes: readonly Note[],
): ThreadItem<M>[] {
  const items: ThreadItem<M>[] = [];
  const sorted = [...notes].sort(byTime);
  let next = 0;
  messages.forEach((message, index) => {
    const until = message.pending ? Number.POSITIVE_INFINITY : time(message.createdAt);
    while (next < sorted.length && time(sorted[next].createdAt) < until) {
      items.push({ kind: 'note', note: sorted[next] });
      next += 1;
    }
    items.push({ kind: 'message', message, index });
  });
  for (; next < sorted.length; next += 1) items.push({ kind: 'note', note: sorted[next] });
  return items;
}
