import { describe, expect, it } from 'vitest';
import type { Message, UserRef } from '../src/chat/protocol';
import { applyRead, contiguousTail, firstMissingSeq, mergeMessages, newestUnreadFromOtherSide } from '../src/chat/timeline';

const customer: UserRef = { id: 'c1', role: 'customer', name: 'Ana' };
const agent: UserRef = { id: 'a1', role: 'agent', name: 'Bo' };

function msg(seq: number, sender: UserRef = customer, readAt: string | null = null): Message {
  return {
    id: `m${seq}`,
    sessionId: 's1',
    seq,
    sender,
    content: `message ${seq}`,
    clientMessageId: null,
    createdAt: new Date(2026, 0, 1, 0, 0, seq).toISOString(),
    readAt,
  };
}

describe('timeline', () => {
  it('merges out-of-order messages by seq, each once', () => {
    const merged = mergeMessages([msg(1), msg(3)], [msg(2), msg(3), msg(1)]);
    expect(merged.map((m) => m.seq)).toEqual([1, 2, 3]);
  });

  it('returns the same array when nothing is new', () => {
    const list = [msg(1), msg(2)];
    expect(mergeMessages(list, [msg(2)])).toBe(list);
  });

  it('does not lose a read receipt to an older copy of a message', () => {
    const read = msg(1, customer, '2026-01-01T00:00:10.000Z');
    expect(mergeMessages([read], [msg(1)])[0].readAt).toBe(read.readAt);
  });

  it('finds the first hole after the floor and the message before it', () => {
    const list = [msg(5), msg(6), msg(8), msg(9)];
    expect(firstMissingSeq(list, 4)).toBe(7);
    expect(contiguousTail(list, 4)?.seq).toBe(6);
    expect(firstMissingSeq(list.slice(0, 2), 4)).toBeNull();
    expect(contiguousTail(list.slice(0, 2), 4)?.seq).toBe(6);
  });

  it('treats a list that starts after the floor as a gap', () => {
    expect(firstMissingSeq([msg(2)], 0)).toBe(1);
    expect(contiguousTail([msg(2)], 0)).toBeNull();
  });

  it('applies a read receipt to the other side only, up to upToSeq', () => {
    const list = [msg(1), msg(2, agent), msg(3), msg(4)];
    const readAt = '2026-01-01T00:01:00.000Z';
    const next = applyRead(list, { sessionId: 's1', reader: agent, upToMessageId: 'm3', upToSeq: 3, readAt, count: 2 });
    expect(next.map((m) => m.readAt)).toEqual([readAt, null, readAt, null]);
  });

  it('names the newest unread message from the other side', () => {
    expect(newestUnreadFromOtherSide([msg(1), msg(2, agent)], false)?.seq).toBe(2);
    expect(newestUnreadFromOtherSide([msg(1), msg(2, agent)], true)?.seq).toBe(1);
    expect(newestUnreadFromOtherSide([msg(1, customer, 'x')], true)).toBeNull();
  });
});
