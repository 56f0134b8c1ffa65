// docs/protocol.md §4 typing and §5 user-typing: relayed to the room minus the
// sender, refused outside the room, stopped by the server after 5 s or on
// disconnect, and rate limited silently.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, drain, expectError, expectNo, makeUser, ok, received, waitFor } from '../lib/clients.mjs';
import { activeSession, pendingSession } from '../lib/scenario.mjs';
import { useServer } from '../lib/server.mjs';

const ws = { transports: ['websocket'] };

describe('typing indicators', () => {
  const srv = useServer();

  it('relays typing to the rest of the room as user-typing, and not to the sender', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    drain(customerSocket);
    const data = await ok(customerSocket, 'typing', { sessionId: session.id, isTyping: true });
    assert.deepEqual(data, { sessionId: session.id });
    const event = await waitFor(agentSocket, 'user-typing');
    assert.deepEqual(event, { sessionId: session.id, user: customer.ref, isTyping: true });
    await expectNo(customerSocket, 'user-typing', 300);
  });

  it('relays isTyping false', async () => {
    const { session, agent, customerSocket, agentSocket } = await activeSession(srv.server);
    await ok(agentSocket, 'typing', { sessionId: session.id, isTyping: true });
    await waitFor(customerSocket, 'user-typing', { filter: (e) => e.isTyping === true });
    await ok(agentSocket, 'typing', { sessionId: session.id, isTyping: false });
    const stopped = await waitFor(customerSocket, 'user-typing', { filter: (e) => e.isTyping === false });
    assert.deepEqual(stopped, { sessionId: session.id, user: agent.ref, isTyping: false });
  });

  it('reaches every socket of the room, including watchers', async () => {
    const { session, customer, customerSocket } = await activeSession(srv.server);
    const watcher = makeUser('agent');
    const watcherSocket = await connect(srv.server, watcher.token, ws);
    await ok(watcherSocket, 'join-session', { sessionId: session.id });
    await ok(customerSocket, 'typing', { sessionId: session.id, isTyping: true });
    assert.deepEqual((await waitFor(watcherSocket, 'user-typing')).user, customer.ref);
  });

  it('forbids typing in a session whose room the socket has not joined', async () => {
    const { session, customer, agentSocket } = await activeSession(srv.server);
    const otherTab = await connect(srv.server, customer.token, ws); // the customer's own session, but not in the room
    drain(agentSocket);
    await expectError(otherTab, 'forbidden', 'typing', { sessionId: session.id, isTyping: true });
    await expectNo(agentSocket, 'user-typing', 300);
  });

  it('forbids typing after leaving the room', async () => {
    const { session, customerSocket, agentSocket } = await activeSession(srv.server);
    await ok(customerSocket, 'leave-session', { sessionId: session.id });
    drain(agentSocket);
    await expectError(customerSocket, 'forbidden', 'typing', { sessionId: session.id, isTyping: true });
    await expectNo(agentSocket, 'user-typing', 300);
  });

  it('sends isTyping false itself when no update came for 5 s', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    await ok(customerSocket, 'typing', { sessionId: session.id, isTyping: true });
    const startedAt = Date.now();
    await waitFor(agentSocket, 'user-typing', { filter: (e) => e.isTyping === true });
    const stopped = await waitFor(agentSocket, 'user-typing', { filter: (e) => e.isTyping === false, timeout: 7500 });
    const elapsed = Date.now() - startedAt;
    assert.deepEqual(stopped, { sessionId: session.id, user: customer.ref, isTyping: false });
    assert.ok(elapsed >= 4500, `the automatic stop came after ${elapsed} ms, before the 5 s`);
  });

  it('restarts the 5 s when the typing user sends another update', async () => {
    const { session, customerSocket, agentSocket } = await activeSession(srv.server);
    await ok(customerSocket, 'typing', { sessionId: session.id, isTyping: true });
    await waitFor(agentSocket, 'user-typing', { filter: (e) => e.isTyping === true });
    // Three seconds later (time passing is the subject here), the user is still typing.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const refreshedAt = Date.now();
    await ok(customerSocket, 'typing', { sessionId: session.id, isTyping: true });
    await waitFor(agentSocket, 'user-typing', { filter: (e) => e.isTyping === false, timeout: 7500 });
    const elapsed = Date.now() - refreshedAt;
    assert.ok(elapsed >= 4500, `isTyping false came ${elapsed} ms after the refresh, the 5 s were not restarted`);
  });

  it('sends isTyping false when a typing user disconnects', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    await ok(customerSocket, 'typing', { sessionId: session.id, isTyping: true });
    await waitFor(agentSocket, 'user-typing', { filter: (e) => e.isTyping === true });
    const disconnectedAt = Date.now();
    customerSocket.disconnect();
    const stopped = await waitFor(agentSocket, 'user-typing', { filter: (e) => e.isTyping === false, timeout: 2000 });
    assert.deepEqual(stopped, { sessionId: session.id, user: customer.ref, isTyping: false });
    assert.ok(Date.now() - disconnectedAt < 2000);
  });

  it('sends no automatic isTyping false for a user who already stopped', async () => {
    const { session, customerSocket, agentSocket } = await activeSession(srv.server);
    await ok(customerSocket, 'typing', { sessionId: session.id, isTyping: true });
    await waitFor(agentSocket, 'user-typing', { filter: (e) => e.isTyping === true });
    await ok(customerSocket, 'typing', { sessionId: session.id, isTyping: false });
    await waitFor(agentSocket, 'user-typing', { filter: (e) => e.isTyping === false });
    customerSocket.disconnect();
    await expectNo(agentSocket, 'user-typing', 500);
  });

  it('drops typing events over 5 per second silently: every ack still says ok', async () => {
    const { session, customerSocket, agentSocket } = await activeSession(srv.server);
    drain(agentSocket);
    const acks = await Promise.all(Array.from({ length: 30 }, (_, i) => (
      ok(customerSocket, 'typing', { sessionId: session.id, isTyping: i % 2 === 0 })
    )));
    assert.equal(acks.length, 30);
    for (const data of acks) assert.deepEqual(data, { sessionId: session.id });
    await waitFor(agentSocket, 'user-typing');
    await expectNo(customerSocket, 'exception', 500);
    const relayed = received(agentSocket, 'user-typing').length;
    assert.ok(relayed >= 1 && relayed <= 10, `${relayed} of 30 typing events were relayed within a burst, expected about 5`);
  });

  it('refuses an isTyping that is not a boolean with invalid_payload', async () => {
    const { session, customerSocket, agentSocket } = await activeSession(srv.server);
    drain(agentSocket);
    await expectError(customerSocket, 'invalid_payload', 'typing', { sessionId: session.id, isTyping: 'yes' });
    await expectError(customerSocket, 'invalid_payload', 'typing', { sessionId: session.id });
    await expectNo(agentSocket, 'user-typing', 300);
  });

  it('relays a customer\'s typing to an admin who took the session', async () => {
    const { session, customer, customerSocket } = await pendingSession(srv.server);
    const admin = makeUser('admin');
    const adminSocket = await connect(srv.server, admin.token, ws);
    await ok(adminSocket, 'join-session', { sessionId: session.id });
    await ok(customerSocket, 'typing', { sessionId: session.id, isTyping: true });
    assert.deepEqual((await waitFor(adminSocket, 'user-typing')).user, customer.ref);
  });
});
