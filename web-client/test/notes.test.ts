import { describe, expect, it } from 'vitest';
import { interleaveNotes, mergeNotes } from '../src/chat/notes';
import type { Note, UserRef } from '../src/chat/protocol';

const agent: UserRef = { id: 'a1', role: 'agent', name: 'Bo' };
const at = (second: number, ms = 0) => new Date(Date.UTC(2026, 0, 1, 9, 0, second, ms)).toISOString();

function note(id: string, createdAt: string): Note {
  return { id, sessionId: 's1', author: agent, content: `note ${id}`, createdAt };
}

type M = { id: string; createdAt: string; pending?: boolean };
const msg = (id: string, createdAt: string, pending = false): M => ({ id, createdAt, pending });

/** The thread as a list of ids: messages as they are, notes as `n:id`. */
function order(items: ReturnType<typeof interleaveNotes<M>>): string[] {
  return items.map((i) => (i.kind === 'note' ? `n:${i.note.id}` : i.message.id));
}

describe('mergeNotes', () => {
  it('keeps each note once, oldest first, whatever order they come in', () => {
    const merged = mergeNotes([note('b', at(2))], [note('c', at(3)), note('a', at(1)), note('b', at(2)), note('c', at(3))]);
    expect(merged.map((n) => n.id)).toEqual(['a', 'b', 'c']);
  });

  it('returns the same array when nothing is new (a join ack repeating every note)', () => {
    const list = [note('a', at(1)), note('b', at(2))];
    expect(mergeNotes(list, [note('b', at(2)), note('a', at(1))])).toBe(list);
    expect(mergeNotes(list, [])).toBe(list);
    expect(mergeNotes(list, undefined)).toBe(list);
  });

  it('orders notes of the same millisecond by id, so every client shows the same order', () => {
    expect(mergeNotes([], [note('y', at(1)), note('x', at(1))]).map((n) => n.id)).toEqual(['x', 'y']);
  });
});

describe('interleaveNotes', () => {
  it('slots each note in at its place in time among the messages', () => {
    const messages = [msg('m1', at(1)), msg('m2', at(5)), msg('m3', at(9))];
    const notes = [note('early', at(0)), note('mid', at(6)), note('late', at(10))];
    expect(order(interleaveNotes(messages, notes))).toEqual(['n:early', 'm1', 'm2', 'n:mid', 'm3', 'n:late']);
  });

  it('puts the message first when a note and a message share a millisecond (as the transcript does)', () => {
    const messages = [msg('m1', at(1, 500)), msg('m2', at(2))];
    expect(order(interleaveNotes(messages, [note('n', at(1, 500))]))).toEqual(['m1', 'n:n', 'm2']);
  });

  it('keeps the messages in their own (seq) order, even when their clocks disagree', () => {
    const messages = [msg('m1', at(5)), msg('m2', at(3)), msg('m3', at(7))];
    const items = interleaveNotes(messages, [note('n', at(4))]);
    expect(order(items).filter((id) => !id.startsWith('n:'))).toEqual(['m1', 'm2', 'm3']);
    // Before the first message newer than it: m1 (5 s), though m2 says 3 s.
    expect(order(items)).toEqual(['n:n', 'm1', 'm2', 'm3']);
  });

  it('shows every note before messages still being sent', () => {
    const messages = [msg('m1', at(1)), msg('pending', at(0), true)];
    expect(order(interleaveNotes(messages, [note('n', at(30))]))).toEqual(['m1', 'n:n', 'pending']);
  });

  it('gives each message its index in the message list (read receipts count by it)', () => {
    const items = interleaveNotes([msg('m1', at(1)), msg('m2', at(3))], [note('n', at(2))]);
    expect(items.map((i) => (i.kind === 'message' ? i.index : null))).toEqual([0, null, 1]);
  });

  it('is just the messages without notes, and just the notes without messages', () => {
    expect(order(interleaveNotes([msg('m1', at(1))], []))).toEqual(['m1']);
    expect(order(interleaveNotes([], [note('b', at(2)), note('a', at(1))]))).toEqual(['n:a', 'n:b']);
  });
});
