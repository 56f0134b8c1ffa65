// docs/protocol.md §4 "an acked message is never lost" and join-session catch-up
// with lastMessageId, across a server restart on the same database and port.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, ok, waitFor } from '../lib/clients.mjs';
import { getSession, listMessages } from '../lib/rest.mjs';
import { activeSession, sendMessages } from '../lib/scenario.mjs';
import { spawnServerFor } from '../lib/server.mjs';

const ws = { transports: ['websocket'] };

function disconnected(socket, timeout = 5000) {
  if (!socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the socket was not disconnected by the server stopping')), timeout);
    socket.once('disconnect', () => { clearTimeout(timer); resolve(); });
  });
}

describe('restarting the server', () => {
  it('exits 0 on SIGTERM even with clients connected', async (t) => {
    const server = await spawnServerFor(t);
    const { customerSocket, agentSocket } = await activeSession(server);
    const code = await server.stop();
    assert.equal(code, 0, `exit code after SIGTERM: ${code}`);
    await disconnected(customerSocket);
    await disconnected(agentSocket);
  });

  it('lets a client that reconnects with lastMessageId get exactly the messages it missed, in seq order', async (t) => {
    const server = await spawnServerFor(t);
    const { session, customer, agent, customerSocket, agentSocket } = await activeSession(server);
    const seen = await sendMessages(customerSocket, session.id, ['before 1', 'before 2', 'before 3']);
    const lastSeen = seen.at(-1);

    customerSocket.disconnect();
    const missedBeforeRestart = await sendMessages(agentSocket, session.id, ['while away 1', 'while away 2']);

    await server.restart();
    await disconnected(agentSocket);

    const agentBack = await connect(server, agent.token, ws);
    await ok(agentBack, 'join-session', { sessionId: session.id });
    const missedAfterRestart = await sendMessages(agentBack, session.id, ['after restart']);
    assert.equal(missedAfterRestart[0].seq, missedBeforeRestart.at(-1).seq + 1, 'seq continues after a restart');

    const customerBack = await connect(server, customer.token, ws);
    const data = await ok(customerBack, 'join-session', { sessionId: session.id, lastMessageId: lastSeen.id });
    const missed = [...missedBeforeRestart, ...missedAfterRestart];
    assert.deepEqual(data.messages.map((m) => m.seq), [4, 5, 6]);
    assert.deepEqual(data.messages.map((m) => m.id), missed.map((m) => m.id));
    assert.deepEqual(data.messages.map((m) => m.content), ['while away 1', 'while away 2', 'after restart']);
    assert.deepEqual(data.session.status, 'active');
    assert.deepEqual(data.session.agent, agent.ref);
  });

  it('keeps every acked message and the session state after a SIGKILL', async (t) => {
    const server = await spawnServerFor(t);
    const { session, customer, agent, customerSocket, agentSocket } = await activeSession(server);
    const acked = await Promise.all([
      ...['a', 'b', 'c'].map((content) => ok(customerSocket, 'send-message', { sessionId: session.id, content })),
      ...['x', 'y'].map((content) => ok(agentSocket, 'send-message', { sessionId: session.id, content })),
    ]);
    await ok(agentSocket, 'mark-read', { sessionId: session.id });
    await server.kill();
    await server.restart();
    const stored = await listMessages(server, customer, session.id);
    assert.deepEqual(stored.map((m) => m.id).sort(), acked.map((m) => m.id).sort());
    assert.deepEqual(stored.map((m) => m.seq), [1, 2, 3, 4, 5]);
    const after = await getSession(server, agent, session.id);
    assert.equal(after.status, 'active');
    assert.equal(after.unreadCount, 0);
    assert.deepEqual(after.agent, agent.ref);
  });

  it('lets the socket.io client reconnect by itself after a restart and rejoin', async (t) => {
    const server = await spawnServerFor(t);
    const { session, customer, agentSocket } = await activeSession(server);
    const customerSocket = await connect(server, customer.token, { ...ws, reconnection: true });
    await ok(customerSocket, 'join-session', { sessionId: session.id });
    const [last] = await sendMessages(agentSocket, session.id, ['before']);

    const reconnected = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the client did not reconnect within 10 s')), 10_000);
      customerSocket.io.once('reconnect', () => { clearTimeout(timer); resolve(); });
    });
    await server.restart();
    await reconnected;
    const { user } = await waitFor(customerSocket, 'connected', { filter: (p) => p.socketId === customerSocket.id });
    assert.deepEqual(user, customer.ref);
    const data = await ok(customerSocket, 'join-session', { sessionId: session.id, lastMessageId: last.id });
    assert.deepEqual(data.messages, []);
  });
});
