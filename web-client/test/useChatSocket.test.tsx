// useChatSocket against the real server: spawned from ../target/debug,
// fresh database, development tokens. No mocks; every wait is for a state
// the hook reaches, with a timeout.

import { act, renderHook, waitFor } from '@testing-library/react';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ChatConnection } from '../src/chat/connection';
import type { Message, Session } from '../src/chat/protocol';
import { useChatSocket, type UseChatSocketOptions } from '../src/hooks/useChatSocket';
import { websocketConfig } from '../src/websocket.config';
import { startServer, type SwitchboardServer } from '../test-support/switchboardServer.js';

let server: SwitchboardServer;
let counter = 0;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server?.stop();
});

const WAIT = { timeout: 10_000, interval: 20 };

async function user(role: 'customer' | 'agent', name: string, on: SwitchboardServer = server) {
  counter += 1;
  const id = `${role}-${name.toLowerCase()}-${counter}-${Math.random().toString(36).slice(2, 6)}`;
  return { id, token: await on.token({ sub: id, role, name }) };
}

async function openSession(token: string, message: string, on: SwitchboardServer = server): Promise<Session> {
  return on.rest('POST', '/api/chat/sessions', token, { subject: 'Help', message });
}

function renderChat(options: UseChatSocketOptions, on: SwitchboardServer = server) {
  return renderHook((props: UseChatSocketOptions) => useChatSocket({ serverUrl: on.url, ...props }), {
    initialProps: options,
  });
}

function contents(messages: { content: string }[]) {
  return messages.map((m) => m.content);
}

function expectOrderedOnce(messages: Message[]) {
  const seqs = messages.map((m) => m.seq);
  expect(new Set(seqs).size).toBe(seqs.length);
  expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0] + i));
}

