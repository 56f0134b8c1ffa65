// docs/protocol.md §6: every REST route, its status codes and error bodies,
// pagination, and the socket events REST changes emit.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, drain, expectNo, makeUser, mintToken, ok, uniqueId, waitFor } from '../lib/clients.mjs';
import {
  api, assertMessage, assertSession, assertStats, assertTimestamp, expectRestError, expectStatus, getSession,
  listMessages, openSession,
} from '../lib/rest.mjs';
import { activeSession, pendingSession, sendMessages } from '../lib/scenario.mjs';
import { JWT_SECRET, spawnServerFor, useServer } from '../lib/server.mjs';

const ws = { transports: ['websocket'] };
const generous = ['--send-rate-per-second', '1000', '--send-burst', '1000'];

async function agentOnline(server, tenant, role = 'agent') {
  const agent = makeUser(role, { tenant });
  const socket = await connect(server, agent.token, ws);
  await waitFor(socket, 'connected');
  return { agent, socket };
}

describe('REST authentication', () => {
  const srv = useServer();

  it('answers 401 unauthorized without a token, with a garbage one, an expired one or a badly signed one', async () => {
    const now = Math.floor(Date.now() / 1000);
    const tokens = [
      null,
      'garbage',
      mintToken({ sub: 'x', role: 'agent', exp: now - 3600 }),
      mintToken({ sub: 'x', role: 'agent' }, 'another-secret-another-secret'),
      mintToken({ sub: 'x', role: 'agent' }, JWT_SECRET, { noExp: true }),
    ];
    for (const token of tokens) {
      await expectRestError(api(srv.server, token, 'GET', '/api/chat/sessions'), 401, 'unauthorized', `token ${token}:`);
      await expectRestError(api(srv.server, token, 'POST', '/api/chat/sessions', { body: {} }), 401, 'unauthorized', `token ${token}:`);
      await expectRestError(api(srv.server, token, 'GET', '/api/chat/stats'), 401, 'unauthorized', `token ${token}:`);
    }
  });

  it('reads only "Authorization: Bearer <jwt>"', async () => {
    const customer = makeUser('customer');
    await expectRestError(api(srv.server, null, 'GET', '/api/chat/sessions', { headers: { authorization: `Basic ${customer.token}` } }),
      401, 'unauthorized');
    await expectStatus(api(srv.server, null, 'GET', '/api/chat/sessions', { headers: { authorization: `Bearer ${customer.token}` } }), 200);
  });

  it('remembers a user seen only through REST, so an admin can assign to them', async () => {
    const agent = makeUser('agent', { name: 'Rest Only' });
    await expectStatus(api(srv.server, agent, 'GET', '/api/chat/stats'), 200);
    const { session } = await pendingSession(srv.server);
    const admin = makeUser('admin');
    const assigned = await expectStatus(api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: { agentId: agent.sub } }), 200);
    assert.deepEqual(assigned.agent, agent.ref);
  });
});

