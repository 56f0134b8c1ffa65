// docs/protocol.md §4 join-session / leave-session / close-session and §5
// session-joined, session-updated, session-closed, new-pending-session.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  connect, drain, expectError, expectNo, makeUser, ok, uniqueId, waitFor,
} from '../lib/clients.mjs';
import { assertSession, assertTimestamp, getSession, openSession } from '../lib/rest.mjs';
import { activeSession, pendingSession } from '../lib/scenario.mjs';
import { useServer } from '../lib/server.mjs';

const ws = { transports: ['websocket'] };

async function agentOnline(server, tenant, role = 'agent') {
  const agent = makeUser(role, { tenant });
  const socket = await connect(server, agent.token, ws);
  await waitFor(socket, 'connected');
  return { agent, socket };
}

describe('opening a session', () => {
  const srv = useServer();

  it('tells the agents of the tenant about a new pending session', async () => {
    const tenant = uniqueId('t');
    const { socket: agentSocket } = await agentOnline(srv.server, tenant);
    const customer = makeUser('customer', { tenant, name: 'Cora' });
    const customerSocket = await connect(srv.server, customer.token, ws);
    const session = await openSession(srv.server, customer, { subject: 'Billing' });
    assertSession(session, {
      status: 'pending', subject: 'Billing', agent: null, assignedAt: null, closedAt: null, closedBy: null,
      customer: customer.ref, unreadCount: 0,
    });
    const announced = await waitFor(agentSocket, 'new-pending-session');
    assert.deepEqual(announced, session);
    await expectNo(customerSocket, 'new-pending-session', 300);
  });

  it('counts the opening message in unreadCount', async () => {
    const tenant = uniqueId('t');
    const { socket: agentSocket } = await agentOnline(srv.server, tenant);
    const customer = makeUser('customer', { tenant });
    const session = await openSession(srv.server, customer, { message: 'My order is late' });
    assertSession(session, { unreadCount: 1 });
    assertTimestamp(session.lastMessageAt, 'lastMessageAt');
    const announced = await waitFor(agentSocket, 'new-pending-session');
    assert.equal(announced.unreadCount, 1);
  });
});

