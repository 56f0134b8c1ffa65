// Issue 6, isolation: a customer cannot read, join, type into, mark or close
// another customer's session by socket or REST whatever ids they try, and a
// user of one tenant never receives anything of another tenant, checked by
// inspecting every payload every socket received while both tenants chat.
//
// tenants.test.mjs proves the cross-tenant refusals route by route;
// sessions/messages/rest tests prove join, send, close and GET session are
// forbidden to another customer. This file adds the remaining routes, id
// tricks, and the two-way traffic check of every payload.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, drain, emitAck, expectError, makeUser, ok, uniqueId, waitFor } from '../lib/clients.mjs';
import { api, expectRestError, expectStatus, getSession, listMessages } from '../lib/rest.mjs';
import { activeSession, sendMessages } from '../lib/scenario.mjs';
import { useServer } from '../lib/server.mjs';
import { snapshotMessages, ws } from '../lib/attack.mjs';

// Every event of the probe is refused or answered, not rate limited: the
// limits have their own tests (limits.test.mjs).
const generous = ['--send-rate-per-second', '1000', '--send-burst', '1000', '--event-rate-per-second', '100000', '--event-burst', '100000'];

describe('a customer against another customer\'s session', () => {
  const srv = useServer({ args: generous });

  it('is refused every socket event and every REST route, whatever form the ids take, and changes nothing', async () => {
    const victim = await activeSession(srv.server, { message: 'my private question' });
    const [first] = await listMessages(srv.server, victim.customer, victim.session.id);
    const [reply] = await sendMessages(victim.agentSocket, victim.session.id, ['a private answer']);
    const before = {
      session: await getSession(srv.server, victim.customer, victim.session.id),
      messages: await listMessages(srv.server, victim.customer, victim.session.id),
    };

    // The attacker has a session of their own, so they hold valid ids too.
    const attacker = await activeSession(srv.server, { message: 'mine' });
    const [ownMessage] = await listMessages(srv.server, attacker.customer, attacker.session.id);
    const socket = attacker.customerSocket;
    drain(victim.customerSocket);
    drain(victim.agentSocket);

    const id = victim.session.id;
    const idForms = [id, ` ${id} `, `${id}\n`, id.toUpperCase(), { toString: id }, [id]];
    for (const sessionId of idForms) {
      const asPayload = (extra) => ({ sessionId, ...extra });
      await expectError(socket, ['forbidden', 'not_found', 'invalid_payload'], 'join-session', asPayload({}));
      await expectError(socket, ['forbidden', 'not_found', 'invalid_payload'], 'join-session', asPayload({ lastMessageId: first.id }));
      await expectError(socket, ['forbidden', 'not_found', 'invalid_payload'], 'join-session', asPayload({ lastMessageId: ownMessage.id }));
      await expectError(socket, ['forbidden', 'not_found', 'invalid_payload'], 'send-message', asPayload({ content: 'injected' }));
      await expectError(socket, ['forbidden', 'not_found', 'invalid_payload'], 'typing', asPayload({ isTyping: true }));
      await expectError(socket, ['forbidden', 'not_found', 'invalid_payload'], 'mark-read', asPayload({}));
      await expectError(socket, ['forbidden', 'not_found', 'invalid_payload'], 'mark-read', asPayload({ messageId: reply.id }));
      await expectError(socket, ['forbidden', 'not_found', 'invalid_payload'], 'close-session', asPayload({ reason: 'hijacked' }));
    }
    // The bare-string form of join-session, and the attacker's own session id with the victim's message ids.
    await expectError(socket, ['forbidden', 'not_found'], 'join-session', id);
    await expectError(socket, 'not_found', 'join-session', { sessionId: attacker.session.id, lastMessageId: reply.id });
    await expectError(socket, 'not_found', 'mark-read', { sessionId: attacker.session.id, messageId: reply.id });
    // leave-session is a no-op for anyone; it must not let the attacker type afterwards.
    await ok(socket, 'leave-session', { sessionId: id });
    await expectError(socket, ['forbidden', 'not_found'], 'typing', { sessionId: id, isTyping: false });

    // REST, with the real id and the same tricks in the path.
    const token = attacker.customer.token;
    for (const pathId of [id, encodeURIComponent(` ${id}`), id.toUpperCase(), `${id}%00`, `${id}%2F`]) {
      const base = `/api/chat/sessions/${pathId}`;
      const routes = [
        ['GET', base],
        ['GET', `${base}/messages`],
        ['GET', `${base}/messages?after=${first.id}`],
        ['GET', `${base}/messages?before=${reply.id}`],
        ['POST', `${base}/messages`, { content: 'injected', clientMessageId: 'x' }],
        ['POST', `${base}/read`, {}],
        ['POST', `${base}/read`, { messageId: reply.id }],
        ['POST', `${base}/close`, { reason: 'hijacked' }],
        ['POST', `${base}/assign`, { agentId: attacker.customer.sub }],
      ];
      for (const [method, route, body] of routes) {
        const res = await api(srv.server, token, method, route, { body });
        assert.ok([400, 403, 404, 405].includes(res.status), `${method} ${route}: ${res.status} ${res.text.slice(0, 300)}`);
        assert.ok(!res.text.includes('my private question') && !res.text.includes('a private answer'),
          `${method} ${route} leaked the victim's messages: ${res.text.slice(0, 300)}`);
      }
    }
    // The attacker's own message list, paged with the victim's ids as cursors, shows nothing of the victim's.
    await expectRestError(api(srv.server, token, 'GET', `/api/chat/sessions/${attacker.session.id}/messages?after=${first.id}`), [400, 404], ['not_found', 'invalid_payload']);
    await expectRestError(api(srv.server, token, 'GET', `/api/chat/sessions/${attacker.session.id}/messages?before=${reply.id}`), [400, 404], ['not_found', 'invalid_payload']);
    const listed = await expectStatus(api(srv.server, token, 'GET', '/api/chat/sessions?limit=200&status=active'), 200);
    assert.deepEqual(listed.items.map((s) => s.id), [attacker.session.id]);

    // Nothing changed, and the victim's room heard nothing of it.
    assert.deepEqual(await getSession(srv.server, victim.customer, id), before.session);
    assert.deepEqual(await listMessages(srv.server, victim.customer, id), before.messages);
    for (const s of [victim.customerSocket, victim.agentSocket]) {
      const heard = s.received.filter((e) => !e.consumed && ['new-message', 'user-typing', 'messages-read', 'session-closed', 'session-joined'].includes(e.event));
      assert.deepEqual(heard.map((e) => [e.event, e.payload]), [], 'the victim\'s room heard the attacker');
    }
  });
});