describe('POST /api/chat/sessions', () => {
  const srv = useServer();

  it('opens a pending session with 201, or returns the open one with 200', async () => {
    const customer = makeUser('customer');
    const res = await api(srv.server, customer, 'POST', '/api/chat/sessions', { body: { subject: 'Refund' } });
    assert.equal(res.status, 201, res.text);
    assertSession(res.body, { status: 'pending', subject: 'Refund', customer: customer.ref, agent: null, unreadCount: 0, lastMessageAt: null });
    const again = await api(srv.server, customer, 'POST', '/api/chat/sessions', { body: { subject: 'Other' } });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.body, res.body);
  });

  it('returns the customer\'s active session too, with 200', async () => {
    const { session, customer } = await activeSession(srv.server);
    const res = await api(srv.server, customer, 'POST', '/api/chat/sessions', { body: {} });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.id, session.id);
    assert.equal(res.body.status, 'active');
  });

  it('accepts an empty body and a body without subject: subject null', async () => {
    const customer = makeUser('customer');
    const res = await api(srv.server, customer, 'POST', '/api/chat/sessions', { body: {} });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.subject, null);
  });

  it('stores the opening message as the first customer message', async () => {
    const customer = makeUser('customer');
    const session = await expectStatus(api(srv.server, customer, 'POST', '/api/chat/sessions', { body: { message: '  Help!  ' } }), 201);
    const [message] = await listMessages(srv.server, customer, session.id);
    assertMessage(message, { seq: 1, content: 'Help!', sender: customer.ref, sessionId: session.id });
    assert.equal(session.lastMessageAt, message.createdAt);
  });

  it('stores a message given with the already open session as its next message', async () => {
    const customer = makeUser('customer');
    const session = await expectStatus(api(srv.server, customer, 'POST', '/api/chat/sessions', { body: { message: 'one' } }), 201);
    const again = await expectStatus(api(srv.server, customer, 'POST', '/api/chat/sessions', { body: { message: 'two' } }), 200);
    assert.equal(again.id, session.id);
    assert.deepEqual((await listMessages(srv.server, customer, session.id)).map((m) => [m.seq, m.content]), [[1, 'one'], [2, 'two']]);
  });

  it('opens a single session when a customer posts several times at once', async () => {
    const customer = makeUser('customer');
    const results = await Promise.all(Array.from({ length: 5 }, () => api(srv.server, customer, 'POST', '/api/chat/sessions', { body: {} })));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 200, 201], `statuses ${statuses}: ${results.map((r) => r.text.slice(0, 200))}`);
    assert.equal(new Set(results.map((r) => r.body?.id)).size, 1);
    const listed = await expectStatus(api(srv.server, customer, 'GET', '/api/chat/sessions'), 200);
    assert.equal(listed.items.length, 1);
  });

  it('emits new-pending-session to the tenant\'s agents, only for a new session', async () => {
    const tenant = uniqueId('t');
    const { socket } = await agentOnline(srv.server, tenant);
    const customer = makeUser('customer', { tenant });
    const session = await openSession(srv.server, customer);
    assert.deepEqual(await waitFor(socket, 'new-pending-session'), session);
    await openSession(srv.server, customer);
    await expectNo(socket, 'new-pending-session', 300);
  });

  it('forbids agents and admins to open sessions', async () => {
    for (const role of ['agent', 'admin']) {
      await expectRestError(api(srv.server, makeUser(role), 'POST', '/api/chat/sessions', { body: {} }), 403, 'forbidden');
    }
  });

  it('answers invalid_payload to a malformed body', async () => {
    const customer = makeUser('customer');
    await expectRestError(api(srv.server, customer, 'POST', '/api/chat/sessions', { body: { subject: 5 } }), [400, 422], 'invalid_payload');
    await expectRestError(api(srv.server, customer, 'POST', '/api/chat/sessions', { body: { message: ['x'] } }), [400, 422], 'invalid_payload');
    await expectRestError(api(srv.server, customer, 'POST', '/api/chat/sessions', { rawBody: '{not json', headers: { 'content-type': 'application/json' } }),
      [400, 422], 'invalid_payload');
    await expectRestError(api(srv.server, customer, 'POST', '/api/chat/sessions', { body: [1, 2] }), [400, 422], 'invalid_payload');
    // Nothing was opened.
    const listed = await expectStatus(api(srv.server, customer, 'GET', '/api/chat/sessions'), 200);
    assert.deepEqual(listed.items, []);
  });
});

