// The pure rules of a session's message list: ordered by `seq`, each
// message once, read receipts applied, holes in `seq` detected. No sockets
// here, so these rules are unit-tested on their own (test/timeline.test.ts).

import { isStaff, type Message, type MessagesReadEvent } from './protocol';

/**
 * Merges `incoming` into `current` (both sorted by seq): one entry per seq,
 * sorted, the incoming copy winning unless it would lose a read receipt.
 * Returns `current` itself when nothing changed, so React can skip a render.
 */
export function mergeMessages(current: readonly Message[], incoming: readonly Message[]): Message[] {
  if (incoming.length === 0) return current as Message[];
  const bySeq = new Map<number, Message>();
  for (const m of current) bySeq.set(m.seq, m);
  let changed = false;
  for (const m of incoming) {
    const known = bySeq.get(m.seq);
    if (known && known.id === m.id && (known.readAt === m.readAt || (known.readAt && !m.readAt))) continue;
    bySeq.set(m.seq, known?.readAt && !m.readAt ? { ...m, readAt: known.readAt } : m);
    changed = true;
  }
  if (!changed) return current as Message[];
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * The first missing seq after `floorSeq` (the seq known to precede the
 * list), or null when the list is contiguous. `floorSeq` is the seq before
 * the first message the initial join returned: history older than that was
 * never asked for and is not a gap.
 */
export function firstMissingSeq(messages: readonly Message[], floorSeq: number): number | null {
  let expected = floorSeq + 1;
  for (const m of messages) {
    if (m.seq < expected) continue;
    if (m.seq > expected) return expected;
    expected = m.seq + 1;
  }
  return null;
}

/** The newest message of the unbroken run from `floorSeq`: what to pass as `lastMessageId`. */
export function contiguousTail(messages: readonly Message[], floorSeq: number): Message | null {
  const missing = firstMissingSeq(messages, floorSeq);
  let tail: Message | null = null;
  for (const m of messages) {
    if (missing !== null && m.seq >= missing) break;
    tail = m;
  }
  return tail;
}

/**
 * Applies a `messages-read` event: the reader read the other side's
 * messages up to `upToSeq`.
 */
export function applyRead(messages: readonly Message[], event: MessagesReadEvent): Message[] {
  const readerIsStaff = isStaff(event.reader.role);
  let changed = false;
  const next = messages.map((m) => {
    if (m.seq > event.upToSeq || m.readAt || isStaff(m.sender.role) === readerIsStaff) return m;
    changed = true;
    return { ...m, readAt: event.readAt };
  });
  return changed ? next : (messages as Message[]);
}

/**
 * The newest message from the other side (customer vs staff) that this
 * side has not read yet: what `mark-read` should name.
 */
export function newestUnreadFromOtherSide(messages: readonly Message[], iAmStaff: boolean): Message | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (isStaff(m.sender.role) === iAmStaff) continue;
    return m.readAt ? null : m;
  }
  return null;
}
