// docs/protocol.md §1, §2 "On success", §5 `connected`: both transports, the
// `connected` payload, and the stats snapshot agents get at once.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, emitAck, expectNo, makeUser, ok, waitFor } from '../lib/clients.mjs';
import { assertStats, assertTimestamp, assertUserRef, openSession } from '../lib/rest.mjs';
import { useServer } from '../lib/server.mjs';

describe('connecting to /chat', () => {
  const srv = useServer();

  it('sends connected with the user, the socket id and the server time', async () => {
    const customer = makeUser('customer', { name: 'Grace Hopper', tenant: 'connected-shape' });
    const socket = await connect(srv.server, customer.token, { transports: ['websocket'] });
    const payload = await waitFor(socket, 'connected');
    // v1.3 adds the service status (and, for staff only, the agent's state).
    assert.deepEqual(Object.keys(payload).sort(), ['serverTime', 'service', 'socketId', 'user']);
    assert.deepEqual(payload.service, { open: true, availableAgents: 0, offlineMessage: null });
    assertUserRef(payload.user, { id: customer.sub, role: 'customer', name: 'Grace Hopper' });
    const agent = makeUser('agent', { name: 'Ada', tenant: 'connected-shape' });
    const staff = await waitFor(await connect(srv.server, agent.token, { transports: ['websocket'] }), 'connected');
    assert.deepEqual(Object.keys(staff).sort(), ['agent', 'serverTime', 'service', 'socketId', 'user']);
    assert.deepEqual(staff.agent, {
      id: agent.sub, name: 'Ada', role: 'agent', availability: 'available', online: true, activeChats: 0, maxChats: 5,
    });
    assert.equal(staff.service.availableAgents, 1, 'the agent counts once online');
    assert.equal(payload.socketId, socket.id);
    assertTimestamp(payload.serverTime, 'serverTime');
    assert.ok(Math.abs(Date.parse(payload.serverTime) - Date.now()) < 5000, 'serverTime is the current time');
  });

  it('sends connected exactly once', async () => {
    const customer = makeUser('customer');
    const socket = await connect(srv.server, customer.token, { transports: ['websocket'] });
    await waitFor(socket, 'connected');
    await expectNo(socket, 'connected', 300);
  });

  it('sends an agent a stats-update snapshot right after connected', async () => {
    const agent = makeUser('agent', { tenant: 'snapshot-agent' });
    const socket = await connect(srv.server, agent.token, { transports: ['websocket'] });
    const connected = await waitFor(socket, 'connected');
    assert.equal(connected.user.role, 'agent');
    const stats = await waitFor(socket, 'stats-update', { timeout: 1000 });
    assertStats(stats, { onlineAgents: 1, pendingSessions: 0, activeSessions: 0 });
    const order = socket.received.map((e) => e.event);
    assert.ok(order.indexOf('connected') < order.indexOf('stats-update'), `connected comes first: ${order}`);
  });

  it('sends an admin a stats-update snapshot right after connected', async () => {
    const admin = makeUser('admin', { tenant: 'snapshot-admin' });
    const socket = await connect(srv.server, admin.token, { transports: ['websocket'] });
    await waitFor(socket, 'connected');
    assertStats(await waitFor(socket, 'stats-update', { timeout: 1000 }), { onlineAgents: 1 });
  });

  it('sends a customer no stats-update', async () => {
    const customer = makeUser('customer');
    const socket = await connect(srv.server, customer.token, { transports: ['websocket'] });
    await waitFor(socket, 'connected');
    await expectNo(socket, 'stats-update', 600);
  });

  it('works over websocket alone, as the frontend asks', async () => {
    const customer = makeUser('customer');
    const session = await openSession(srv.server, customer);
    const socket = await connect(srv.server, customer.token, { transports: ['websocket'] });
    assert.equal(socket.io.engine.transport.name, 'websocket');
    await waitFor(socket, 'connected');
    await ok(socket, 'join-session', { sessionId: session.id });
    const message = await ok(socket, 'send-message', { sessionId: session.id, content: 'over websocket' });
    assert.equal((await waitFor(socket, 'new-message')).id, message.id);
  });

  it('works over polling with upgrade, as a default client does', async () => {
    const customer = makeUser('customer');
    const session = await openSession(srv.server, customer);
    const socket = await connect(srv.server, customer.token); // default transports: polling, then websocket
    await waitFor(socket, 'connected');
    if (socket.io.engine.transport.name !== 'websocket') {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the transport was not upgraded to websocket within 3 s')), 3000);
        socket.io.engine.once('upgrade', () => { clearTimeout(timer); resolve(); });
      });
    }
    assert.equal(socket.io.engine.transport.name, 'websocket');
    await ok(socket, 'join-session', { sessionId: session.id });
    const message = await ok(socket, 'send-message', { sessionId: session.id, content: 'after upgrade' });
    assert.equal((await waitFor(socket, 'new-message')).id, message.id);
  });

  it('works over polling alone', async () => {
    const customer = makeUser('customer');
    const session = await openSession(srv.server, customer);
    const socket = await connect(srv.server, customer.token, { transports: ['polling'] });
    await waitFor(socket, 'connected');
    await ok(socket, 'join-session', { sessionId: session.id });
    const message = await ok(socket, 'send-message', { sessionId: session.id, content: 'over polling' });
    assert.equal((await waitFor(socket, 'new-message')).id, message.id);
  });

  it('delivers events between a websocket client and a polling client', async () => {
    const customer = makeUser('customer');
    const session = await openSession(srv.server, customer);
    const customerSocket = await connect(srv.server, customer.token, { transports: ['polling'] });
    await ok(customerSocket, 'join-session', { sessionId: session.id });
    const agent = makeUser('agent');
    const agentSocket = await connect(srv.server, agent.token, { transports: ['websocket'] });
    await ok(agentSocket, 'join-session', { sessionId: session.id });
    const sent = await ok(agentSocket, 'send-message', { sessionId: session.id, content: 'hello from websocket' });
    assert.equal((await waitFor(customerSocket, 'new-message')).id, sent.id);
    const reply = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'hello from polling' });
    assert.equal((await waitFor(agentSocket, 'new-message', { filter: (m) => m.id === reply.id })).content, 'hello from polling');
  });

  for (const transports of [['websocket'], ['polling']]) {
    it(`handles an event emitted as soon as the client is connected, before \`connected\` arrives (${transports})`, async () => {
      // The reference client joins its session from its 'connect' handler: an
      // event sent right after the CONNECT packet must find its handler.
      const failures = [];
      for (let i = 0; i < 30; i += 1) {
        const customer = makeUser('customer');
        const session = await openSession(srv.server, customer);
        const user = i % 2 === 0 ? customer : makeUser('agent');
        const socket = await connect(srv.server, user.token, { transports, waitConnected: false });
        const ack = await emitAck(socket, 'join-session', { sessionId: session.id })
          .catch((err) => ({ attempt: i, role: user.role, lost: err.message.slice(0, 120) }));
        if (!ack.ok) failures.push(ack);
        socket.disconnect();
      }
      assert.deepEqual(failures, [], `${failures.length} of 30 join-session emitted on connect were lost or refused`);
    });
  }

  it('lets one user keep several tabs connected at once', async () => {
    const customer = makeUser('customer');
    const first = await connect(srv.server, customer.token, { transports: ['websocket'] });
    const second = await connect(srv.server, customer.token, { transports: ['websocket'] });
    const [a, b] = await Promise.all([waitFor(first, 'connected'), waitFor(second, 'connected')]);
    assert.deepEqual(a.user, b.user);
    assert.notEqual(a.socketId, b.socketId);
    assert.equal(first.connected && second.connected, true);
  });
});