describe('useChatSocket against the real server', () => {
  it('connects to /chat and learns who it is from the connected event', async () => {
    const ana = await user('customer', 'Ana');
    const { result, unmount } = renderChat({ sessionId: null, token: ana.token });
    await waitFor(() => expect(result.current.connectionStatus).toBe('connected'), WAIT);
    expect(result.current.isConnected).toBe(true);
    await waitFor(() => expect(result.current.user).toEqual({ id: ana.id, role: 'customer', name: 'Ana' }), WAIT);
    unmount();
  });

  it('refuses a bad token with an error status instead of retrying', async () => {
    const { result, unmount } = renderChat({ sessionId: null, token: 'not-a-jwt' });
    await waitFor(() => expect(result.current.connectionStatus).toBe('error'), WAIT);
    expect(result.current.connectionError).toMatch(/refused|sign-in/i);
    unmount();
  });

  it('loads the history on join and shows a sent message as pending until its ack', async () => {
    const ana = await user('customer', 'Ana');
    const session = await openSession(ana.token, 'My printer is on fire');
    const onNewMessage = vi.fn();
    const { result, unmount } = renderChat({ sessionId: session.id, token: ana.token, onNewMessage });
    await waitFor(() => expect(result.current.joined).toBe(true), WAIT);
    expect(contents(result.current.messages)).toEqual(['My printer is on fire']);
    expect(result.current.session?.status).toBe('pending');

    let clientMessageId: string | null = null;
    act(() => {
      clientMessageId = result.current.sendMessage('  Still burning  ');
    });
    const pending = result.current.messages.at(-1);
    expect(pending).toMatchObject({ content: 'Still burning', pending: true, clientMessageId });

    await waitFor(() => expect(result.current.messages.at(-1)?.pending).toBe(false), WAIT);
    const stored = result.current.messages.at(-1)!;
    expect(stored).toMatchObject({ seq: 2, content: 'Still burning', clientMessageId, sender: { id: ana.id } });
    expect(result.current.messages).toHaveLength(2);
    await waitFor(() => expect(onNewMessage).toHaveBeenCalledTimes(1), WAIT);
    expect(onNewMessage.mock.calls[0][0]).toMatchObject({ id: stored.id, seq: 2 });
    unmount();
  });

  it('lets an agent take a pending chat, then both sides talk, type and read', async () => {
    const ana = await user('customer', 'Ana');
    const bo = await user('agent', 'Bo');
    const session = await openSession(ana.token, 'Hello?');
    const customer = renderChat({ sessionId: session.id, token: ana.token });
    await waitFor(() => expect(customer.result.current.joined).toBe(true), WAIT);

    const agent = renderChat({ sessionId: session.id, token: bo.token });
    await waitFor(() => expect(agent.result.current.session?.status).toBe('active'), WAIT);
    expect(agent.result.current.session?.agent?.id).toBe(bo.id);
    // The customer hears that the agent took the chat.
    await waitFor(() => expect(customer.result.current.session?.status).toBe('active'), WAIT);
    expect(customer.result.current.session?.agent).toMatchObject({ id: bo.id, name: 'Bo' });

    // Typing, both ways.
    act(() => agent.result.current.sendTyping(true));
    await waitFor(() => expect(customer.result.current.typingUsers.map((u) => u.id)).toEqual([bo.id]), WAIT);
    act(() => agent.result.current.sendTyping(false));
    await waitFor(() => expect(customer.result.current.typingUsers).toEqual([]), WAIT);
    act(() => customer.result.current.sendTyping(true));
    await waitFor(() => expect(agent.result.current.typingUsers.map((u) => u.id)).toEqual([ana.id]), WAIT);

    // Sending clears the sender's typing flag on the other side.
    act(() => {
      customer.result.current.sendMessage('Are you there?');
    });
    await waitFor(() => expect(contents(agent.result.current.messages)).toEqual(['Hello?', 'Are you there?']), WAIT);
    await waitFor(() => expect(agent.result.current.typingUsers).toEqual([]), WAIT);
    act(() => {
      agent.result.current.sendMessage('Yes, how can I help?');
    });
    await waitFor(
      () => expect(contents(customer.result.current.messages)).toEqual(['Hello?', 'Are you there?', 'Yes, how can I help?']),
      WAIT,
    );

    // Read receipts: the agent reads the customer's messages.
    let count = 0;
    await act(async () => {
      count = await agent.result.current.markRead();
    });
    expect(count).toBe(2);
    await waitFor(() => expect(customer.result.current.messages.slice(0, 2).every((m) => m.readAt)).toBe(true), WAIT);
    expect(customer.result.current.messages[2].readAt).toBeNull();
    // ...and the customer reads the agent's.
    await act(async () => {
      await customer.result.current.markRead();
    });
    await waitFor(() => expect(agent.result.current.messages[2].readAt).not.toBeNull(), WAIT);

    expectOrderedOnce(customer.result.current.messages);
    expectOrderedOnce(agent.result.current.messages);

    // The agent closes; the customer sees it.
    await act(async () => {
      await agent.result.current.closeSession('solved');
    });
    await waitFor(() => expect(customer.result.current.session?.status).toBe('closed'), WAIT);
    expect(customer.result.current.session?.closedBy?.id).toBe(bo.id);
    customer.unmount();
    agent.unmount();
  });

  it('catches up after a dropped connection: nothing missed, nothing doubled, pending sent once', async () => {
    const ana = await user('customer', 'Ana');
    const bo = await user('agent', 'Bo');
    const session = await openSession(ana.token, 'First');
    const agent = renderChat({ sessionId: session.id, token: bo.token });
    await waitFor(() => expect(agent.result.current.session?.status).toBe('active'), WAIT);
    const onNewMessage = vi.fn();
    const customer = renderChat({ sessionId: session.id, token: ana.token, onNewMessage });
    await waitFor(() => expect(customer.result.current.joined).toBe(true), WAIT);

    // Drop the customer's transport (as a network failure would); the
    // client reconnects by itself after about a second.
    act(() => {
      customer.result.current.socket!.io.engine.close();
    });
    await waitFor(() => expect(customer.result.current.isConnected).toBe(false), WAIT);
    // While the customer is away: the agent talks (REST, so it is stored
    // at once) and the customer writes (stays pending).
    for (const text of ['While you were away 1', 'While you were away 2', 'While you were away 3']) {
      await server.rest('POST', `/api/chat/sessions/${session.id}/messages`, bo.token, { content: text });
    }
    act(() => {
      customer.result.current.sendMessage('Sent while offline');
    });
    expect(customer.result.current.messages.at(-1)).toMatchObject({ pending: true });

    await waitFor(() => expect(customer.result.current.connectionStatus).toBe('connected'), WAIT);
    const expected = ['First', 'While you were away 1', 'While you were away 2', 'While you were away 3', 'Sent while offline'];
    await waitFor(() => expect(contents(customer.result.current.messages)).toEqual(expected), WAIT);
    await waitFor(() => expect(customer.result.current.messages.every((m) => !m.pending)).toBe(true), WAIT);
    expectOrderedOnce(customer.result.current.messages);
    await waitFor(() => expect(contents(agent.result.current.messages)).toEqual(expected), WAIT);
    expectOrderedOnce(agent.result.current.messages);
    // The three caught-up messages and our own, each reported once.
    await waitFor(() => expect(onNewMessage).toHaveBeenCalledTimes(4), WAIT);

    // The server stored the offline message once.
    const page = await server.rest('GET', `/api/chat/sessions/${session.id}/messages`, bo.token);
    expect(page.items.map((m: Message) => m.content)).toEqual(expected);
    customer.unmount();
    agent.unmount();
  });

  it('follows hasMore until a long catch-up is complete', async () => {
    const own = await startServer({ extraArgs: ['--catch-up-limit', '2'] });
    try {
      const ana = await user('customer', 'Ana', own);
      const session = await openSession(ana.token, 'First', own);
      const customer = renderChat({ sessionId: session.id, token: ana.token }, own);
      await waitFor(() => expect(customer.result.current.joined).toBe(true), WAIT);
      act(() => {
        customer.result.current.socket!.io.engine.close();
      });
      await waitFor(() => expect(customer.result.current.isConnected).toBe(false), WAIT);
      const away = ['a1', 'a2', 'a3', 'a4', 'a5'];
      for (const text of away) {
        // The customer's other device, through REST.
        await own.rest('POST', `/api/chat/sessions/${session.id}/messages`, ana.token, { content: text });
      }
      // Five messages came while away; each catch-up gives at most two.
      await waitFor(() => expect(contents(customer.result.current.messages)).toEqual(['First', ...away]), WAIT);
      expectOrderedOnce(customer.result.current.messages);
      customer.unmount();
    } finally {
      await own.stop();
    }
  });

  it('fills a hole in seq with a catch-up join', async () => {
    const ana = await user('customer', 'Ana');
    const bo = await user('agent', 'Bo');
    const session = await openSession(ana.token, 'One');
    await server.rest('POST', `/api/chat/sessions/${session.id}/assign`, bo.token, {});
    const customer = renderChat({ sessionId: session.id, token: ana.token });
    await waitFor(() => expect(customer.result.current.joined).toBe(true), WAIT);
    const socket = customer.result.current.socket!;

    // Behind the hook's back, leave the room so that one message is missed...
    await socket.timeout(5000).emitWithAck('leave-session', { sessionId: session.id });
    await server.rest('POST', `/api/chat/sessions/${session.id}/messages`, bo.token, { content: 'Two (missed)' });
    // ...then come back without catching up, and hear the next one.
    await socket.timeout(5000).emitWithAck('join-session', { sessionId: session.id });
    await server.rest('POST', `/api/chat/sessions/${session.id}/messages`, bo.token, { content: 'Three' });

    await waitFor(() => expect(contents(customer.result.current.messages)).toContain('Three'), WAIT);
    // Seq 2 is missing for now; within about a second the hook fetches it.
    await waitFor(() => expect(contents(customer.result.current.messages)).toEqual(['One', 'Two (missed)', 'Three']), WAIT);
    expectOrderedOnce(customer.result.current.messages);
    customer.unmount();
  });

  it('reconnects after the server is killed and restarted, and the chat goes on', async () => {
    const own = await startServer();
    try {
      const ana = await user('customer', 'Ana', own);
      const bo = await user('agent', 'Bo', own);
      const session = await openSession(ana.token, 'Before the crash', own);
      const customer = renderChat({ sessionId: session.id, token: ana.token }, own);
      const agent = renderChat({ sessionId: session.id, token: bo.token }, own);
      await waitFor(() => expect(agent.result.current.session?.status).toBe('active'), WAIT);
      await waitFor(() => expect(customer.result.current.session?.status).toBe('active'), WAIT);
      act(() => {
        agent.result.current.sendMessage('Agent before');
      });
      await waitFor(() => expect(contents(customer.result.current.messages)).toEqual(['Before the crash', 'Agent before']), WAIT);

      await own.kill('SIGKILL');
      await waitFor(() => expect(customer.result.current.connectionStatus).toBe('connecting'), WAIT);
      await own.restart();

      await waitFor(() => expect(customer.result.current.connectionStatus).toBe('connected'), { ...WAIT, timeout: 20_000 });
      await waitFor(() => expect(agent.result.current.connectionStatus).toBe('connected'), { ...WAIT, timeout: 20_000 });
      await waitFor(() => expect(customer.result.current.joined).toBe(true), WAIT);
      await waitFor(() => expect(agent.result.current.joined).toBe(true), WAIT);
      act(() => {
        customer.result.current.sendMessage('After the restart');
      });
      const expected = ['Before the crash', 'Agent before', 'After the restart'];
      await waitFor(() => expect(contents(agent.result.current.messages)).toEqual(expected), WAIT);
      await waitFor(() => expect(contents(customer.result.current.messages)).toEqual(expected), WAIT);
      expect(customer.result.current.messages.every((m) => !m.pending)).toBe(true);
      expectOrderedOnce(customer.result.current.messages);
      expectOrderedOnce(agent.result.current.messages);
      customer.unmount();
      agent.unmount();
    } finally {
      await own.stop();
    }
  });
});

describe('ChatConnection', () => {
  it('gives up after the configured attempts and starts over on reconnect()', async () => {
    const own = await startServer();
    const fast = { ...websocketConfig, reconnectionAttempts: 2, reconnectionDelay: 50, reconnectionDelayMax: 100 };
    const ana = await user('customer', 'Ana', own);
    const connection = new ChatConnection(ana.token, fast, own.url);
    connection.retain();
    const statusIs = (status: string) => connection.getSnapshot().status === status;
    try {
      await vi.waitFor(() => expect(statusIs('connected')).toBe(true), WAIT);
      await own.kill('SIGKILL');
      await vi.waitFor(() => expect(connection.getSnapshot().exhausted).toBe(true), WAIT);
      expect(connection.getSnapshot().status).toBe('disconnected');
      await own.restart();
      connection.reconnect();
      await vi.waitFor(() => expect(statusIs('connected')).toBe(true), WAIT);
      expect(connection.getSnapshot().exhausted).toBe(false);
    } finally {
      connection.release();
      await own.stop();
    }
  });
});