/**
 * Every string that identifies a tenant's world: its name, users, sessions,
 * messages. A foreign payload is one that contains any of them.
 */
function markersOf(world) {
  return new Set([world.tenant, ...world.users.map((u) => u.sub), ...world.sessionIds, ...world.messageIds, world.contentMarker]);
}

/** Every string anywhere in a payload (keys and values), recursively. */
function stringsIn(value, out = []) {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => stringsIn(v, out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) { out.push(k); stringsIn(v, out); }
  return out;
}

/** One tenant's world: an agent and an admin online, `customers` customers each chatting in their own session. */
async function tenantWorld(server, { customers }) {
  const tenant = uniqueId('tenant');
  const contentMarker = `${tenant}-says`;
  const world = { tenant, contentMarker, users: [], sessionIds: [], messageIds: [], sockets: [], staffSockets: [], chats: [] };
  for (const role of ['agent', 'admin']) {
    const user = makeUser(role, { tenant });
    const socket = await connect(server, user.token, ws);
    world.users.push(user);
    world.sockets.push(socket);
    world.staffSockets.push(socket);
  }
  return { ...world, customers };
}

/** Traffic of one tenant: sessions opened, taken, messages both ways, typing, read, some closed. */
async function chatIn(server, world) {
  const [agentSocket] = world.staffSockets;
  for (let i = 0; i < world.customers; i += 1) {
    const customer = makeUser('customer', { tenant: world.tenant });
    world.users.push(customer);
    const res = await api(server, customer, 'POST', '/api/chat/sessions', { body: { subject: `${world.contentMarker} subject`, message: `${world.contentMarker} opening ${i}` } });
    assert.ok([200, 201].includes(res.status), res.text);
    const session = res.body;
    world.sessionIds.push(session.id);
    const customerSocket = await connect(server, customer.token, ws);
    world.sockets.push(customerSocket);
    await ok(customerSocket, 'join-session', { sessionId: session.id });
    await ok(agentSocket, 'join-session', { sessionId: session.id });
    for (let k = 0; k < 3; k += 1) {
      const fromCustomer = await ok(customerSocket, 'send-message', { sessionId: session.id, content: `${world.contentMarker} q${k}` });
      const fromAgent = await ok(agentSocket, 'send-message', { sessionId: session.id, content: `${world.contentMarker} a${k}` });
      world.messageIds.push(fromCustomer.id, fromAgent.id);
    }
    await ok(customerSocket, 'typing', { sessionId: session.id, isTyping: true });
    await ok(agentSocket, 'mark-read', { sessionId: session.id });
    await ok(customerSocket, 'mark-read', { sessionId: session.id });
    if (i % 2 === 0) await ok(customerSocket, 'close-session', { sessionId: session.id, reason: `${world.contentMarker} done` });
  }
  for (const id of world.sessionIds) {
    for (const m of await listMessages(server, world.users[0], id)) world.messageIds.push(m.id);
  }
}

