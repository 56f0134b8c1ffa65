// Agent tools (PROTOCOL §10) as the client uses them, against the real
// server: notes through useChatSocket (add-note, note-added, the join ack's
// notes, never on the customer's side), the canned-responses REST calls and
// the page's cache, and the transcript download. No mocks; every wait is
// for a state, with a timeout.

import { act, renderHook, waitFor } from '@testing-library/react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatError, type Note, type Session } from '../src/chat/protocol';
import { useChatSocket, type UseChatSocketOptions } from '../src/hooks/useChatSocket';
import { cannedApi, CannedStore } from '../src/lib/cannedResponses';
import { fetchTranscript } from '../src/lib/transcript';
import { startServer, type SwitchboardServer } from '../test-support/switchboardServer.js';

let server: SwitchboardServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server?.stop();
});

const WAIT = { timeout: 10_000, interval: 20 };

async function user(role: 'customer' | 'agent' | 'admin', name: string, tenant?: string) {
  const id = `${role}-${name.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`;
  return { id, token: await server.token({ sub: id, role, name, ...(tenant ? { tenant } : {}) }) };
}

function renderChat(options: UseChatSocketOptions) {
  return renderHook((props: UseChatSocketOptions) => useChatSocket({ serverUrl: server.url, ...props }), { initialProps: options });
}

async function caught(promise: Promise<unknown>): Promise<ChatError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ChatError);
    return err as ChatError;
  }
  throw new Error('expected a refusal');
}

describe('private notes through useChatSocket', () => {
  it('reach every staff member in the session, never the customer, and come back with the join', async () => {
    const ana = await user('customer', 'Ana');
    const bo = await user('agent', 'Bo');
    const cy = await user('admin', 'Cy');
    const session: Session = await server.rest('POST', '/api/chat/sessions', ana.token, { message: 'Where is my refund?' });

    const agent = renderChat({ sessionId: session.id, token: bo.token });
    await waitFor(() => expect(agent.result.current.session?.status).toBe('active'), WAIT);
    const customer = renderChat({ sessionId: session.id, token: ana.token });
    const admin = renderChat({ sessionId: session.id, token: cy.token });
    await waitFor(() => expect(customer.result.current.joined && admin.result.current.joined).toBe(true), WAIT);

    let note: Note | null = null;
    await act(async () => {
      note = await agent.result.current.addNote('  Refund approved by finance  ');
    });
    expect(note).toMatchObject({ sessionId: session.id, content: 'Refund approved by finance', author: { id: bo.id, name: 'Bo' } });
    expect(agent.result.current.notes.map((n) => n.id)).toEqual([note!.id]);
    // The other staff member gets it live (note-added), once.
    await waitFor(() => expect(admin.result.current.notes.map((n) => n.content)).toEqual(['Refund approved by finance']), WAIT);

    // A message after it reaches the customer; the note never does.
    act(() => {
      agent.result.current.sendMessage('Your refund is on its way.');
    });
    await waitFor(() => expect(customer.result.current.messages.map((m) => m.content)).toContain('Your refund is on its way.'), WAIT);
    expect(customer.result.current.notes).toEqual([]);
    expect(customer.result.current.messages.some((m) => m.content.includes('finance'))).toBe(false);
    expect(agent.result.current.messages.some((m) => m.content.includes('finance'))).toBe(false);

    // A staff member opening the chat later gets every note with the join.
    admin.unmount();
    const later = renderChat({ sessionId: session.id, token: cy.token });
    await waitFor(() => expect(later.result.current.notes.map((n) => n.id)).toEqual([note!.id]), WAIT);

    // An empty note is refused and stores nothing.
    const refused = await caught(agent.result.current.addNote('   '));
    expect(refused.code).toBe('invalid_payload');
    expect(agent.result.current.notes).toHaveLength(1);

    // The customer cannot write one.
    const forbidden = await caught(customer.result.current.addNote('I am staff now'));
    expect(forbidden.code).toBe('forbidden');

    later.unmount();
    customer.unmount();
    agent.unmount();
  });

  it('can be added to a closed chat', async () => {
    const ana = await user('customer', 'Ana');
    const bo = await user('agent', 'Bo');
    const session: Session = await server.rest('POST', '/api/chat/sessions', ana.token, { message: 'Hi' });
    const agent = renderChat({ sessionId: session.id, token: bo.token });
    await waitFor(() => expect(agent.result.current.session?.status).toBe('active'), WAIT);
    await act(async () => {
      await agent.result.current.closeSession();
    });
    await act(async () => {
      await agent.result.current.addNote('Customer was happy in the end.');
    });
    expect(agent.result.current.notes.map((n) => n.content)).toEqual(['Customer was happy in the end.']);
    agent.unmount();
  });
});

