import { describe, expect, it } from 'vitest';
import type { Session } from '../src/chat/protocol';
import { supersedes } from '../src/chat/sessionOrder';

function session(status: Session['status'], assignedAt: string | null = null): Session {
  return {
    id: 's1',
    status,
    subject: null,
    customer: { id: 'c1', role: 'customer', name: 'Ana' },
    agent: status === 'active' ? { id: 'a1', role: 'agent', name: 'Bo' } : null,
    createdAt: '2026-11-30T10:00:00.000Z',
    assignedAt,
    closedAt: status === 'closed' ? '2026-11-30T10:09:00.000Z' : null,
    closedBy: null,
    lastMessageAt: null,
    unreadCount: 0,
  };
}

const taken = '2026-11-30T10:01:00.000Z';

describe('session order', () => {
  it('takes anything when nothing is known, and same or later statuses', () => {
    expect(supersedes(null, session('pending'))).toBe(true);
    expect(supersedes(session('pending'), session('active', taken))).toBe(true);
    expect(supersedes(session('active', taken), session('active', taken))).toBe(true);
    expect(supersedes(session('active', taken), session('closed', taken))).toBe(true);
  });

  it('never lets an old pending snapshot undo a take', () => {
    expect(supersedes(session('active', taken), session('pending'))).toBe(false);
  });

  it('accepts a chat sent back to the queue: pending again, with its assignedAt', () => {
    expect(supersedes(session('active', taken), session('pending', taken))).toBe(true);
  });

  it('never reopens a closed chat', () => {
    expect(supersedes(session('closed', taken), session('active', taken))).toBe(false);
    expect(supersedes(session('closed', taken), session('pending', taken))).toBe(false);
  });
});
