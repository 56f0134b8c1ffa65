// docs/protocol.md §4 send-message and join-session's history, §5 new-message:
// validation, idempotent retries, seq order, and catch-up with lastMessageId.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  connect, drain, emitAck, expectError, expectNo, makeUser, ok, received, waitFor,
} from '../lib/clients.mjs';
import { api, assertMessage, getSession, listMessages } from '../lib/rest.mjs';
import { activeSession, pendingSession, sendMessages } from '../lib/scenario.mjs';
import { useServer } from '../lib/server.mjs';

const ws = { transports: ['websocket'] };
const generous = ['--send-rate-per-second', '1000', '--send-burst', '1000'];

describe('sending a message', () => {
  const srv = useServer({ args: generous });

  it('stores the message and acks it with every Message field', async () => {
    const { session, customer, customerSocket } = await pendingSession(srv.server);
    const message = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'Hello there' });
    assertMessage(message, {
      sessionId: session.id, seq: 1, sender: customer.ref, content: 'Hello there', clientMessageId: null, readAt: null,
    });
    const stored = await listMessages(srv.server, customer, session.id);
    assert.deepEqual(stored, [message]);
  });

  it('broadcasts new-message to the whole room, sender included, as a flat Message', async () => {
    const { session, customerSocket, agentSocket, agent } = await activeSession(srv.server);
    const message = await ok(agentSocket, 'send-message', { sessionId: session.id, content: 'How can I help?' });
    assertMessage(message, { sender: agent.ref });
    assert.deepEqual(await waitFor(customerSocket, 'new-message'), message);
    assert.deepEqual(await waitFor(agentSocket, 'new-message'), message);
    await expectNo(agentSocket, 'new-message', 300); // exactly once
  });

  it('does not send new-message to a socket outside the room', async () => {
    const { session, customer, customerSocket } = await pendingSession(srv.server);
    const otherTab = await connect(srv.server, customer.token, ws);
    await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'only the room' });
    await waitFor(customerSocket, 'new-message');
    await expectNo(otherTab, 'new-message', 300);
  });

  it('lets a customer send to their session from a socket that has not joined it', async () => {
    const { session, customer, agentSocket } = await activeSession(srv.server);
    const otherTab = await connect(srv.server, customer.token, ws);
    const message = await ok(otherTab, 'send-message', { sessionId: session.id, content: 'from another tab' });
    assert.deepEqual(await waitFor(agentSocket, 'new-message'), message);
  });

  it('updates the session\'s lastMessageAt', async () => {
    const { session, customer, customerSocket } = await pendingSession(srv.server);
    const message = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'tick' });
    const stored = await getSession(srv.server, customer, session.id);
    assert.equal(stored.lastMessageAt, message.createdAt);
  });

  for (const alias of ['message', 'text']) {
    it(`accepts "${alias}" as an alias of content`, async () => {
      const { session, customerSocket } = await pendingSession(srv.server);
      const message = await ok(customerSocket, 'send-message', { sessionId: session.id, [alias]: `via ${alias}` });
      assert.equal(message.content, `via ${alias}`);
    });
  }

  it('trims the content', async () => {
    const { session, customerSocket } = await pendingSession(srv.server);
    const message = await ok(customerSocket, 'send-message', { sessionId: session.id, content: ' \n\t  spaced out \t\n ' });
    assert.equal(message.content, 'spaced out');
    assert.equal((await waitFor(customerSocket, 'new-message')).content, 'spaced out');
  });

  it('keeps the content verbatim otherwise: markup, quotes, newlines and emoji', async () => {
    const { session, customerSocket } = await pendingSession(srv.server);
    const content = '<b>bold</b> & "quotes" \'single\'\nline two 😀 ümlaut \\ backslash';
    const message = await ok(customerSocket, 'send-message', { sessionId: session.id, content });
    assert.equal(message.content, content);
  });

  for (const [label, content] of [['empty', ''], ['only whitespace', ' \n\t ']]) {
    it(`refuses ${label} content with invalid_payload and stores nothing`, async () => {
      const { session, customer, customerSocket } = await pendingSession(srv.server);
      drain(customerSocket);
      await expectError(customerSocket, 'invalid_payload', 'send-message', { sessionId: session.id, content });
      await expectNo(customerSocket, 'new-message', 300);
      assert.deepEqual(await listMessages(srv.server, customer, session.id), []);
    });
  }

  it('refuses content over the default limit of 4000 characters with message_too_long', async () => {
    const { session, customer, customerSocket } = await pendingSession(srv.server);
    await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'x'.repeat(4000) });
    await expectError(customerSocket, 'message_too_long', 'send-message', { sessionId: session.id, content: 'x'.repeat(4001) });
    assert.equal((await listMessages(srv.server, customer, session.id)).length, 1);
  });

  it('echoes the clientMessageId', async () => {
    const { session, customerSocket } = await pendingSession(srv.server);
    const message = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'with id', clientMessageId: 'client-1' });
    assert.equal(message.clientMessageId, 'client-1');
    assert.equal((await waitFor(customerSocket, 'new-message')).clientMessageId, 'client-1');
  });

  it('returns the stored message for a repeated clientMessageId and broadcasts nothing again', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    const first = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'retry me', clientMessageId: 'retry-1' });
    await waitFor(agentSocket, 'new-message');
    await waitFor(customerSocket, 'new-message');
    const second = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'retry me', clientMessageId: 'retry-1' });
    assert.deepEqual(second, first);
    // Even if the retry's content differs, the stored message wins.
    const third = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'changed', clientMessageId: 'retry-1' });
    assert.deepEqual(third, first);
    await expectNo(agentSocket, 'new-message', 300);
    await expectNo(customerSocket, 'new-message', 0);
    assert.deepEqual(await listMessages(srv.server, customer, session.id), [first]);
  });

  it('stores a clientMessageId sent several times at once only once', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    const acks = await Promise.all(Array.from({ length: 5 }, () => ok(customerSocket, 'send-message',
      { sessionId: session.id, content: 'double click', clientMessageId: 'dbl-1' })));
    for (const ack of acks) assert.deepEqual(ack, acks[0]);
    await waitFor(agentSocket, 'new-message');
    await expectNo(agentSocket, 'new-message', 300);
    assert.equal((await listMessages(srv.server, customer, session.id)).length, 1);
  });

  it('treats the same clientMessageId from another sender, or in another session, as a new message', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    const mine = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'a', clientMessageId: 'same' });
    const theirs = await ok(agentSocket, 'send-message', { sessionId: session.id, content: 'b', clientMessageId: 'same' });
    assert.notEqual(theirs.id, mine.id);
    assert.equal(theirs.seq, mine.seq + 1);
    assert.equal((await listMessages(srv.server, customer, session.id)).length, 2);

    const other = await pendingSession(srv.server);
    const admin = makeUser('admin');
    const adminSocket = await connect(srv.server, admin.token, ws);
    const a = await ok(adminSocket, 'send-message', { sessionId: session.id, content: 'x', clientMessageId: 'admin-id' });
    const b = await ok(adminSocket, 'send-message', { sessionId: other.session.id, content: 'y', clientMessageId: 'admin-id' });
    assert.notEqual(a.id, b.id);
    assert.equal(b.sessionId, other.session.id);
  });

  it('numbers the messages of a session 1, 2, 3… without gaps for concurrent senders, and delivers them in seq order', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    const admin = makeUser('admin');
    const observer = await connect(srv.server, admin.token, ws);
    await ok(observer, 'join-session', { sessionId: session.id });
    drain(observer);
    const n = 15;
    const sends = [];
    for (let i = 0; i < n; i += 1) {
      sends.push(ok(customerSocket, 'send-message', { sessionId: session.id, content: `c${i}` }));
      sends.push(ok(agentSocket, 'send-message', { sessionId: session.id, content: `a${i}` }));
    }
    const acked = await Promise.all(sends);
    assert.deepEqual(acked.map((m) => m.seq).sort((x, y) => x - y), Array.from({ length: 2 * n }, (_, i) => i + 1));
    const last = acked.reduce((max, m) => (m.seq > max.seq ? m : max));
    await waitFor(observer, 'new-message', { filter: (m) => m.id === last.id });
    const seen = received(observer, 'new-message').map((m) => m.seq);
    assert.deepEqual(seen, Array.from({ length: 2 * n }, (_, i) => i + 1), 'new-message events in seq order');
    const stored = await listMessages(srv.server, customer, session.id);
    assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: 2 * n }, (_, i) => i + 1));
  });

  it('refuses to send to a closed session with session_closed and stores nothing', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    await ok(customerSocket, 'close-session', { sessionId: session.id });
    drain(customerSocket);
    await expectError(customerSocket, 'session_closed', 'send-message', { sessionId: session.id, content: 'too late' });
    await expectError(agentSocket, 'session_closed', 'send-message', { sessionId: session.id, content: 'too late' });
    await expectNo(customerSocket, 'new-message', 300);
    assert.deepEqual(await listMessages(srv.server, customer, session.id), []);
  });

  it('forbids an agent who has not taken a pending session to send to it', async () => {
    const { session, customer } = await pendingSession(srv.server);
    const agent = makeUser('agent');
    const socket = await connect(srv.server, agent.token, ws);
    await expectError(socket, 'forbidden', 'send-message', { sessionId: session.id, content: 'hi' });
    const stored = await getSession(srv.server, customer, session.id);
    assert.equal(stored.status, 'pending');
    assert.deepEqual(await listMessages(srv.server, customer, session.id), []);
  });

  it('forbids a watching agent to send, and lets an admin send without holding the session', async () => {
    const { session, customer } = await activeSession(srv.server);
    const watcher = makeUser('agent');
    const watcherSocket = await connect(srv.server, watcher.token, ws);
    await ok(watcherSocket, 'join-session', { sessionId: session.id });
    await expectError(watcherSocket, 'forbidden', 'send-message', { sessionId: session.id, content: 'psst' });
    const admin = makeUser('admin');
    const adminSocket = await connect(srv.server, admin.token, ws);
    const message = await ok(adminSocket, 'send-message', { sessionId: session.id, content: 'admin here' });
    assert.deepEqual(message.sender, admin.ref);
    assert.deepEqual((await listMessages(srv.server, customer, session.id)).map((m) => m.content), ['admin here']);
  });

  it('forbids another customer to send to the session', async () => {
    const { session, customer } = await pendingSession(srv.server);
    const stranger = makeUser('customer');
    const socket = await connect(srv.server, stranger.token, ws);
    await expectError(socket, 'forbidden', 'send-message', { sessionId: session.id, content: 'hi' });
    assert.deepEqual(await listMessages(srv.server, customer, session.id), []);
  });
});