describe('canned responses', () => {
  it('admins create, edit and delete them; agents read them; shortcuts are unique per tenant', async () => {
    const tenant = `canned-${Math.random().toString(36).slice(2, 8)}`;
    const ad = await user('admin', 'Ad', tenant);
    const bo = await user('agent', 'Bo', tenant);
    const created = await cannedApi.create(ad.token, { shortcut: 'refund', title: 'Refund', content: 'Hi {{customer.name}}' }, server.url);
    expect(created).toMatchObject({ shortcut: 'refund', title: 'Refund', content: 'Hi {{customer.name}}' });

    expect((await caught(cannedApi.create(ad.token, { shortcut: 'refund', content: 'again' }, server.url))).code).toBe('conflict');
    expect((await caught(cannedApi.create(ad.token, { shortcut: 'Bad Shortcut', content: 'x' }, server.url))).code).toBe('invalid_payload');
    expect((await caught(cannedApi.create(bo.token, { shortcut: 'mine', content: 'x' }, server.url))).code).toBe('forbidden');

    // The agent's cache loads the tenant's list.
    const store = new CannedStore(bo.token, server.url);
    await store.load();
    expect(store.getSnapshot().items?.map((r) => r.shortcut)).toEqual(['refund']);

    const edited = await cannedApi.update(ad.token, created.id, { title: null, content: 'Refunds take 5 days.' }, server.url);
    expect(edited).toMatchObject({ id: created.id, shortcut: 'refund', title: null, content: 'Refunds take 5 days.' });
    await store.load(true);
    expect(store.getSnapshot().items?.[0].content).toBe('Refunds take 5 days.');

    await cannedApi.remove(ad.token, created.id, server.url);
    await store.load(true);
    expect(store.getSnapshot().items).toEqual([]);
    expect((await caught(cannedApi.remove(ad.token, created.id, server.url))).code).toBe('not_found');
  });

  it('another tenant never sees them', async () => {
    const ad = await user('admin', 'Ad', `canned-a-${Math.random().toString(36).slice(2, 8)}`);
    const other = await user('agent', 'Ot', `canned-b-${Math.random().toString(36).slice(2, 8)}`);
    await cannedApi.create(ad.token, { shortcut: 'secret', content: 'x' }, server.url);
    expect((await cannedApi.list(other.token, server.url)).items).toEqual([]);
  });
});

describe('the transcript', () => {
  it('downloads as session-{id}.txt, with the notes for staff and without them for the customer', async () => {
    const ana = await user('customer', 'Ana');
    const bo = await user('agent', 'Bo');
    const session: Session = await server.rest('POST', '/api/chat/sessions', ana.token, { message: 'Hello' });
    await server.rest('POST', `/api/chat/sessions/${session.id}/assign`, bo.token, {});
    await server.rest('POST', `/api/chat/sessions/${session.id}/messages`, bo.token, { content: 'Hi Ana' });
    await server.rest('POST', `/api/chat/sessions/${session.id}/notes`, bo.token, { content: 'VIP customer' });

    const staff = await fetchTranscript(bo.token, session.id, server.url);
    expect(staff.filename).toBe(`session-${session.id}.txt`);
    const text = await staff.blob.text();
    expect(text).toMatch(/\] Ana \(customer\): Hello\n/);
    expect(text).toMatch(/\] Bo \(agent\): Hi Ana\n/);
    expect(text).toMatch(/\] \[note\] Bo: VIP customer\n/);

    const own = await (await fetchTranscript(ana.token, session.id, server.url)).blob.text();
    expect(own).toContain('Hi Ana');
    expect(own).not.toContain('VIP customer');

    const stranger = await user('customer', 'Stranger');
    expect((await caught(fetchTranscript(stranger.token, session.id, server.url))).code).toBe('not_found');
  });
});
