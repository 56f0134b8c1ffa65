// docs/protocol.md §3 Stats and §5 stats-update: correct counts per tenant,
// coalesced to at most one per 500 ms, and one within 500 ms of any change.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, drain, expectNo, makeUser, ok, received, uniqueId, waitFor } from '../lib/clients.mjs';
import { api, assertStats, expectStatus, openSession } from '../lib/rest.mjs';
import { activeSession, pendingSession, sendMessages } from '../lib/scenario.mjs';
import { useServer } from '../lib/server.mjs';

const ws = { transports: ['websocket'] };
// One update within 500 ms of a change; allow for scheduling on a busy CI machine.
const UPDATE_DEADLINE_MS = 1500;

async function agentOnline(server, tenant, role = 'agent') {
  const agent = makeUser(role, { tenant });
  const socket = await connect(server, agent.token, ws);
  await waitFor(socket, 'connected');
  const snapshot = await waitFor(socket, 'stats-update');
  return { agent, socket, snapshot };
}

/** Waits for a stats-update whose fields equal `expected`. */
function statsWhere(socket, expected, timeout = UPDATE_DEADLINE_MS) {
  return waitFor(socket, 'stats-update', {
    timeout,
    filter: (s) => Object.entries(expected).every(([key, value]) => s[key] === value),
  });
}