describe('with the message writer lingering (--message-linger-ms)', () => {
  // The writer waits for more messages while they come in steadily: every
  // guarantee of a batch of one holds for the larger batches it then makes.
  const srv = useServer({ args: [...generous, '--message-linger-ms', '5'] });

  it('acks a lone message on a quiet server', async () => {
    const { session, customerSocket, agentSocket } = await activeSession(srv.server);
    const message = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'alone' });
    assert.equal(message.seq, 1);
    assert.equal((await waitFor(agentSocket, 'new-message')).id, message.id);
  });

  it('stores many sessions\' concurrent messages once each, numbered without gaps, delivered in seq order, retries and refusals answered alike', async () => {
    const sessions = await Promise.all(Array.from({ length: 8 }, () => activeSession(srv.server)));
    const closed = await activeSession(srv.server);
    await api(srv.server, closed.customer, 'POST', `/api/chat/sessions/${closed.session.id}/close`, { body: {} });
    for (const { agentSocket } of sessions) drain(agentSocket);
    const n = 10;
    const sends = sessions.map(({ session, customerSocket, agentSocket }) => {
      const all = [];
      for (let i = 0; i < n; i += 1) {
        all.push(ok(customerSocket, 'send-message', { sessionId: session.id, content: `c${i}`, clientMessageId: `c-${i}` }));
        all.push(ok(agentSocket, 'send-message', { sessionId: session.id, content: `a${i}` }));
      }
      // A retry sent with the originals: stored once, answered with the original.
      all.push(ok(customerSocket, 'send-message', { sessionId: session.id, content: 'c0 again', clientMessageId: 'c-0' }));
      return Promise.all(all);
    });
    const refused = expectError(closed.customerSocket, 'session_closed', 'send-message', { sessionId: closed.session.id, content: 'too late' });
    const acked = await Promise.all(sends);
    await refused;
    for (const [k, { session, customer, agentSocket }] of sessions.entries()) {
      const acks = acked[k];
      const retry = acks.pop();
      assert.deepEqual(retry, acks.find((m) => m.clientMessageId === 'c-0'), 'the retry got the original');
      const seqs = Array.from({ length: 2 * n }, (_, i) => i + 1);
      assert.deepEqual(acks.map((m) => m.seq).sort((x, y) => x - y), seqs, 'seq 1..n without gaps');
      const last = acks.reduce((max, m) => (m.seq > max.seq ? m : max));
      await waitFor(agentSocket, 'new-message', { filter: (m) => m.id === last.id });
      assert.deepEqual(received(agentSocket, 'new-message').map((m) => m.seq), seqs, 'delivered once each, in seq order');
      const stored = await listMessages(srv.server, customer, session.id);
      assert.deepEqual(stored.map((m) => m.id), [...acks].sort((x, y) => x.seq - y.seq).map((m) => m.id), 'stored as acked');
    }
    assert.equal((await listMessages(srv.server, closed.customer, closed.session.id)).length, 0, 'nothing stored in the closed session');
  });
});

