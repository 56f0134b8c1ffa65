// docs/protocol.md §3 ErrorCode and §4 failure rules: every code is reachable
// with its ack and `exception`; malformed payloads never drop the connection
// and never change stored data.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  connect, connectError, drain, emitAck, expectError, expectNo, makeUser, ok, waitFor,
} from '../lib/clients.mjs';
import { api, expectRestError, getSession, listMessages } from '../lib/rest.mjs';
import { activeSession, pendingSession, sendMessages } from '../lib/scenario.mjs';
import { spawnServerFor, useServer } from '../lib/server.mjs';

const ws = { transports: ['websocket'] };
const UNKNOWN_UUID = '0190a0f4-1c2b-7d3e-8f40-123456789abc';

describe('every error code is reachable', () => {
  const srv = useServer();

  it('unauthorized: a socket without a token gets connect_error, REST gets 401', async () => {
    const err = await connectError(srv.server, undefined, ws);
    assert.equal(err.message, 'unauthorized: missing_token');
    await expectRestError(api(srv.server, null, 'GET', '/api/chat/sessions'), 401, 'unauthorized');
  });

  it('forbidden: a customer joining another customer\'s session', async () => {
    const { session } = await pendingSession(srv.server);
    const socket = await connect(srv.server, makeUser('customer').token, ws);
    const error = await expectError(socket, 'forbidden', 'join-session', { sessionId: session.id });
    assert.equal(error.code, 'forbidden');
  });

  it('not_found: joining a session that does not exist', async () => {
    const socket = await connect(srv.server, makeUser('agent').token, ws);
    await expectError(socket, 'not_found', 'join-session', { sessionId: UNKNOWN_UUID });
  });

  it('invalid_payload: sending a message whose content is a number', async () => {
    const { session, customer, customerSocket } = await pendingSession(srv.server);
    await expectError(customerSocket, 'invalid_payload', 'send-message', { sessionId: session.id, content: 42 });
    assert.deepEqual(await listMessages(srv.server, customer, session.id), []);
  });

  it('session_closed: sending to a closed session', async () => {
    const { session, customerSocket } = await pendingSession(srv.server);
    await ok(customerSocket, 'close-session', { sessionId: session.id });
    await expectError(customerSocket, 'session_closed', 'send-message', { sessionId: session.id, content: 'hello?' });
  });

  it('message_too_long: content over 4000 characters, even a very large one', async () => {
    const { session, customer, customerSocket } = await pendingSession(srv.server);
    await expectError(customerSocket, 'message_too_long', 'send-message', { sessionId: session.id, content: 'y'.repeat(4001) });
    // Large, but under the 64 KiB websocket frame limit.
    await expectError(customerSocket, 'message_too_long', 'send-message', { sessionId: session.id, content: 'z'.repeat(60_000) });
    assert.deepEqual(await listMessages(srv.server, customer, session.id), []);
    await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'still usable' });
  });

  it('conflict: an agent assigning a session another agent holds, through REST', async () => {
    const { session, agent } = await activeSession(srv.server);
    const other = makeUser('agent');
    await connect(srv.server, other.token, ws); // known to the server
    await expectRestError(api(srv.server, other, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: {} }), 409, 'conflict');
    assert.deepEqual((await getSession(srv.server, other, session.id)).agent, agent.ref);
  });

  // unavailable: attack-faults.test.mjs (a read-only or locked SQLite file,
  // a PostgreSQL outage) and multinode.test.mjs. internal: the opaque form of
  // a server bug, never reachable on purpose; that its cause stays out of the
  // body is a unit test of src/error.rs.
});

describe('rate_limited', () => {
  it('rate_limited: sending faster than the configured burst', async (t) => {
    const server = await spawnServerFor(t, { args: ['--send-rate-per-second', '1', '--send-burst', '3'] });
    const { session, customer, customerSocket } = await pendingSession(server);
    await sendMessages(customerSocket, session.id, ['1', '2', '3']);
    await expectError(customerSocket, 'rate_limited', 'send-message', { sessionId: session.id, content: '4' });
    assert.equal((await listMessages(server, customer, session.id)).length, 3);
  });
});