describe('tenants while both chat at once', () => {
  const srv = useServer({ args: generous });

  it('deliver no event, session, message or stat of one tenant to any socket or REST call of the other', async () => {
    const acme = await tenantWorld(srv.server, { customers: 2 });
    const globex = await tenantWorld(srv.server, { customers: 5 });
    await Promise.all([chatIn(srv.server, acme), chatIn(srv.server, globex)]);
    // Both tenants' last coalesced stats-update has gone out (closedToday reached its final value).
    for (const world of [acme, globex]) {
      const closed = Math.ceil(world.customers / 2);
      for (const s of world.staffSockets) await waitFor(s, 'stats-update', { filter: (st) => st.closedToday === closed, timeout: 5000 });
    }

    for (const [mine, theirs] of [[acme, globex], [globex, acme]]) {
      const foreign = markersOf(theirs);
      let inspected = 0;
      for (const socket of mine.sockets) {
        for (const entry of socket.received) {
          inspected += 1;
          const leaked = stringsIn(entry.args).filter((s) => foreign.has(s) || s.includes(theirs.tenant));
          assert.deepEqual(leaked, [], `${mine.tenant} socket got ${entry.event} carrying ${theirs.tenant}'s data: ${JSON.stringify(entry.payload).slice(0, 500)}`);
        }
      }
      assert.ok(inspected > 50, `only ${inspected} events inspected for ${mine.tenant}`);

      // Stats never counted the other tenant: each tenant's numbers stay within its own world.
      const myMessages = mine.customers * 7; // opening message + 3 each way
      for (const socket of mine.staffSockets) {
        for (const st of socket.received.filter((e) => e.event === 'stats-update').map((e) => e.payload)) {
          assert.ok(st.pendingSessions + st.activeSessions + st.closedToday <= mine.customers, `${mine.tenant} stats count foreign sessions: ${JSON.stringify(st)}`);
          assert.ok(st.messagesToday <= myMessages, `${mine.tenant} stats count foreign messages: ${JSON.stringify(st)}`);
          assert.ok(st.onlineCustomers <= mine.customers && st.onlineAgents <= 2, `${mine.tenant} stats count foreign users: ${JSON.stringify(st)}`);
        }
      }

      // REST: listings, stats and /ws/stats of every staff member show only their own tenant.
      const [agent, admin] = mine.users;
      for (const user of [agent, admin]) {
        const page = await expectStatus(api(srv.server, user, 'GET', '/api/chat/sessions?limit=200'), 200);
        assert.deepEqual(page.items.map((s) => s.id).sort(), [...mine.sessionIds].sort());
        const stats = await expectStatus(api(srv.server, user, 'GET', '/api/chat/stats'), 200);
        assert.equal(stats.messagesToday, myMessages, JSON.stringify(stats));
        for (const id of theirs.sessionIds) {
          await expectRestError(api(srv.server, user, 'GET', `/api/chat/sessions/${id}`), 404, 'not_found');
          const joined = await emitAck(mine.staffSockets[0], 'join-session', { sessionId: id });
          assert.equal(joined.error?.code, 'not_found', JSON.stringify(joined).slice(0, 300));
        }
      }
      const nodeStats = await expectStatus(api(srv.server, admin, 'GET', '/ws/stats'), 200);
      const leakedRooms = Object.keys(nodeStats.rooms).filter((room) => stringsIn(room).some((s) => [...foreign].some((f) => s.includes(f))));
      assert.deepEqual(leakedRooms, [], `/ws/stats of ${mine.tenant} shows ${theirs.tenant}'s rooms`);
      const messages = await snapshotMessages(srv.server, agent, mine.sessionIds);
      for (const list of Object.values(messages)) {
        assert.ok(list.every((m) => m.content.startsWith(mine.contentMarker)), 'a foreign message is stored in this tenant\'s session');
      }
    }
  });
});
