// docs/protocol.md §2 "Tenants are isolated": another tenant's session is
// not_found whatever the route, no event crosses tenants, stats are per tenant.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  connect, drain, expectError, expectNo, makeUser, ok, uniqueId, waitFor,
} from '../lib/clients.mjs';
import { api, assertStats, expectRestError, expectStatus, getSession, listMessages, openSession } from '../lib/rest.mjs';
import { activeSession, pendingSession } from '../lib/scenario.mjs';
import { useServer } from '../lib/server.mjs';

const ws = { transports: ['websocket'] };

async function online(server, role, tenant) {
  const user = makeUser(role, { tenant });
  const socket = await connect(server, user.token, ws);
  await waitFor(socket, 'connected');
  return { user, socket };
}

describe('tenant isolation', () => {
  const srv = useServer();

  it('answers not_found to an agent of another tenant joining a session, and does not let them take it', async () => {
    const acme = uniqueId('acme');
    const globex = uniqueId('globex');
    const { session, customer } = await pendingSession(srv.server, { tenant: acme });
    const { socket } = await online(srv.server, 'agent', globex);
    await expectError(socket, 'not_found', 'join-session', { sessionId: session.id });
    const stored = await getSession(srv.server, customer, session.id);
    assert.equal(stored.status, 'pending');
    assert.equal(stored.agent, null);
  });

  it('answers not_found to every socket event of another tenant\'s staff on a session', async () => {
    const acme = uniqueId('acme');
    const globex = uniqueId('globex');
    const { session, customer, customerSocket } = await activeSession(srv.server, { tenant: acme, message: 'secret' });
    const [message] = await listMessages(srv.server, customer, session.id);
    drain(customerSocket);
    for (const role of ['agent', 'admin']) {
      const { socket } = await online(srv.server, role, globex);
      await expectError(socket, 'not_found', 'join-session', { sessionId: session.id });
      await expectError(socket, 'not_found', 'join-session', { sessionId: session.id, lastMessageId: message.id });
      await expectError(socket, 'not_found', 'send-message', { sessionId: session.id, content: 'hi from globex' });
      await expectError(socket, 'not_found', 'mark-read', { sessionId: session.id });
      await expectError(socket, 'not_found', 'close-session', { sessionId: session.id });
      await expectError(socket, ['not_found', 'forbidden'], 'typing', { sessionId: session.id, isTyping: true });
    }
    await expectNo(customerSocket, 'new-message', 300);
    const stored = await getSession(srv.server, customer, session.id);
    assert.equal(stored.status, 'active');
    assert.equal(stored.unreadCount, 1);
    assert.equal((await listMessages(srv.server, customer, session.id)).length, 1);
  });

  it('answers 404 not_found to every REST route of another tenant\'s staff on a session', async () => {
    const acme = uniqueId('acme');
    const globex = uniqueId('globex');
    const { session, customer } = await pendingSession(srv.server, { tenant: acme, message: 'secret' });
    const [message] = await listMessages(srv.server, customer, session.id);
    const agent = makeUser('agent', { tenant: globex });
    const admin = makeUser('admin', { tenant: globex });
    const base = `/api/chat/sessions/${session.id}`;
    for (const user of [agent, admin]) {
      await expectRestError(api(srv.server, user, 'GET', base), 404, 'not_found', 'GET session:');
      await expectRestError(api(srv.server, user, 'GET', `${base}/messages`), 404, 'not_found', 'GET messages:');
      await expectRestError(api(srv.server, user, 'GET', `${base}/messages?after=${message.id}`), 404, 'not_found', 'GET messages after:');
      await expectRestError(api(srv.server, user, 'POST', `${base}/messages`, { body: { content: 'x' } }), 404, 'not_found', 'POST message:');
      await expectRestError(api(srv.server, user, 'POST', `${base}/assign`, { body: {} }), 404, 'not_found', 'assign:');
      await expectRestError(api(srv.server, user, 'POST', `${base}/read`, { body: {} }), 404, 'not_found', 'read:');
      await expectRestError(api(srv.server, user, 'POST', `${base}/close`, { body: {} }), 404, 'not_found', 'close:');
    }
    const stored = await getSession(srv.server, customer, session.id);
    assert.equal(stored.status, 'pending');
    assert.equal((await listMessages(srv.server, customer, session.id)).length, 1);
  });

  it('does not list another tenant\'s sessions', async () => {
    const acme = uniqueId('acme');
    const globex = uniqueId('globex');
    const { session } = await pendingSession(srv.server, { tenant: acme });
    const mine = await pendingSession(srv.server, { tenant: globex });
    const agent = makeUser('agent', { tenant: globex });
    const page = await expectStatus(api(srv.server, agent, 'GET', '/api/chat/sessions?limit=200'), 200);
    const ids = page.items.map((s) => s.id);
    assert.ok(!ids.includes(session.id), 'an acme session was listed to a globex agent');
    assert.deepEqual(ids, [mine.session.id]);
  });

  it('does not let an admin assign a session to an agent of another tenant', async () => {
    const acme = uniqueId('acme');
    const globex = uniqueId('globex');
    const { user: foreignAgent } = await online(srv.server, 'agent', globex); // connected, so the server knows them
    const { session, customer } = await pendingSession(srv.server, { tenant: acme });
    const admin = makeUser('admin', { tenant: acme });
    await expectRestError(api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: { agentId: foreignAgent.sub } }),
      404, 'not_found');
    assert.equal((await getSession(srv.server, customer, session.id)).status, 'pending');
  });

  it('sends no event of one tenant to the agents of another', async () => {
    const acme = uniqueId('acme');
    const globex = uniqueId('globex');
    const { socket: acmeAgentSocket } = await online(srv.server, 'agent', acme);
    const { socket: globexAgentSocket } = await online(srv.server, 'agent', globex);
    await waitFor(acmeAgentSocket, 'stats-update');
    await waitFor(globexAgentSocket, 'stats-update');
    drain(globexAgentSocket);

    const { session, customerSocket } = await pendingSession(srv.server, { tenant: acme });
    await waitFor(acmeAgentSocket, 'new-pending-session');
    await ok(acmeAgentSocket, 'join-session', { sessionId: session.id });
    await waitFor(acmeAgentSocket, 'session-updated');
    await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'acme only' });
    await ok(customerSocket, 'typing', { sessionId: session.id, isTyping: true });
    await ok(acmeAgentSocket, 'mark-read', { sessionId: session.id });
    await ok(customerSocket, 'close-session', { sessionId: session.id });
    await waitFor(acmeAgentSocket, 'session-closed');
    // Let the acme stats-update (coalesced within 500 ms) go out before asserting absence.
    await waitFor(acmeAgentSocket, 'stats-update', { filter: (s) => s.closedToday === 1 });
    // globex may get updates of its own (its agent connecting is a change), but none with acme's numbers.
    await expectNo(globexAgentSocket, 'stats-update', 300, {
      filter: (st) => st.pendingSessions || st.activeSessions || st.closedToday || st.messagesToday || st.onlineCustomers || st.onlineAgents !== 1,
    });
    for (const event of ['new-pending-session', 'session-updated', 'session-joined', 'new-message', 'user-typing', 'messages-read', 'session-closed']) {
      await expectNo(globexAgentSocket, event, 0);
    }
  });

  it('counts stats per tenant', async () => {
    const acme = uniqueId('acme');
    const globex = uniqueId('globex');
    await pendingSession(srv.server, { tenant: acme });
    await pendingSession(srv.server, { tenant: acme, message: 'hello' });
    await activeSession(srv.server, { tenant: acme });
    await pendingSession(srv.server, { tenant: globex });

    const { socket: acmeSocket } = await online(srv.server, 'agent', acme);
    const { socket: globexSocket } = await online(srv.server, 'agent', globex);
    // acme: 2 pending, 1 active (its agent still connected), 2 agents online, 3 customers online.
    assertStats(await waitFor(acmeSocket, 'stats-update'), {
      pendingSessions: 2, activeSessions: 1, messagesToday: 1, onlineAgents: 2, onlineCustomers: 3,
    });
    assertStats(await waitFor(globexSocket, 'stats-update'), {
      pendingSessions: 1, activeSessions: 0, messagesToday: 0, onlineAgents: 1, onlineCustomers: 1, closedToday: 0,
    });
    const rest = await expectStatus(api(srv.server, makeUser('agent', { tenant: globex }), 'GET', '/api/chat/stats'), 200);
    assertStats(rest, { pendingSessions: 1, activeSessions: 0 });
  });

  it('treats the same user id in two tenants as two different users', async () => {
    const acme = uniqueId('acme');
    const globex = uniqueId('globex');
    const sub = uniqueId('same');
    const inAcme = makeUser('customer', { tenant: acme, sub });
    const inGlobex = makeUser('customer', { tenant: globex, sub });
    const acmeSession = await openSession(srv.server, inAcme);
    const globexSession = await openSession(srv.server, inGlobex);
    assert.notEqual(acmeSession.id, globexSession.id, 'the globex customer got the acme customer\'s open session');
    await expectRestError(api(srv.server, inGlobex, 'GET', `/api/chat/sessions/${acmeSession.id}`), 404, 'not_found');
    const socket = await connect(srv.server, inGlobex.token, ws);
    await expectError(socket, 'not_found', 'join-session', { sessionId: acmeSession.id });
    const listed = await expectStatus(api(srv.server, inGlobex, 'GET', '/api/chat/sessions'), 200);
    assert.deepEqual(listed.items.map((s) => s.id), [globexSession.id]);
  });

  it('shows an admin only their own tenant\'s rooms in /ws/stats', async () => {
    const acme = uniqueId('acme');
    const globex = uniqueId('globex');
    const { session } = await activeSession(srv.server, { tenant: acme });
    const globexAdmin = makeUser('admin', { tenant: globex });
    const stats = await expectStatus(api(srv.server, globexAdmin, 'GET', '/ws/stats'), 200);
    const rooms = Object.keys(stats.rooms);
    assert.ok(!rooms.some((room) => room.includes(session.id) || room.includes(acme)), `acme rooms leaked: ${rooms}`);
    const acmeAdmin = makeUser('admin', { tenant: acme });
    const acmeStats = await expectStatus(api(srv.server, acmeAdmin, 'GET', '/ws/stats'), 200);
    assert.ok(Object.keys(acmeStats.rooms).includes(`session:${session.id}`), `acme rooms: ${Object.keys(acmeStats.rooms)}`);
  });
});