describe('the exception event', () => {
  const srv = useServer();

  it('has the shape { status: "error", message, code, event } and names the failed event', async () => {
    const socket = await connect(srv.server, makeUser('customer').token, ws);
    const ackPromise = emitAck(socket, 'close-session', { sessionId: UNKNOWN_UUID });
    const exception = await waitFor(socket, 'exception');
    const ack = await ackPromise;
    assert.deepEqual(ack.ok, false);
    assert.deepEqual(Object.keys(ack).sort(), ['error', 'ok']);
    assert.deepEqual(Object.keys(ack.error).sort(), ['code', 'message']);
    assert.deepEqual(exception, { status: 'error', message: exception.message, code: ack.error.code, event: 'close-session' });
    assert.equal(typeof exception.message, 'string');
  });

  it('is sent only to the socket whose event failed', async () => {
    const { session, customer } = await pendingSession(srv.server);
    const first = await connect(srv.server, customer.token, ws);
    const second = await connect(srv.server, customer.token, ws);
    await expectError(first, 'invalid_payload', 'send-message', { sessionId: session.id, content: '' });
    await expectNo(second, 'exception', 300);
  });

  it('is sent even when the client asked for no acknowledgement', async () => {
    const socket = await connect(srv.server, makeUser('customer').token, ws);
    socket.emit('join-session', { sessionId: UNKNOWN_UUID });
    const exception = await waitFor(socket, 'exception');
    assert.equal(exception.event, 'join-session');
    assert.equal(exception.code, 'not_found');
  });
});

// Payloads that are not the documented shape, for each event.
const shapes = {
  bareNumber: 42,
  array: [1, 2, 3],
  null: null,
  boolean: true,
  emptyObject: {},
  numericSessionId: { sessionId: 42 },
  nullSessionId: { sessionId: null },
  objectSessionId: { sessionId: { id: 'x' } },
};