describe('GET /api/chat/sessions', () => {
  const srv = useServer();

  it('lists a customer\'s own sessions only', async () => {
    const tenant = uniqueId('t');
    const mine = await pendingSession(srv.server, { tenant });
    await pendingSession(srv.server, { tenant });
    const page = await expectStatus(api(srv.server, mine.customer, 'GET', '/api/chat/sessions'), 200);
    assert.deepEqual(Object.keys(page).sort(), ['items', 'nextCursor']);
    assert.deepEqual(page.items.map((s) => s.id), [mine.session.id]);
    assert.equal(page.nextCursor, null);
  });

  it('lists every session of the tenant to an agent, newest first, filtered by status', async () => {
    const tenant = uniqueId('t');
    const first = await pendingSession(srv.server, { tenant });
    const second = await activeSession(srv.server, { tenant });
    const third = await pendingSession(srv.server, { tenant });
    await ok(third.customerSocket, 'close-session', { sessionId: third.session.id });
    const agent = makeUser('agent', { tenant });
    const all = await expectStatus(api(srv.server, agent, 'GET', '/api/chat/sessions'), 200);
    assert.deepEqual(all.items.map((s) => s.id), [third.session.id, second.session.id, first.session.id]);
    for (const item of all.items) assertSession(item);
    for (const [status, expected] of [['pending', first], ['active', second], ['closed', third]]) {
      const page = await expectStatus(api(srv.server, agent, 'GET', `/api/chat/sessions?status=${status}`), 200);
      assert.deepEqual(page.items.map((s) => s.id), [expected.session.id], `status=${status}`);
    }
  });

  it('answers invalid_payload to an unknown status', async () => {
    const agent = makeUser('agent');
    await expectRestError(api(srv.server, agent, 'GET', '/api/chat/sessions?status=bogus'), [400, 422], 'invalid_payload');
  });

  it('pages with limit and an opaque nextCursor until null, without duplicates or gaps', async () => {
    const tenant = uniqueId('t');
    const opened = [];
    for (let i = 0; i < 5; i += 1) opened.push((await openSession(srv.server, makeUser('customer', { tenant }))).id);
    const agent = makeUser('agent', { tenant });
    const seen = [];
    let cursor = null;
    const sizes = [];
    for (let i = 0; i < 10; i += 1) {
      const page = await expectStatus(api(srv.server, agent, 'GET',
        `/api/chat/sessions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`), 200);
      sizes.push(page.items.length);
      seen.push(...page.items.map((s) => s.id));
      cursor = page.nextCursor;
      if (cursor === null) break;
      assert.equal(typeof cursor, 'string');
    }
    assert.deepEqual(sizes, [2, 2, 1]);
    assert.deepEqual(seen, [...opened].reverse());
  });

  it('returns nextCursor null when the last page is exactly full', async () => {
    const tenant = uniqueId('t');
    for (let i = 0; i < 4; i += 1) await openSession(srv.server, makeUser('customer', { tenant }));
    const agent = makeUser('agent', { tenant });
    const first = await expectStatus(api(srv.server, agent, 'GET', '/api/chat/sessions?limit=2'), 200);
    const second = await expectStatus(api(srv.server, agent, 'GET', `/api/chat/sessions?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`), 200);
    assert.equal(second.items.length, 2);
    assert.equal(second.nextCursor, null);
  });

  it('applies the cursor with the status filter', async () => {
    const tenant = uniqueId('t');
    const pending = [];
    for (let i = 0; i < 3; i += 1) {
      pending.push((await openSession(srv.server, makeUser('customer', { tenant }))).id);
      await activeSession(srv.server, { tenant });
    }
    const agent = makeUser('agent', { tenant });
    const first = await expectStatus(api(srv.server, agent, 'GET', '/api/chat/sessions?status=pending&limit=2'), 200);
    const second = await expectStatus(api(srv.server, agent, 'GET',
      `/api/chat/sessions?status=pending&limit=2&cursor=${encodeURIComponent(first.nextCursor)}`), 200);
    assert.deepEqual([...first.items, ...second.items].map((s) => s.id), [...pending].reverse());
    assert.equal(second.nextCursor, null);
  });

  it('defaults limit to 50 and takes a limit over 200 as 200', async () => {
    const tenant = uniqueId('t');
    const total = 205;
    const batch = 25;
    for (let i = 0; i < total; i += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, total - i) }, () => openSession(srv.server, makeUser('customer', { tenant }))));
    }
    const agent = makeUser('agent', { tenant });
    const byDefault = await expectStatus(api(srv.server, agent, 'GET', '/api/chat/sessions'), 200);
    assert.equal(byDefault.items.length, 50);
    assert.notEqual(byDefault.nextCursor, null);
    const capped = await expectStatus(api(srv.server, agent, 'GET', '/api/chat/sessions?limit=500'), 200);
    assert.equal(capped.items.length, 200);
    const rest = await expectStatus(api(srv.server, agent, 'GET', `/api/chat/sessions?limit=500&cursor=${encodeURIComponent(capped.nextCursor)}`), 200);
    assert.equal(rest.items.length, 5);
    assert.equal(rest.nextCursor, null);
    assert.equal(new Set([...capped.items, ...rest.items].map((s) => s.id)).size, total);
  });
});