describe('the message length limit', () => {
  const srv = useServer({ args: ['--message-max-length', '10'] });

  it('accepts content of exactly --message-max-length characters', async () => {
    const { session, customerSocket } = await pendingSession(srv.server);
    assert.equal((await ok(customerSocket, 'send-message', { sessionId: session.id, content: '0123456789' })).content, '0123456789');
  });

  it('refuses one character more with message_too_long and stores nothing', async () => {
    const { session, customer, customerSocket } = await pendingSession(srv.server);
    drain(customerSocket);
    await expectError(customerSocket, 'message_too_long', 'send-message', { sessionId: session.id, content: '0123456789A' });
    await expectNo(customerSocket, 'new-message', 300);
    assert.deepEqual(await listMessages(srv.server, customer, session.id), []);
  });

  it('counts characters, not bytes', async () => {
    const { session, customerSocket } = await pendingSession(srv.server);
    const content = 'éàüößñçøåæ'; // 10 characters, 20 bytes in UTF-8
    assert.equal((await ok(customerSocket, 'send-message', { sessionId: session.id, content })).content, content);
  });

  it('measures the content after trimming', async () => {
    const { session, customerSocket } = await pendingSession(srv.server);
    const message = await ok(customerSocket, 'send-message', { sessionId: session.id, content: '   0123456789   ' });
    assert.equal(message.content, '0123456789');
  });

  it('applies the same limit to the opening message of POST /api/chat/sessions', async () => {
    const customer = makeUser('customer');
    const res = await api(srv.server, customer, 'POST', '/api/chat/sessions', { body: { message: 'far too long for ten' } });
    assert.equal(res.status, 413, res.text);
    assert.equal(res.body?.error?.code, 'message_too_long');
  });
});