describe('malformed payloads', () => {
  const srv = useServer();

  /** A session with one message, and sockets of its customer and agent, for the whole block. */
  async function fixture() {
    const active = await activeSession(srv.server, { message: 'the only message' });
    const before = {
      session: await getSession(srv.server, active.customer, active.session.id),
      messages: await listMessages(srv.server, active.customer, active.session.id),
    };
    return { ...active, before };
  }

  async function assertNothingChanged(f) {
    assert.deepEqual(await getSession(srv.server, f.customer, f.session.id), f.before.session, 'the session changed');
    assert.deepEqual(await listMessages(srv.server, f.customer, f.session.id), f.before.messages, 'the messages changed');
  }

  async function assertStillUsable(f, socket) {
    assert.equal(socket.connected, true);
    const data = await ok(socket, 'join-session', { sessionId: f.session.id });
    assert.equal(data.session.id, f.session.id);
  }

  for (const event of ['join-session', 'leave-session', 'send-message', 'typing', 'mark-read', 'close-session']) {
    it(`answers every malformed ${event} payload with an error ack and an exception, and keeps the socket`, async () => {
      const f = await fixture();
      for (const [label, payload] of Object.entries(shapes)) {
        await expectError(f.agentSocket, ['invalid_payload', 'not_found'], event, payload).catch((err) => {
          err.message = `${label}: ${err.message}`;
          throw err;
        });
      }
      await expectError(f.agentSocket, ['invalid_payload', 'not_found'], event); // no payload at all
      await assertStillUsable(f, f.agentSocket);
      await assertNothingChanged(f);
    });
  }

  it('refuses a bare string where an object is expected (all events but join-session)', async () => {
    const f = await fixture();
    for (const event of ['send-message', 'typing', 'mark-read', 'close-session']) {
      await expectError(f.agentSocket, ['invalid_payload', 'not_found'], event, f.session.id);
    }
    await assertStillUsable(f, f.agentSocket);
    await assertNothingChanged(f);
  });

  it('refuses fields of the wrong type with invalid_payload', async () => {
    const f = await fixture();
    const id = f.session.id;
    const cases = [
      ['send-message', { sessionId: id, content: { text: 'x' } }],
      ['send-message', { sessionId: id, content: ['x'] }],
      ['send-message', { sessionId: id, content: null }],
      ['send-message', { sessionId: id }],
      ['send-message', { sessionId: id, content: 'ok', clientMessageId: 5 }],
      ['send-message', { sessionId: id, message: 7 }],
      ['typing', { sessionId: id, isTyping: 'true' }],
      ['typing', { sessionId: id, isTyping: 1 }],
      ['mark-read', { sessionId: id, messageId: 5 }],
      ['close-session', { sessionId: id, reason: 5 }],
      ['join-session', { sessionId: id, lastMessageId: 5 }],
    ];
    for (const [event, payload] of cases) {
      await expectError(f.agentSocket, 'invalid_payload', event, payload);
    }
    await assertStillUsable(f, f.agentSocket);
    await assertNothingChanged(f);
  });

  it('refuses unknown ids with not_found (or invalid_payload for ids that are not even ids)', async () => {
    const f = await fixture();
    const cases = [
      ['join-session', { sessionId: UNKNOWN_UUID }, ['not_found']],
      ['send-message', { sessionId: UNKNOWN_UUID, content: 'hi' }, ['not_found']],
      ['mark-read', { sessionId: UNKNOWN_UUID }, ['not_found']],
      ['close-session', { sessionId: UNKNOWN_UUID }, ['not_found']],
      ['typing', { sessionId: UNKNOWN_UUID, isTyping: true }, ['not_found', 'forbidden']],
      ['mark-read', { sessionId: f.session.id, messageId: UNKNOWN_UUID }, ['not_found']],
      ['join-session', { sessionId: f.session.id, lastMessageId: UNKNOWN_UUID }, ['not_found']],
      ['join-session', { sessionId: 'not-a-uuid' }, ['not_found', 'invalid_payload']],
      ['send-message', { sessionId: "'; DROP TABLE messages; --", content: 'hi' }, ['not_found', 'invalid_payload']],
      ['close-session', { sessionId: '' }, ['not_found', 'invalid_payload']],
    ];
    for (const [event, payload, codes] of cases) {
      await expectError(f.agentSocket, codes, event, payload);
    }
    await assertStillUsable(f, f.agentSocket);
    await assertNothingChanged(f);
  });

  it('ignores unknown extra fields in an otherwise valid payload', async () => {
    const f = await fixture();
    const message = await ok(f.customerSocket, 'send-message', { sessionId: f.session.id, content: 'extra', seq: 999, sender: { id: 'x' }, id: 'forged' });
    assert.notEqual(message.id, 'forged');
    assert.equal(message.seq, 2);
    assert.equal(message.sender.id, f.customer.sub);
  });

  it('does not drop the connection on an event with an unknown name', async () => {
    const f = await fixture();
    f.agentSocket.emit('no-such-event', { sessionId: f.session.id });
    await assertStillUsable(f, f.agentSocket);
  });

  it('keeps working for other clients while one sends garbage', async () => {
    const f = await fixture();
    drain(f.customerSocket);
    const garbage = [];
    for (const payload of Object.values(shapes)) garbage.push(emitAck(f.agentSocket, 'send-message', payload));
    const message = await ok(f.customerSocket, 'send-message', { sessionId: f.session.id, content: 'business as usual' });
    await Promise.all(garbage);
    assert.deepEqual(await waitFor(f.customerSocket, 'new-message'), message);
  });

  it('answers a REST request for an unknown session with 404 not_found', async () => {
    const agent = makeUser('agent');
    await expectRestError(api(srv.server, agent, 'GET', `/api/chat/sessions/${UNKNOWN_UUID}`), 404, 'not_found');
    await expectRestError(api(srv.server, agent, 'GET', `/api/chat/sessions/${UNKNOWN_UUID}/messages`), 404, 'not_found');
  });
});