describe('GET /api/chat/sessions/{id}', () => {
  const srv = useServer();

  it('returns the session to its customer and to any agent of the tenant', async () => {
    const { session, customer } = await activeSession(srv.server);
    assert.deepEqual(await getSession(srv.server, customer, session.id), session);
    assert.deepEqual(await getSession(srv.server, makeUser('agent'), session.id), session);
    assert.deepEqual(await getSession(srv.server, makeUser('admin'), session.id), session);
  });

  it('forbids another customer with 403', async () => {
    const { session } = await pendingSession(srv.server);
    await expectRestError(api(srv.server, makeUser('customer'), 'GET', `/api/chat/sessions/${session.id}`), 403, 'forbidden');
    await expectRestError(api(srv.server, makeUser('customer'), 'GET', `/api/chat/sessions/${session.id}/messages`), 403, 'forbidden');
  });

  it('answers 404 not_found to an unknown id', async () => {
    await expectRestError(api(srv.server, makeUser('agent'), 'GET', '/api/chat/sessions/0190a0f4-1c2b-7d3e-8f40-123456789abc'), 404, 'not_found');
    await expectRestError(api(srv.server, makeUser('agent'), 'GET', '/api/chat/sessions/not-an-id'), [404, 400, 422], ['not_found', 'invalid_payload']);
  });
});

describe('GET /api/chat/sessions/{id}/messages', () => {
  const srv = useServer({ args: generous });

  async function sessionWith(n) {
    const { session, customer, customerSocket } = await pendingSession(srv.server);
    const sent = await sendMessages(customerSocket, session.id, Array.from({ length: n }, (_, i) => `m${i + 1}`));
    return { session, customer, sent };
  }
  const url = (id, query) => `/api/chat/sessions/${id}/messages${query ? `?${query}` : ''}`;

  it('returns the newest page, oldest first, with the cursor for the older page', async () => {
    const { session, customer, sent } = await sessionWith(7);
    const page = await expectStatus(api(srv.server, customer, 'GET', url(session.id, 'limit=3')), 200);
    assert.deepEqual(Object.keys(page).sort(), ['items', 'nextCursor']);
    assert.deepEqual(page.items.map((m) => m.seq), [5, 6, 7]);
    for (const message of page.items) assertMessage(message);
    assert.deepEqual(page.items, sent.slice(4));
    const older = await expectStatus(api(srv.server, customer, 'GET', url(session.id, `limit=3&before=${page.nextCursor}`)), 200);
    assert.deepEqual(older.items.map((m) => m.seq), [2, 3, 4]);
    const oldest = await expectStatus(api(srv.server, customer, 'GET', url(session.id, `limit=3&before=${older.nextCursor}`)), 200);
    assert.deepEqual(oldest.items.map((m) => m.seq), [1]);
    assert.equal(oldest.nextCursor, null);
  });

  it('returns nextCursor null when the oldest page is exactly full', async () => {
    const { session, customer } = await sessionWith(6);
    const page = await expectStatus(api(srv.server, customer, 'GET', url(session.id, 'limit=3')), 200);
    const older = await expectStatus(api(srv.server, customer, 'GET', url(session.id, `limit=3&before=${page.nextCursor}`)), 200);
    assert.deepEqual(older.items.map((m) => m.seq), [1, 2, 3]);
    assert.equal(older.nextCursor, null);
  });

  it('pages forward with after, and nextCursor is the id for the newer page', async () => {
    const { session, customer, sent } = await sessionWith(7);
    const page = await expectStatus(api(srv.server, customer, 'GET', url(session.id, `limit=3&after=${sent[0].id}`)), 200);
    assert.deepEqual(page.items.map((m) => m.seq), [2, 3, 4]);
    const newer = await expectStatus(api(srv.server, customer, 'GET', url(session.id, `limit=3&after=${page.nextCursor}`)), 200);
    assert.deepEqual(newer.items.map((m) => m.seq), [5, 6, 7]);
    assert.equal(newer.nextCursor, null);
    const none = await expectStatus(api(srv.server, customer, 'GET', url(session.id, `after=${sent[6].id}`)), 200);
    assert.deepEqual(none, { items: [], nextCursor: null });
  });

  it('returns every message with nextCursor null when they fit in one page', async () => {
    const { session, customer, sent } = await sessionWith(3);
    const page = await expectStatus(api(srv.server, customer, 'GET', url(session.id)), 200);
    assert.deepEqual(page, { items: sent, nextCursor: null });
  });

  it('defaults limit to 50 and caps it at 200', async () => {
    const { session, customer } = await sessionWith(210);
    const byDefault = await expectStatus(api(srv.server, customer, 'GET', url(session.id)), 200);
    assert.equal(byDefault.items.length, 50);
    assert.equal(byDefault.items[0].seq, 161);
    const capped = await expectStatus(api(srv.server, customer, 'GET', url(session.id, 'limit=1000')), 200);
    assert.equal(capped.items.length, 200);
    assert.equal(capped.items[0].seq, 11);
  });

  it('answers invalid_payload to before and after at once', async () => {
    const { session, customer, sent } = await sessionWith(3);
    await expectRestError(api(srv.server, customer, 'GET', url(session.id, `before=${sent[2].id}&after=${sent[0].id}`)), [400, 422], 'invalid_payload');
  });

  it('refuses a cursor that is not a message of this session', async () => {
    const { session, customer } = await sessionWith(2);
    const other = await sessionWith(1);
    await expectRestError(api(srv.server, customer, 'GET', url(session.id, `before=${other.sent[0].id}`)), [404, 400, 422], ['not_found', 'invalid_payload']);
    await expectRestError(api(srv.server, customer, 'GET', url(session.id, `after=${other.sent[0].id}`)), [404, 400, 422], ['not_found', 'invalid_payload']);
  });
});