describe('history on join-session', () => {
  const srv = useServer({ args: generous });

  it('returns the last 50 messages, oldest first, without lastMessageId', async () => {
    const { session, customerSocket } = await pendingSession(srv.server);
    const sent = await sendMessages(customerSocket, session.id, Array.from({ length: 60 }, (_, i) => `m${i + 1}`));
    const agent = makeUser('agent');
    const agentSocket = await connect(srv.server, agent.token, ws);
    const data = await ok(agentSocket, 'join-session', { sessionId: session.id });
    assert.equal(data.messages.length, 50);
    assert.deepEqual(data.messages.map((m) => m.seq), Array.from({ length: 50 }, (_, i) => i + 11));
    assert.deepEqual(data.messages.map((m) => m.id), sent.slice(10).map((m) => m.id));
  });

  it('returns every message after lastMessageId, oldest first, however many', async () => {
    const { session, customerSocket } = await pendingSession(srv.server);
    const sent = await sendMessages(customerSocket, session.id, Array.from({ length: 70 }, (_, i) => `m${i + 1}`));
    const data = await ok(customerSocket, 'join-session', { sessionId: session.id, lastMessageId: sent[4].id });
    assert.equal(data.messages.length, 65);
    assert.deepEqual(data.messages.map((m) => m.seq), Array.from({ length: 65 }, (_, i) => i + 6));
    const joined = await waitFor(customerSocket, 'session-joined', { filter: (p) => p.messages?.length === 65 });
    assert.deepEqual(joined.messages, data.messages);
  });

  it('returns no messages when lastMessageId is the newest one', async () => {
    const { session, customerSocket } = await pendingSession(srv.server);
    const sent = await sendMessages(customerSocket, session.id, ['one', 'two']);
    const data = await ok(customerSocket, 'join-session', { sessionId: session.id, lastMessageId: sent[1].id });
    assert.deepEqual(data.messages, []);
  });

  it('refuses a lastMessageId of another session with not_found, and the agent does not take the session', async () => {
    const other = await pendingSession(srv.server);
    const [foreign] = await sendMessages(other.customerSocket, other.session.id, ['elsewhere']);
    const { session, customer, customerSocket } = await pendingSession(srv.server);
    await sendMessages(customerSocket, session.id, ['here']);
    const agent = makeUser('agent');
    const agentSocket = await connect(srv.server, agent.token, ws);
    await expectError(agentSocket, 'not_found', 'join-session', { sessionId: session.id, lastMessageId: foreign.id });
    await expectError(agentSocket, 'not_found', 'join-session', { sessionId: session.id, lastMessageId: '0190a0f4-1c2b-7d3e-8f40-123456789abc' });
    const stored = await getSession(srv.server, customer, session.id);
    assert.equal(stored.status, 'pending');
    assert.equal(stored.agent, null);
    // Not in the room either: the failed join changed nothing.
    drain(agentSocket);
    await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'hello?' });
    await expectNo(agentSocket, 'new-message', 300);
  });

  it('lets a reconnecting client catch up exactly the messages it missed', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    const before = await sendMessages(customerSocket, session.id, ['1', '2']);
    customerSocket.disconnect();
    const missed = await sendMessages(agentSocket, session.id, ['3', '4', '5']);
    const back = await connect(srv.server, customer.token, ws);
    const data = await ok(back, 'join-session', { sessionId: session.id, lastMessageId: before[1].id });
    assert.deepEqual(data.messages.map((m) => m.id), missed.map((m) => m.id));
  });

  it('returns an empty messages list for a session without messages', async () => {
    const { session, customerSocket } = await pendingSession(srv.server);
    const ack = await emitAck(customerSocket, 'join-session', { sessionId: session.id });
    assert.equal(ack.ok, true);
    assert.deepEqual(ack.data.messages, []);
  });
});
