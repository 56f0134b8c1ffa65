import { describe, expect, it } from 'vitest';
import type { AgentState, Session, UserRef } from '../src/chat/protocol';
import {
  arrivalFor,
  describeQueue,
  formatLoad,
  formatWait,
  presenceLabel,
  serviceNotice,
  transferTargets,
  upsertAgent,
  validQueue,
} from '../src/chat/routing';

const customer: UserRef = { id: 'c1', role: 'customer', name: 'Ana' };
const me: UserRef = { id: 'a-me', role: 'agent', name: 'Bo' };
const colleague: UserRef = { id: 'a-cy', role: 'agent', name: 'Cy' };

function session(patch: Partial<Session> = {}): Session {
  return {
    id: 's1',
    status: 'pending',
    subject: null,
    customer,
    agent: null,
    createdAt: '2026-11-30T10:00:00.000Z',
    assignedAt: null,
    closedAt: null,
    closedBy: null,
    lastMessageAt: null,
    unreadCount: 0,
    ...patch,
  };
}

function agent(id: string, patch: Partial<AgentState> = {}): AgentState {
  return { id, name: id.toUpperCase(), role: 'agent', availability: 'available', online: true, activeChats: 0, maxChats: 5, ...patch };
}

describe('queue text', () => {
  it('says the place in line and the expected wait in minutes', () => {
    expect(describeQueue({ position: 3, estimatedWaitSeconds: 360, availableAgents: 2 })).toBe('You are number 3 in line, about 6 minutes.');
  });

  it('leaves the estimate out when the server has none', () => {
    expect(describeQueue({ position: 2, estimatedWaitSeconds: null, availableAgents: 0 })).toBe('You are number 2 in line.');
  });

  it('tells the first in line they are next', () => {
    expect(describeQueue({ position: 1, estimatedWaitSeconds: 45, availableAgents: 1 })).toBe('You are next in line, less than a minute.');
  });

  it('rounds waits to minutes, then hours, in the singular when one', () => {
    expect(formatWait(89)).toBe('about 1 minute');
    expect(formatWait(150)).toBe('about 3 minutes');
    expect(formatWait(3600)).toBe('about 1 hour');
    expect(formatWait(9000)).toBe('about 3 hours');
  });

  it('accepts only a queue with a position (a v1.2 session has none)', () => {
    expect(validQueue(undefined)).toBeNull();
    expect(validQueue(null)).toBeNull();
    expect(validQueue({ position: 0 })).toBeNull();
    expect(validQueue({ position: 2, estimatedWaitSeconds: null, availableAgents: 1 })?.position).toBe(2);
  });
});

describe('service notice', () => {
  it('is nothing while open and staffed, or when the server did not say (v1.2)', () => {
    expect(serviceNotice({ open: true, availableAgents: 2, offlineMessage: 'Back soon' })).toBeNull();
    expect(serviceNotice(null)).toBeNull();
    expect(serviceNotice(undefined)).toBeNull();
  });

  it('shows the offline message and a hint when closed', () => {
    const notice = serviceNotice({ open: false, availableAgents: 3, offlineMessage: 'We open at 9.' });
    expect(notice).toMatchObject({ kind: 'closed', message: 'We open at 9.' });
    expect(notice?.hint).toMatch(/leave a message/i);
  });

  it('says nobody is available when open without routable agents, without a blank message', () => {
    const notice = serviceNotice({ open: true, availableAgents: 0, offlineMessage: '  ' });
    expect(notice).toMatchObject({ kind: 'unstaffed', message: null });
    expect(notice?.hint).toMatch(/leave a message/i);
  });
});

describe('agents', () => {
  it('reads the load as "N of M chats", and says when an agent is never auto-assigned', () => {
    expect(formatLoad({ activeChats: 3, maxChats: 5 })).toBe('3 of 5 chats');
    expect(formatLoad({ activeChats: 1, maxChats: 0 })).toBe('1 chat, no auto-assignment');
  });

  it('names presence from online and availability', () => {
    expect(presenceLabel(agent('a'))).toBe('Available');
    expect(presenceLabel(agent('a', { availability: 'away' }))).toBe('Away');
    expect(presenceLabel(agent('a', { online: false }))).toBe('Offline');
  });

  it('replaces an agent by a newer state and keeps the list by name', () => {
    const list = [agent('bo'), agent('cy')];
    const next = upsertAgent(list, agent('bo', { activeChats: 2 }));
    expect(next.map((a) => [a.id, a.activeChats])).toEqual([
      ['bo', 2],
      ['cy', 0],
    ]);
    expect(upsertAgent(next, agent('al')).map((a) => a.id)).toEqual(['al', 'bo', 'cy']);
  });

  it('offers transfers to others only, those who can take a chat now first', () => {
    const list = [agent('al', { online: false }), agent('bo', { availability: 'away' }), agent('cy'), agent('me')];
    expect(transferTargets(list, 'me').map((a) => a.id)).toEqual(['cy', 'bo', 'al']);
  });
});

describe('chats the server gives me', () => {
  const none = new Set<string>();

  it('is an assignment when a chat I did not take becomes mine', () => {
    const next = session({ status: 'active', agent: me, assignedAt: '2026-11-30T10:01:00.000Z' });
    expect(arrivalFor(session(), next, me.id, none)).toEqual({ kind: 'assigned' });
    expect(arrivalFor(undefined, next, me.id, none)).toEqual({ kind: 'assigned' });
  });

  it('is a transfer when it was a colleague’s', () => {
    const before = session({ status: 'active', agent: colleague });
    expect(arrivalFor(before, session({ status: 'active', agent: me }), me.id, none)).toEqual({ kind: 'transferred', from: colleague });
  });

  it('is nothing for my own take, a chat already mine, or a colleague’s chat', () => {
    const mine = session({ status: 'active', agent: me });
    expect(arrivalFor(session(), mine, me.id, new Set(['s1']))).toBeNull();
    expect(arrivalFor(mine, { ...mine, unreadCount: 3 }, me.id, none)).toBeNull();
    expect(arrivalFor(session(), session({ status: 'active', agent: colleague }), me.id, none)).toBeNull();
    expect(arrivalFor(session(), mine, null, none)).toBeNull();
  });
});