describe('POST /api/chat/sessions/{id}/messages', () => {
  const srv = useServer();

  it('stores the message with 201 and emits new-message to the room', async () => {
    const { session, customer, agentSocket, customerSocket } = await activeSession(srv.server);
    const res = await api(srv.server, customer, 'POST', `/api/chat/sessions/${session.id}/messages`, { body: { content: ' via REST ', clientMessageId: 'r-1' } });
    assert.equal(res.status, 201, res.text);
    assertMessage(res.body, { content: 'via REST', clientMessageId: 'r-1', sender: customer.ref, seq: 1, sessionId: session.id });
    assert.deepEqual(await waitFor(agentSocket, 'new-message'), res.body);
    assert.deepEqual(await waitFor(customerSocket, 'new-message'), res.body);
  });

  it('returns the stored message for a repeated clientMessageId, shared with the socket path, and emits nothing again', async () => {
    const { session, agent, agentSocket, customerSocket } = await activeSession(srv.server);
    const viaSocket = await ok(agentSocket, 'send-message', { sessionId: session.id, content: 'once', clientMessageId: 'shared-1' });
    await waitFor(customerSocket, 'new-message');
    const res = await api(srv.server, agent, 'POST', `/api/chat/sessions/${session.id}/messages`, { body: { content: 'once', clientMessageId: 'shared-1' } });
    assert.ok([200, 201].includes(res.status), res.text);
    assert.deepEqual(res.body, viaSocket);
    await expectNo(customerSocket, 'new-message', 300);
  });

  it('lets an admin who does not hold the session post to it', async () => {
    const { session, customerSocket } = await activeSession(srv.server);
    const admin = makeUser('admin');
    const res = await api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/messages`, { body: { content: 'admin via REST' } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.body.sender, admin.ref);
    assert.deepEqual(await waitFor(customerSocket, 'new-message'), res.body);
  });

  it('answers the socket path\'s errors with their HTTP statuses', async () => {
    const { session, customer, customerSocket } = await activeSession(srv.server);
    const path = `/api/chat/sessions/${session.id}/messages`;
    await expectRestError(api(srv.server, customer, 'POST', path, { body: { content: '   ' } }), [400, 422], 'invalid_payload');
    await expectRestError(api(srv.server, customer, 'POST', path, { body: {} }), [400, 422], 'invalid_payload');
    await expectRestError(api(srv.server, customer, 'POST', path, { body: { content: 'x'.repeat(4001) } }), 413, 'message_too_long');
    const watcher = makeUser('agent');
    await expectRestError(api(srv.server, watcher, 'POST', path, { body: { content: 'hi' } }), 403, 'forbidden');
    await expectRestError(api(srv.server, makeUser('customer'), 'POST', path, { body: { content: 'hi' } }), 403, 'forbidden');
    await ok(customerSocket, 'close-session', { sessionId: session.id });
    await expectRestError(api(srv.server, customer, 'POST', path, { body: { content: 'late' } }), 409, 'session_closed');
    assert.deepEqual(await listMessages(srv.server, customer, session.id), []);
  });
});

describe('POST /api/chat/sessions/{id}/assign', () => {
  const srv = useServer();

  it('lets an agent take a pending session, and emits session-updated to the room and the agents', async () => {
    const tenant = uniqueId('t');
    const { session, customerSocket } = await pendingSession(srv.server, { tenant });
    drain(customerSocket);
    const { socket: bystander } = await agentOnline(srv.server, tenant);
    const agent = makeUser('agent', { tenant });
    const res = await api(srv.server, agent, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: {} });
    assert.equal(res.status, 200, res.text);
    assertSession(res.body, { status: 'active', agent: agent.ref });
    assertTimestamp(res.body.assignedAt);
    assert.deepEqual(await waitFor(customerSocket, 'session-updated'), res.body);
    assert.deepEqual(await waitFor(bystander, 'session-updated'), res.body);
  });

  it('answers 409 conflict to an agent assigning a session another agent holds', async () => {
    const { session, agent } = await activeSession(srv.server);
    await expectRestError(api(srv.server, makeUser('agent'), 'POST', `/api/chat/sessions/${session.id}/assign`, { body: {} }), 409, 'conflict');
    assert.deepEqual((await getSession(srv.server, agent, session.id)).agent, agent.ref);
  });

  it('lets exactly one of several agents assigning a pending session at once take it; the others get 409 conflict', async () => {
    const { session, customer } = await pendingSession(srv.server);
    const agents = Array.from({ length: 4 }, () => makeUser('agent'));
    const results = await Promise.all(agents.map((agent) => api(srv.server, agent, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: {} })));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 409, 409, 409], results.map((r) => r.text.slice(0, 200)).join('\n'));
    for (const res of results.filter((r) => r.status === 409)) assert.equal(res.body.error.code, 'conflict');
    const winner = results.find((r) => r.status === 200).body;
    assert.deepEqual((await getSession(srv.server, customer, session.id)).agent, winner.agent);
  });

  it('lets the holding agent assign the session to themself again without change', async () => {
    const { session, agent } = await activeSession(srv.server);
    const res = await expectStatus(api(srv.server, agent, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: {} }), 200);
    assert.deepEqual(res, session);
  });

  it('lets an admin transfer a session to another agent, keeping assignedAt, with session-updated', async () => {
    const tenant = uniqueId('t');
    const { session, customerSocket, agentSocket } = await activeSession(srv.server, { tenant });
    drain(customerSocket);
    drain(agentSocket);
    const { agent: target } = await agentOnline(srv.server, tenant);
    const admin = makeUser('admin', { tenant });
    const res = await api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: { agentId: target.sub } });
    assert.equal(res.status, 200, res.text);
    assertSession(res.body, { status: 'active', agent: target.ref, assignedAt: session.assignedAt });
    assert.deepEqual(await waitFor(customerSocket, 'session-updated'), res.body);
    assert.deepEqual(await waitFor(agentSocket, 'session-updated'), res.body);
    // The former agent is now only a watcher.
    await expectRestError(api(srv.server, makeUser('agent', { tenant, sub: session.agent.id, name: session.agent.name }),
      'POST', `/api/chat/sessions/${session.id}/messages`, { body: { content: 'still mine?' } }), 403, 'forbidden');
  });

  it('lets an admin assign a pending session to an agent, or to another admin', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const { agent } = await agentOnline(srv.server, tenant);
    const { agent: otherAdmin } = await agentOnline(srv.server, tenant, 'admin');
    const first = await pendingSession(srv.server, { tenant });
    const toAgent = await expectStatus(api(srv.server, admin, 'POST', `/api/chat/sessions/${first.session.id}/assign`, { body: { agentId: agent.sub } }), 200);
    assertSession(toAgent, { status: 'active', agent: agent.ref });
    const second = await pendingSession(srv.server, { tenant });
    const toAdmin = await expectStatus(api(srv.server, admin, 'POST', `/api/chat/sessions/${second.session.id}/assign`, { body: { agentId: otherAdmin.sub } }), 200);
    assertSession(toAdmin, { agent: otherAdmin.ref });
  });

  it('lets an admin without agentId take a pending session for themself', async () => {
    const { session } = await pendingSession(srv.server);
    const admin = makeUser('admin');
    const res = await expectStatus(api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: {} }), 200);
    assertSession(res, { status: 'active', agent: admin.ref });
  });

  it('answers 404 not_found when an admin assigns to an unknown user or to a customer', async () => {
    const { session, customer } = await pendingSession(srv.server);
    const admin = makeUser('admin');
    await expectRestError(api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: { agentId: uniqueId('nobody') } }), 404, 'not_found');
    await expectRestError(api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: { agentId: customer.sub } }), 404, 'not_found');
    assert.equal((await getSession(srv.server, admin, session.id)).status, 'pending');
  });

  it('forbids a customer to assign', async () => {
    const { session, customer } = await pendingSession(srv.server);
    await expectRestError(api(srv.server, customer, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: {} }), 403, 'forbidden');
  });
});

describe('POST /api/chat/sessions/{id}/close and /read', () => {
  const srv = useServer();

  it('closes the session and emits session-closed to the room and the agents', async () => {
    const tenant = uniqueId('t');
    const { session, agent, customerSocket } = await activeSession(srv.server, { tenant });
    const { socket: bystander } = await agentOnline(srv.server, tenant);
    const res = await api(srv.server, agent, 'POST', `/api/chat/sessions/${session.id}/close`, { body: { reason: 'done' } });
    assert.equal(res.status, 200, res.text);
    assertSession(res.body, { status: 'closed', closedBy: agent.ref });
    for (const socket of [customerSocket, bystander]) {
      const event = await waitFor(socket, 'session-closed');
      assert.deepEqual(event, { session: res.body, closedBy: agent.ref, reason: 'done' });
    }
  });

  it('returns a closed session unchanged and emits nothing when closing it again', async () => {
    const { session, customer, customerSocket } = await activeSession(srv.server);
    const closed = await expectStatus(api(srv.server, customer, 'POST', `/api/chat/sessions/${session.id}/close`, { body: {} }), 200);
    await waitFor(customerSocket, 'session-closed');
    const again = await expectStatus(api(srv.server, customer, 'POST', `/api/chat/sessions/${session.id}/close`, { body: { reason: 'again' } }), 200);
    assert.deepEqual(again, closed);
    await expectNo(customerSocket, 'session-closed', 300);
  });

  it('accepts close and read without a body', async () => {
    const { session, agent } = await activeSession(srv.server);
    await expectStatus(api(srv.server, agent, 'POST', `/api/chat/sessions/${session.id}/read`), 200);
    await expectStatus(api(srv.server, agent, 'POST', `/api/chat/sessions/${session.id}/close`), 200);
  });

  it('forbids a watching agent to close or read', async () => {
    const { session } = await activeSession(srv.server);
    const watcher = makeUser('agent');
    await expectRestError(api(srv.server, watcher, 'POST', `/api/chat/sessions/${session.id}/close`, { body: {} }), 403, 'forbidden');
    await expectRestError(api(srv.server, watcher, 'POST', `/api/chat/sessions/${session.id}/read`, { body: {} }), 403, 'forbidden');
  });
});

describe('GET /api/chat/stats', () => {
  const srv = useServer();

  it('returns the tenant\'s Stats to agents and admins', async () => {
    const tenant = uniqueId('t');
    await pendingSession(srv.server, { tenant, message: 'hi' });
    for (const role of ['agent', 'admin']) {
      const stats = await expectStatus(api(srv.server, makeUser(role, { tenant }), 'GET', '/api/chat/stats'), 200);
      assertStats(stats, { pendingSessions: 1, activeSessions: 0, messagesToday: 1, onlineCustomers: 1 });
    }
  });

  it('forbids customers with 403', async () => {
    await expectRestError(api(srv.server, makeUser('customer'), 'GET', '/api/chat/stats'), 403, 'forbidden');
  });
});

describe('operational routes', () => {
  const srv = useServer();

  it('GET /health answers ok with the database, the adapter and the version, without a token', async () => {
    const res = await api(srv.server, null, 'GET', '/health');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['adapter', 'database', 'status', 'version']);
    assert.equal(res.body.status, 'ok');
    assert.equal(typeof res.body.version, 'string');
    assert.ok(res.body.database !== undefined && res.body.database !== null);
    assert.ok(res.body.adapter !== undefined && res.body.adapter !== null);
  });

  it('GET /ws/stats shows an admin this node\'s connections and rooms', async () => {
    const tenant = uniqueId('t');
    const { session } = await activeSession(srv.server, { tenant });
    const admin = makeUser('admin', { tenant });
    const res = await api(srv.server, admin, 'GET', '/ws/stats');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['node', 'rooms', 'totalConnections', 'totalRooms']);
    assert.equal(res.body.totalConnections, 2);
    assert.equal(res.body.totalRooms, Object.keys(res.body.rooms).length);
    assert.deepEqual(res.body.rooms[`session:${session.id}`], { connections: 2, users: 2 });
    assert.deepEqual(res.body.rooms[`agents:${tenant}`], { connections: 1, users: 1 });
  });

  it('GET /ws/stats is for admins only', async () => {
    await expectRestError(api(srv.server, makeUser('agent'), 'GET', '/ws/stats'), 403, 'forbidden');
    await expectRestError(api(srv.server, makeUser('customer'), 'GET', '/ws/stats'), 403, 'forbidden');
    await expectRestError(api(srv.server, null, 'GET', '/ws/stats'), 401, 'unauthorized');
  });

  it('GET /metrics answers Prometheus text without a token', async () => {
    const res = await api(srv.server, null, 'GET', '/metrics');
    assert.equal(res.status, 200, res.text);
    const type = res.headers.get('content-type') ?? '';
    assert.ok(type.startsWith('text/plain') || type.startsWith('application/openmetrics-text'), `content-type ${type}`);
    assert.match(res.text, /^# (HELP|TYPE) /m);
  });

  it('POST /api/dev/token does not exist outside development mode', async () => {
    const res = await api(srv.server, null, 'POST', '/api/dev/token', { body: { sub: 'mallory', role: 'admin' } });
    assert.ok([404, 405].includes(res.status), `${res.status} ${res.text}`);
    assert.ok(!/eyJ/.test(res.text), 'a token was minted');
  });

  it('never writes the configured JWT secret to its logs', async () => {
    await api(srv.server, 'garbage', 'GET', '/api/chat/sessions');
    await api(srv.server, makeUser('agent').token, 'GET', '/api/chat/stats');
    assert.ok(!srv.server.logs().includes(JWT_SECRET), 'the JWT secret appears in the server output');
  });

  it('sends no CORS headers to an origin outside development mode without CORS_ORIGINS', async () => {
    const res = await fetch(`${srv.server.url}/api/chat/sessions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });
});