describe('stats', () => {
  const srv = useServer({ args: ['--send-rate-per-second', '1000', '--send-burst', '1000'] });

  it('starts a new tenant at zero, with null averages', async () => {
    const tenant = uniqueId('t');
    const { snapshot } = await agentOnline(srv.server, tenant);
    assertStats(snapshot, {
      pendingSessions: 0, activeSessions: 0, closedToday: 0, messagesToday: 0, onlineAgents: 1, onlineCustomers: 0,
      avgWaitSeconds: null, avgFirstResponseSeconds: null,
    });
  });

  it('sends an update with the new counts within 500 ms of each kind of change', async () => {
    const tenant = uniqueId('t');
    const { socket } = await agentOnline(srv.server, tenant);

    const customer = makeUser('customer', { tenant });
    const customerSocket = await connect(srv.server, customer.token, ws);
    await statsWhere(socket, { onlineCustomers: 1 });

    const session = await openSession(srv.server, customer, { message: 'hello' });
    await statsWhere(socket, { pendingSessions: 1, messagesToday: 1 });

    await ok(socket, 'join-session', { sessionId: session.id });
    const afterTake = await statsWhere(socket, { pendingSessions: 0, activeSessions: 1 });
    assert.equal(typeof afterTake.avgWaitSeconds, 'number');

    await ok(socket, 'send-message', { sessionId: session.id, content: 'hi, how can I help?' });
    const afterReply = await statsWhere(socket, { messagesToday: 2 });
    assert.equal(typeof afterReply.avgFirstResponseSeconds, 'number');

    await ok(customerSocket, 'close-session', { sessionId: session.id });
    await statsWhere(socket, { activeSessions: 0, closedToday: 1 });

    customerSocket.disconnect();
    await statsWhere(socket, { onlineCustomers: 0 });
  });

  it('counts distinct agent users, not sockets, in onlineAgents, admins included', async () => {
    const tenant = uniqueId('t');
    const { socket, agent } = await agentOnline(srv.server, tenant);
    const secondTab = await connect(srv.server, agent.token, ws);
    assertStats(await waitFor(secondTab, 'stats-update'), { onlineAgents: 1 });
    const { socket: adminSocket, snapshot } = await agentOnline(srv.server, tenant, 'admin');
    assert.equal(snapshot.onlineAgents, 2);
    await statsWhere(socket, { onlineAgents: 2 });
    drain(socket, 'stats-update');
    secondTab.disconnect();
    await expectNo(socket, 'stats-update', 800, { filter: (s) => s.onlineAgents !== 2 });
    socket.disconnect();
    await statsWhere(adminSocket, { onlineAgents: 1 });
  });

  it('coalesces a burst of changes into updates at least 500 ms apart, the last with the final counts', async () => {
    const tenant = uniqueId('t');
    const { socket } = await agentOnline(srv.server, tenant);
    drain(socket);
    const burst = 12;
    const startedAt = Date.now();
    await Promise.all(Array.from({ length: burst }, () => openSession(srv.server, makeUser('customer', { tenant }), { message: 'help' })));
    const lastChangeAt = Date.now();
    const final = await statsWhere(socket, { pendingSessions: burst, messagesToday: burst });
    const finalArrival = socket.received.find((e) => e.event === 'stats-update' && e.payload === final).at;
    assert.ok(finalArrival - lastChangeAt <= UPDATE_DEADLINE_MS, `the final counts came ${finalArrival - lastChangeAt} ms after the last change`);
    drain(socket, 'stats-update');
    await expectNo(socket, 'stats-update', 700, { filter: (s) => s.pendingSessions !== burst }); // nothing stale after it
    // Every update after the connect snapshot (which is not counted).
    const arrivals = socket.received.filter((e) => e.event === 'stats-update').slice(1).map((e) => e.at);
    assert.ok(arrivals.length <= Math.ceil((Date.now() - startedAt) / 500) + 1,
      `${arrivals.length} updates for a burst of ${burst * 2} changes in ${lastChangeAt - startedAt} ms`);
    for (let i = 1; i < arrivals.length; i += 1) {
      assert.ok(arrivals[i] - arrivals[i - 1] >= 400, `two updates ${arrivals[i] - arrivals[i - 1]} ms apart: ${arrivals}`);
    }
  });

  it('coalesces a flood of messages the same way', async () => {
    const tenant = uniqueId('t');
    const { session, customerSocket, agentSocket } = await activeSession(srv.server, { tenant });
    await statsWhere(agentSocket, { activeSessions: 1 });
    drain(agentSocket, 'stats-update');
    const startedAt = Date.now();
    await sendMessages(customerSocket, session.id, Array.from({ length: 40 }, (_, i) => `m${i}`));
    const duration = Date.now() - startedAt;
    await statsWhere(agentSocket, { messagesToday: 40 });
    const arrivals = received(agentSocket, 'stats-update').length;
    assert.ok(arrivals <= Math.ceil(duration / 500) + 2, `${arrivals} updates for 40 messages in ${duration} ms`);
  });

  it('computes avgWaitSeconds from createdAt to assignedAt and avgFirstResponseSeconds from the first customer message to the first agent reply', async () => {
    const tenant = uniqueId('t');
    const { socket } = await agentOnline(srv.server, tenant);
    const { session, customerSocket } = await pendingSession(srv.server, { tenant });
    const [question] = await sendMessages(customerSocket, session.id, ['question']);
    const taken = await ok(socket, 'join-session', { sessionId: session.id });
    await sendMessages(customerSocket, session.id, ['anyone?']);
    const [answer] = await sendMessages(socket, session.id, ['answer']);
    await sendMessages(socket, session.id, ['second answer']);
    const expectedWait = (Date.parse(taken.session.assignedAt) - Date.parse(session.createdAt)) / 1000;
    const expectedResponse = (Date.parse(answer.createdAt) - Date.parse(question.createdAt)) / 1000;
    const stats = await statsWhere(socket, { messagesToday: 4 });
    assert.ok(Math.abs(stats.avgWaitSeconds - expectedWait) <= 1, `avgWaitSeconds ${stats.avgWaitSeconds}, expected about ${expectedWait}`);
    assert.ok(Math.abs(stats.avgFirstResponseSeconds - expectedResponse) <= 1,
      `avgFirstResponseSeconds ${stats.avgFirstResponseSeconds}, expected about ${expectedResponse}`);
  });

  it('gives the same numbers through GET /api/chat/stats', async () => {
    const tenant = uniqueId('t');
    const { socket } = await agentOnline(srv.server, tenant);
    await pendingSession(srv.server, { tenant, message: 'one' });
    await activeSession(srv.server, { tenant, message: 'two' });
    const pushed = await statsWhere(socket, { pendingSessions: 1, activeSessions: 1, messagesToday: 2 });
    const rest = await expectStatus(api(srv.server, makeUser('agent', { tenant }), 'GET', '/api/chat/stats'), 200);
    for (const key of ['pendingSessions', 'activeSessions', 'closedToday', 'messagesToday', 'onlineAgents', 'onlineCustomers']) {
      assert.equal(rest[key], pushed[key], key);
    }
  });

  it('sends stats-update to agents only', async () => {
    const tenant = uniqueId('t');
    const { customerSocket } = await pendingSession(srv.server, { tenant });
    const { socket } = await agentOnline(srv.server, tenant);
    await openSession(srv.server, makeUser('customer', { tenant }));
    await statsWhere(socket, { pendingSessions: 2 });
    await expectNo(customerSocket, 'stats-update', 300);
  });
});