describe('joining a session', () => {
  const srv = useServer();

  it('lets the customer join their own session and answers with the session and its messages', async () => {
    const customer = makeUser('customer');
    const session = await openSession(srv.server, customer, { message: 'first words' });
    const socket = await connect(srv.server, customer.token, ws);
    const data = await ok(socket, 'join-session', { sessionId: session.id });
    // v1.3: `hasMore` (catch-up in parts); the ack is the joiner's own
    // session-joined payload, serialised once, so it names the joiner too.
    assert.deepEqual(Object.keys(data).sort(), ['hasMore', 'messages', 'session', 'user']);
    assert.equal(data.hasMore, false);
    assert.deepEqual(data.user, customer.ref);
    assertSession(data.session, { id: session.id, status: 'pending', agent: null });
    assert.equal(data.messages.length, 1);
    assert.equal(data.messages[0].content, 'first words');
    assert.equal(data.messages[0].seq, 1);
    const joined = await waitFor(socket, 'session-joined');
    assert.deepEqual(joined.session, data.session);
    assert.deepEqual(joined.user, customer.ref);
    assert.deepEqual(joined.messages, data.messages);
  });

  it('takes a bare string payload as the sessionId', async () => {
    const customer = makeUser('customer');
    const session = await openSession(srv.server, customer);
    const socket = await connect(srv.server, customer.token, ws);
    const data = await ok(socket, 'join-session', session.id);
    assert.equal(data.session.id, session.id);
  });

  it('forbids a customer to join another customer\'s session', async () => {
    const { session } = await pendingSession(srv.server);
    const intruder = makeUser('customer');
    const socket = await connect(srv.server, intruder.token, ws);
    await expectError(socket, 'forbidden', 'join-session', { sessionId: session.id });
    const after = await getSession(srv.server, makeUser('agent'), session.id);
    assert.equal(after.status, 'pending');
  });

  it('lets an agent take a pending session by joining it', async () => {
    const tenant = uniqueId('t');
    const { customer, session, customerSocket } = await pendingSession(srv.server, { tenant });
    drain(customerSocket);
    const { socket: otherAgentSocket } = await agentOnline(srv.server, tenant);
    const agent = makeUser('agent', { tenant, name: 'Alan' });
    const agentSocket = await connect(srv.server, agent.token, ws);
    const data = await ok(agentSocket, 'join-session', { sessionId: session.id });
    assertSession(data.session, { id: session.id, status: 'active', agent: agent.ref, customer: customer.ref, createdAt: session.createdAt });
    assertTimestamp(data.session.assignedAt, 'assignedAt');

    const toJoiner = await waitFor(agentSocket, 'session-joined');
    assert.deepEqual(toJoiner.user, agent.ref);
    assert.deepEqual(toJoiner.session, data.session);
    assert.deepEqual(toJoiner.messages, data.messages);

    const toCustomer = await waitFor(customerSocket, 'session-joined');
    assert.deepEqual(toCustomer.user, agent.ref);
    assert.equal(toCustomer.session.status, 'active');
    assert.equal(toCustomer.messages, undefined, 'messages go to the joiner only');

    const updatedInRoom = await waitFor(customerSocket, 'session-updated');
    assert.deepEqual(updatedInRoom, data.session);
    const updatedToAgents = await waitFor(otherAgentSocket, 'session-updated');
    assert.deepEqual(updatedToAgents, data.session);

    const stored = await getSession(srv.server, customer, session.id);
    assert.deepEqual(stored, data.session);
  });

  it('lets an admin take a pending session by joining it', async () => {
    const { session } = await pendingSession(srv.server);
    const admin = makeUser('admin');
    const socket = await connect(srv.server, admin.token, ws);
    const data = await ok(socket, 'join-session', { sessionId: session.id });
    assertSession(data.session, { status: 'active', agent: admin.ref });
  });

  it('lets a second agent only watch a session another agent holds', async () => {
    const tenant = uniqueId('t');
    const { session, agent, customerSocket, agentSocket } = await activeSession(srv.server, { tenant });
    drain(customerSocket);
    drain(agentSocket);
    const { socket: bystanderSocket } = await agentOnline(srv.server, tenant);
    drain(bystanderSocket);
    const watcher = makeUser('agent', { tenant });
    const watcherSocket = await connect(srv.server, watcher.token, ws);
    const data = await ok(watcherSocket, 'join-session', { sessionId: session.id });
    assertSession(data.session, { status: 'active', agent: agent.ref, assignedAt: session.assignedAt });

    // The watcher has no other socket in the room yet: the room hears of them.
    const toCustomer = await waitFor(customerSocket, 'session-joined');
    assert.deepEqual(toCustomer.user, watcher.ref);
    const toAgent = await waitFor(agentSocket, 'session-joined');
    assert.deepEqual(toAgent.user, watcher.ref);
    // Nothing was assigned: no session-updated anywhere.
    await expectNo(bystanderSocket, 'session-updated', 300);
    await expectNo(customerSocket, 'session-updated', 0);
    const stored = await getSession(srv.server, agent, session.id);
    assert.deepEqual(stored.agent, agent.ref);
  });

  it('does not announce a second tab of a user already in the room to the rest of the room', async () => {
    const { session, customer, agentSocket } = await activeSession(srv.server);
    drain(agentSocket);
    const secondTab = await connect(srv.server, customer.token, ws);
    const data = await ok(secondTab, 'join-session', { sessionId: session.id });
    const toJoiner = await waitFor(secondTab, 'session-joined');
    assert.deepEqual(toJoiner.messages, data.messages);
    await expectNo(agentSocket, 'session-joined', 300);
  });

  it('announces a user whose first socket joins, even after one of their sockets left', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    await ok(customerSocket, 'leave-session', { sessionId: session.id });
    drain(agentSocket);
    const again = await connect(srv.server, customer.token, ws);
    await ok(again, 'join-session', { sessionId: session.id });
    const joined = await waitFor(agentSocket, 'session-joined');
    assert.deepEqual(joined.user, customer.ref);
  });

  it('lets anyone allowed join a closed session as read-only history without reopening it', async () => {
    const { session, customerSocket } = await activeSession(srv.server, { message: 'hello' });
    await ok(customerSocket, 'close-session', { sessionId: session.id });
    const otherAgent = makeUser('agent');
    const socket = await connect(srv.server, otherAgent.token, ws);
    const data = await ok(socket, 'join-session', { sessionId: session.id });
    assertSession(data.session, { status: 'closed' });
    assert.equal(data.messages.length, 1);
    const stranger = await connect(srv.server, makeUser('customer').token, ws);
    await expectError(stranger, 'forbidden', 'join-session', { sessionId: session.id }); // still not a stranger's
    assert.equal((await getSession(srv.server, otherAgent, session.id)).status, 'closed');
  });

  it('lets exactly one of several agents joining a pending session at once take it', async () => {
    const tenant = uniqueId('t');
    const { session, customer, customerSocket } = await pendingSession(srv.server, { tenant });
    const agents = [];
    for (let i = 0; i < 4; i += 1) agents.push(await agentOnline(srv.server, tenant));
    const results = await Promise.all(agents.map(({ socket }) => ok(socket, 'join-session', { sessionId: session.id })));
    const holders = new Set(results.map((r) => r.session.agent?.id));
    assert.equal(holders.size, 1, `the acks name different agents: ${[...holders]}`);
    const stored = await getSession(srv.server, customer, session.id);
    assert.equal(stored.agent.id, [...holders][0]);
    assert.equal(stored.status, 'active');
    await waitFor(customerSocket, 'session-updated');
    await expectNo(customerSocket, 'session-updated', 300); // assigned once
  });

  it('sends session-updated once to an agent who is both in the room and in the agents room', async () => {
    const tenant = uniqueId('t');
    const { session, customerSocket } = await pendingSession(srv.server, { tenant });
    const { socket } = await agentOnline(srv.server, tenant);
    await ok(socket, 'join-session', { sessionId: session.id });
    await waitFor(socket, 'session-updated');
    await waitFor(customerSocket, 'session-updated');
    await expectNo(socket, 'session-updated', 300);
  });

  it('lets an agent rejoin the session they hold without changing it', async () => {
    const { session, agentSocket, customerSocket } = await activeSession(srv.server);
    drain(customerSocket);
    const data = await ok(agentSocket, 'join-session', { sessionId: session.id });
    assert.deepEqual(data.session, session);
    await expectNo(customerSocket, 'session-updated', 300);
  });
});