describe('CORS_ORIGINS', () => {
  it('allows the configured origins and no others', async (t) => {
    const server = await spawnServerFor(t, { args: ['--cors-origins', 'https://app.example,https://admin.example'] });
    const preflight = (origin) => fetch(`${server.url}/api/chat/sessions`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal((await preflight('https://app.example')).headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal((await preflight('https://admin.example')).headers.get('access-control-allow-origin'), 'https://admin.example');
    assert.equal((await preflight('https://evil.example')).headers.get('access-control-allow-origin'), null);
  });
});

describe('development mode', () => {
  for (const [label, options] of [
    ['without a JWT secret', { jwtSecret: null }],
    ['with --dev', { args: ['--dev'] }],
  ]) {
    it(`mints working tokens at POST /api/dev/token ${label}`, async (t) => {
      const server = await spawnServerFor(t, options);
      const res = await api(server, null, 'POST', '/api/dev/token', { body: { sub: 'demo-agent', role: 'agent', name: 'Demo', tenant: 'demo' } });
      assert.ok([200, 201].includes(res.status), `${res.status} ${res.text}`);
      assert.deepEqual(Object.keys(res.body), ['token']);
      const socket = await connect(server, res.body.token, ws);
      const { user } = await waitFor(socket, 'connected');
      assert.deepEqual(user, { id: 'demo-agent', role: 'agent', name: 'Demo' });
      const stats = await expectStatus(api(server, res.body.token, 'GET', '/api/chat/stats'), 200);
      assertStats(stats, { onlineAgents: 1 });
    });
  }

  it('allows any origin when CORS_ORIGINS is unset', async (t) => {
    const server = await spawnServerFor(t, { jwtSecret: null });
    const res = await fetch(`${server.url}/api/chat/sessions`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.ok(['http://localhost:5173', '*'].includes(res.headers.get('access-control-allow-origin')), `allow-origin: ${res.headers.get('access-control-allow-origin')}`);
  });

  it('refuses dev-token requests without sub or with a bad role', async (t) => {
    const server = await spawnServerFor(t, { jwtSecret: null });
    await expectRestError(api(server, null, 'POST', '/api/dev/token', { body: { role: 'agent' } }), [400, 422], 'invalid_payload');
    await expectRestError(api(server, null, 'POST', '/api/dev/token', { body: { sub: 'x', role: 7 } }), [400, 422], 'invalid_payload');
  });
});
