// docs/protocol.md §4 rate limits: send-message N per second per user with a
// burst, rate_limited beyond it, other users unaffected, nothing stored.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, drain, emitAck, expectError, ok, received, waitFor } from '../lib/clients.mjs';
import { api, listMessages } from '../lib/rest.mjs';
import { activeSession } from '../lib/scenario.mjs';
import { spawnServerFor, useServer } from '../lib/server.mjs';

const ws = { transports: ['websocket'] };

async function flood(socket, sessionId, n, prefix = 'm') {
  return Promise.all(Array.from({ length: n }, (_, i) => emitAck(socket, 'send-message', { sessionId, content: `${prefix}${i}` })));
}

describe('send-message rate limit with small limits', () => {
  // 2 per second, burst of 5.
  const srv = useServer({ args: ['--send-rate-per-second', '2', '--send-burst', '5'] });

  it('refuses messages beyond the burst with rate_limited and stores only the accepted ones', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    drain(customerSocket);
    const acks = await flood(customerSocket, session.id, 9);
    const accepted = acks.filter((a) => a.ok);
    const refused = acks.filter((a) => !a.ok);
    assert.ok(accepted.length >= 5 && accepted.length <= 6, `${accepted.length} of 9 accepted with a burst of 5`);
    for (const ack of refused) {
      assert.equal(ack.error.code, 'rate_limited');
      assert.equal(typeof ack.error.message, 'string');
    }
    const exceptions = [];
    for (let i = 0; i < refused.length; i += 1) {
      exceptions.push(await waitFor(customerSocket, 'exception'));
    }
    for (const exception of exceptions) {
      assert.deepEqual(Object.keys(exception).sort(), ['code', 'event', 'message', 'status']);
      assert.equal(exception.code, 'rate_limited');
      assert.equal(exception.event, 'send-message');
      assert.equal(exception.status, 'error');
    }
    const stored = await listMessages(srv.server, customer, session.id);
    assert.deepEqual(stored.map((m) => m.id).sort(), accepted.map((a) => a.data.id).sort());
    assert.deepEqual(stored.map((m) => m.seq), accepted.map((_, i) => i + 1), 'no seq was used by a refused message');
    const lastAccepted = accepted.at(-1).data;
    await waitFor(agentSocket, 'new-message', { filter: (m) => m.id === lastAccepted.id });
    assert.equal(received(agentSocket, 'new-message').length, accepted.length, 'refused messages were broadcast');
    assert.equal(customerSocket.connected, true);
  });

  it('leaves other users unaffected', async () => {
    const { session, customerSocket, agentSocket } = await activeSession(srv.server);
    await flood(customerSocket, session.id, 8);
    const reply = await ok(agentSocket, 'send-message', { sessionId: session.id, content: 'I can still talk' });
    assert.equal(reply.content, 'I can still talk');
  });

  it('limits per user, across all of the user\'s sockets', async () => {
    const { session, customer, customerSocket } = await activeSession(srv.server);
    const acks = await flood(customerSocket, session.id, 5);
    assert.ok(acks.every((a) => a.ok), JSON.stringify(acks.filter((a) => !a.ok)));
    const otherTab = await connect(srv.server, customer.token, ws);
    await expectError(otherTab, 'rate_limited', 'send-message', { sessionId: session.id, content: 'from tab two' });
  });

  it('lets the user send again once tokens refill', async () => {
    const { session, customerSocket } = await activeSession(srv.server);
    await flood(customerSocket, session.id, 8);
    await expectError(customerSocket, 'rate_limited', 'send-message', { sessionId: session.id, content: 'still too soon' });
    // Refill at 2 per second: one token after 500 ms. Time passing is the subject of this test.
    await new Promise((resolve) => setTimeout(resolve, 700));
    await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'refilled' });
  });

  it('answers REST message floods with 429 rate_limited', async () => {
    const { session, customer } = await activeSession(srv.server);
    const results = await Promise.all(Array.from({ length: 9 }, (_, i) => api(srv.server, customer, 'POST',
      `/api/chat/sessions/${session.id}/messages`, { body: { content: `rest ${i}` } })));
    const statuses = results.map((r) => r.status);
    assert.ok(statuses.filter((s) => s === 201).length <= 6, `statuses: ${statuses}`);
    const limited = results.filter((r) => r.status === 429);
    assert.ok(limited.length >= 3, `statuses: ${statuses}`);
    for (const res of limited) assert.equal(res.body?.error?.code, 'rate_limited');
  });

  it('never stores a retried clientMessageId twice, rate limited or not', async () => {
    const { session, customer, customerSocket } = await activeSession(srv.server);
    const first = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'once', clientMessageId: 'rl-1' });
    const retries = await Promise.all(Array.from({ length: 3 }, () => emitAck(customerSocket, 'send-message',
      { sessionId: session.id, content: 'once', clientMessageId: 'rl-1' })));
    for (const ack of retries) {
      if (ack.ok) assert.deepEqual(ack.data, first);
      else assert.equal(ack.error.code, 'rate_limited');
    }
    assert.equal((await listMessages(srv.server, customer, session.id)).length, 1);
  });
});

describe('send-message rate limit defaults', () => {
  it('accepts a burst of 20 messages and refuses the rest', async (t) => {
    const server = await spawnServerFor(t);
    const { session, customer, customerSocket } = await activeSession(server);
    const acks = await flood(customerSocket, session.id, 26);
    const accepted = acks.filter((a) => a.ok).length;
    assert.ok(accepted >= 20 && accepted <= 21, `${accepted} of 26 accepted with the default burst of 20`);
    assert.ok(acks.filter((a) => !a.ok).every((a) => a.error.code === 'rate_limited'));
    assert.equal((await listMessages(server, customer, session.id)).length, accepted);
  });
});