describe('leaving a session', () => {
  const srv = useServer();

  it('acks with the sessionId and stops the room\'s events reaching the socket', async () => {
    const { session, customerSocket, agentSocket } = await activeSession(srv.server);
    const data = await ok(agentSocket, 'leave-session', { sessionId: session.id });
    assert.deepEqual(data, { sessionId: session.id });
    drain(agentSocket);
    const sent = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'anyone there?' });
    assert.equal((await waitFor(customerSocket, 'new-message')).id, sent.id);
    await expectNo(agentSocket, 'new-message', 300);
  });

  it('treats leaving a room the socket is not in as a no-op', async () => {
    const customer = makeUser('customer');
    const session = await openSession(srv.server, customer);
    const socket = await connect(srv.server, customer.token, ws);
    assert.deepEqual(await ok(socket, 'leave-session', { sessionId: session.id }), { sessionId: session.id });
  });

  it('treats leaving an unknown session as a no-op', async () => {
    const customer = makeUser('customer');
    const socket = await connect(srv.server, customer.token, ws);
    const unknown = '0190a0f4-1c2b-7d3e-8f40-123456789abc';
    assert.deepEqual(await ok(socket, 'leave-session', { sessionId: unknown }), { sessionId: unknown });
    assert.deepEqual(await ok(socket, 'leave-session', { sessionId: 'no-such-session' }), { sessionId: 'no-such-session' });
  });

  it('does not change the session when its agent leaves the room', async () => {
    const { session, agent, agentSocket } = await activeSession(srv.server);
    await ok(agentSocket, 'leave-session', { sessionId: session.id });
    const stored = await getSession(srv.server, agent, session.id);
    assert.equal(stored.status, 'active');
    assert.deepEqual(stored.agent, agent.ref);
  });
});

