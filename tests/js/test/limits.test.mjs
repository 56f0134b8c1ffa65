// docs/protocol.md §4 (v1.3) limits, through the real client: a per-socket
// limit on every event without one of its own, checked before any database
// work; opening sessions limited per user; at most N session rooms per
// socket; catch-up in parts with hasMore; refusals counted, not logged at
// INFO; room names that tenants with ':' cannot share; tenants of at most
// 128 characters.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useServer } from '../lib/server.mjs';
import { connect, connectError, expectError, makeUser, ok, waitFor } from '../lib/clients.mjs';
import { api, expectRestError, openSession } from '../lib/rest.mjs';
import { pendingSession } from '../lib/scenario.mjs';

const ws = { transports: ['websocket'] };

describe('limits of v1.3', () => {
  const srv = useServer({
    args: [
      '--event-rate-per-second', '1', '--event-burst', '3',
      '--open-rate-per-second', '1', '--open-burst', '2',
      '--max-rooms-per-socket', '2', '--catch-up-limit', '3',
    ],
  });

  it('limits every other event per socket before looking anything up, and keeps the socket', async () => {
    const user = makeUser('customer');
    const socket = await connect(srv.server, user.token, ws);
    const other = await connect(srv.server, user.token, ws);
    // Unknown sessions: within the burst the lookup answers not_found...
    for (let i = 0; i < 3; i += 1) {
      await expectError(socket, 'not_found', 'mark-read', { sessionId: `nope-${i}` });
    }
    // ...past it the limiter answers first.
    await expectError(socket, 'rate_limited', 'mark-read', { sessionId: 'nope-3' });
    await expectError(socket, 'rate_limited', 'leave-session', { sessionId: 'nope' });
    await expectError(socket, 'rate_limited', 'typing', { sessionId: 'nope', isTyping: true });
    // The limit is the socket's: the user's other tab is not limited.
    await expectError(other, 'not_found', 'mark-read', { sessionId: 'nope-4' });
  });

  it('limits opening sessions per user, REST and all', async () => {
    const customer = makeUser('customer');
    const first = await openSession(srv.server, customer);
    await api(srv.server, customer, 'POST', `/api/chat/sessions/${first.id}/close`, { body: {} });
    const second = await openSession(srv.server, customer);
    await api(srv.server, customer, 'POST', `/api/chat/sessions/${second.id}/close`, { body: {} });
    await expectRestError(api(srv.server, customer, 'POST', '/api/chat/sessions', { body: {} }), 429, 'rate_limited');
    // Another customer is not affected.
    await openSession(srv.server, makeUser('customer'));
  });

  it('keeps a socket in at most the configured number of session rooms', async () => {
    const agent = makeUser('admin');
    const socket = await connect(srv.server, agent.token, ws);
    const sessions = [];
    for (let i = 0; i < 3; i += 1) sessions.push((await pendingSession(srv.server)).session);
    await ok(socket, 'join-session', { sessionId: sessions[0].id });
    await ok(socket, 'join-session', { sessionId: sessions[1].id });
    await expectError(socket, 'rate_limited', 'join-session', { sessionId: sessions[2].id });
    const after = await api(srv.server, agent, 'GET', `/api/chat/sessions/${sessions[2].id}`);
    assert.equal(after.body.status, 'pending', 'the refused join took nothing');
  });

  it('returns a long catch-up in parts with hasMore, the joiner\'s event and the ack alike', async () => {
    const { customer, session, customerSocket } = await pendingSession(srv.server, { message: 'm0' });
    const anchor = (await ok(customerSocket, 'join-session', { sessionId: session.id })).messages[0];
    for (let i = 1; i <= 5; i += 1) {
      await ok(customerSocket, 'send-message', { sessionId: session.id, content: `m${i}` });
    }
    const tab = await connect(srv.server, customer.token, ws);
    const first = await ok(tab, 'join-session', { sessionId: session.id, lastMessageId: anchor.id });
    assert.deepEqual(first.messages.map((m) => m.content), ['m1', 'm2', 'm3']);
    assert.equal(first.hasMore, true);
    const event = await waitFor(tab, 'session-joined');
    assert.deepEqual(event, first, 'the joiner\'s session-joined is the ack\'s data');
    const rest = await ok(tab, 'join-session', { sessionId: session.id, lastMessageId: first.messages.at(-1).id });
    assert.deepEqual(rest.messages.map((m) => m.content), ['m4', 'm5']);
    assert.equal(rest.hasMore, false);
  });
});

describe('refusals are counted, not logged at INFO', () => {
  const srv = useServer();

  it('counts a flood of invalid events in /metrics and writes no INFO line per refusal', async () => {
    const user = makeUser('customer');
    const socket = await connect(srv.server, user.token, ws);
    for (let i = 0; i < 30; i += 1) {
      await expectError(socket, 'invalid_payload', 'send-message', { sessionId: 42 });
    }
    const metrics = await fetch(`${srv.server.url}/metrics`).then((r) => r.text());
    const line = metrics.split('\n').find((l) => l.includes('event="send-message"') && l.includes('outcome="invalid_payload"'));
    assert.ok(line && Number(line.split(' ').at(-1)) >= 30, `metrics: ${line}`);
    assert.ok(!/INFO.*refused/.test(srv.server.logs()), 'a refusal was logged at INFO');
  });
});

describe('tenants in room names', () => {
  const srv = useServer();

  it('gives tenant a:b\'s user c and tenant a\'s user b:c different rooms', async () => {
    const first = makeUser('customer', { tenant: 'a:b', sub: 'c' });
    const second = makeUser('customer', { tenant: 'a', sub: 'b:c' });
    await connect(srv.server, first.token, ws);
    await connect(srv.server, second.token, ws);
    const roomsOf = async (tenant) => {
      const admin = makeUser('admin', { tenant });
      const res = await api(srv.server, admin, 'GET', '/ws/stats');
      return Object.keys(res.body.rooms).filter((r) => r.startsWith('user:') && !r.includes(admin.sub));
    };
    const [ofFirst] = await roomsOf('a:b');
    const [ofSecond] = await roomsOf('a');
    assert.ok(ofFirst && ofSecond, `${ofFirst} ${ofSecond}`);
    assert.notEqual(ofFirst, ofSecond);
  });

  it('refuses a tenant claim over 128 characters and takes one of 128', async () => {
    const err = await connectError(srv.server, makeUser('customer', { tenant: 't'.repeat(129) }).token, ws);
    assert.equal(err.message, 'unauthorized: invalid_token');
    await connect(srv.server, makeUser('customer', { tenant: 't'.repeat(128) }).token, ws);
  });
});