describe('closing a session', () => {
  const srv = useServer();

  it('lets the customer close it and tells the room and the tenant\'s agents', async () => {
    const tenant = uniqueId('t');
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server, { tenant });
    const { socket: bystanderSocket } = await agentOnline(srv.server, tenant);
    const closed = await ok(customerSocket, 'close-session', { sessionId: session.id, reason: 'solved' });
    assertSession(closed, { id: session.id, status: 'closed', closedBy: customer.ref, agent: session.agent, assignedAt: session.assignedAt });
    assertTimestamp(closed.closedAt, 'closedAt');
    for (const socket of [customerSocket, agentSocket, bystanderSocket]) {
      const event = await waitFor(socket, 'session-closed');
      assert.deepEqual(Object.keys(event).sort(), ['closedBy', 'reason', 'session']);
      assert.deepEqual(event.session, closed);
      assert.deepEqual(event.closedBy, customer.ref);
      assert.equal(event.reason, 'solved');
    }
    await expectNo(agentSocket, 'session-closed', 300); // once, even though the agent is in both rooms
    assert.deepEqual(await getSession(srv.server, customer, session.id), closed);
  });

  it('sends reason null when none is given', async () => {
    const { session, agent, agentSocket, customerSocket } = await activeSession(srv.server);
    const closed = await ok(agentSocket, 'close-session', { sessionId: session.id });
    assert.deepEqual(closed.closedBy, agent.ref);
    const event = await waitFor(customerSocket, 'session-closed');
    assert.equal(event.reason, null);
    assert.deepEqual(event.closedBy, agent.ref);
  });

  it('lets an admin close a session they do not hold', async () => {
    const tenant = uniqueId('t');
    const { session, customerSocket } = await activeSession(srv.server, { tenant });
    const admin = makeUser('admin', { tenant });
    const adminSocket = await connect(srv.server, admin.token, ws);
    const closed = await ok(adminSocket, 'close-session', { sessionId: session.id });
    assert.deepEqual(closed.closedBy, admin.ref);
    assert.deepEqual((await waitFor(customerSocket, 'session-closed')).closedBy, admin.ref);
  });

  it('lets the customer close a pending session and tells the agents', async () => {
    const tenant = uniqueId('t');
    const { socket: agentSocket } = await agentOnline(srv.server, tenant);
    const { session, customerSocket } = await pendingSession(srv.server, { tenant });
    const closed = await ok(customerSocket, 'close-session', { sessionId: session.id });
    assertSession(closed, { status: 'closed', agent: null, assignedAt: null });
    assert.equal((await waitFor(agentSocket, 'session-closed')).session.id, session.id);
  });

  it('forbids an agent who only watches to close it', async () => {
    const { session } = await activeSession(srv.server);
    const watcher = makeUser('agent');
    const socket = await connect(srv.server, watcher.token, ws);
    await ok(socket, 'join-session', { sessionId: session.id });
    await expectError(socket, 'forbidden', 'close-session', { sessionId: session.id });
    assert.equal((await getSession(srv.server, watcher, session.id)).status, 'active');
  });

  it('forbids another customer to close it', async () => {
    const { session } = await pendingSession(srv.server);
    const stranger = makeUser('customer');
    const socket = await connect(srv.server, stranger.token, ws);
    await expectError(socket, 'forbidden', 'close-session', { sessionId: session.id });
  });

  it('returns a closed session unchanged and tells nobody when it is closed again', async () => {
    const tenant = uniqueId('t');
    const { session, customerSocket, agentSocket } = await activeSession(srv.server, { tenant });
    const { socket: bystanderSocket } = await agentOnline(srv.server, tenant);
    const closed = await ok(customerSocket, 'close-session', { sessionId: session.id, reason: 'first' });
    for (const socket of [customerSocket, agentSocket, bystanderSocket]) await waitFor(socket, 'session-closed');
    const again = await ok(agentSocket, 'close-session', { sessionId: session.id, reason: 'second' });
    assert.deepEqual(again, closed);
    await expectNo(customerSocket, 'session-closed', 300);
    await expectNo(agentSocket, 'session-closed', 0);
    await expectNo(bystanderSocket, 'session-closed', 0);
    assert.deepEqual(await getSession(srv.server, makeUser('admin', { tenant }), session.id), closed);
  });

  it('lets the customer open a new session once the old one is closed', async () => {
    const { session, customer, customerSocket } = await pendingSession(srv.server);
    await ok(customerSocket, 'close-session', { sessionId: session.id });
    const next = await openSession(srv.server, customer);
    assert.notEqual(next.id, session.id);
    assert.equal(next.status, 'pending');
  });
});
