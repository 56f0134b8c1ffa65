// docs/protocol.md §4 mark-read, §5 messages-read, §3 Message.readAt and
// Session.unreadCount.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, drain, expectError, expectNo, makeUser, ok, waitFor } from '../lib/clients.mjs';
import { api, assertTimestamp, expectStatus, getSession, listMessages } from '../lib/rest.mjs';
import { activeSession, sendMessages } from '../lib/scenario.mjs';
import { useServer } from '../lib/server.mjs';

const ws = { transports: ['websocket'] };

describe('marking messages read', () => {
  const srv = useServer();

  it('counts customer messages no agent has read in unreadCount', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    await sendMessages(customerSocket, session.id, ['one', 'two', 'three']);
    await sendMessages(agentSocket, session.id, ['reply']);
    assert.equal((await getSession(srv.server, customer, session.id)).unreadCount, 3);
    const rejoined = await ok(agentSocket, 'join-session', { sessionId: session.id });
    assert.equal(rejoined.session.unreadCount, 3);
  });

  it('lets the agent mark every customer message read and tells the room', async () => {
    const { session, agent, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    const sent = await sendMessages(customerSocket, session.id, ['one', 'two', 'three']);
    const [reply] = await sendMessages(agentSocket, session.id, ['reply']);
    const data = await ok(agentSocket, 'mark-read', { sessionId: session.id });
    assert.deepEqual(data, { sessionId: session.id, count: 3 });

    for (const socket of [customerSocket, agentSocket]) {
      const event = await waitFor(socket, 'messages-read');
      assert.deepEqual(Object.keys(event).sort(), ['count', 'readAt', 'reader', 'sessionId', 'upToMessageId', 'upToSeq']);
      assert.equal(event.sessionId, session.id);
      assert.deepEqual(event.reader, agent.ref);
      assert.equal(event.upToMessageId, sent[2].id);
      assert.equal(event.upToSeq, sent[2].seq);
      assert.equal(event.count, 3);
      assertTimestamp(event.readAt, 'messages-read readAt');
    }

    const stored = await listMessages(srv.server, customer, session.id);
    for (const message of stored.filter((m) => m.sender.id === customer.sub)) {
      assertTimestamp(message.readAt, `readAt of ${message.content}`);
    }
    assert.equal(stored.find((m) => m.id === reply.id).readAt, null, 'the reader\'s own message stays unread');
    assert.equal((await getSession(srv.server, customer, session.id)).unreadCount, 0);
  });

  it('marks only up to messageId when one is given', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    const sent = await sendMessages(customerSocket, session.id, ['one', 'two', 'three']);
    const data = await ok(agentSocket, 'mark-read', { sessionId: session.id, messageId: sent[1].id });
    assert.equal(data.count, 2);
    const event = await waitFor(customerSocket, 'messages-read');
    assert.equal(event.upToMessageId, sent[1].id);
    assert.equal(event.upToSeq, 2);
    const stored = await listMessages(srv.server, customer, session.id);
    assert.notEqual(stored[0].readAt, null);
    assert.notEqual(stored[1].readAt, null);
    assert.equal(stored[2].readAt, null);
    assert.equal((await getSession(srv.server, customer, session.id)).unreadCount, 1);
  });

  it('reports as upToMessageId the newest message it marked, not the messageId given', async () => {
    const { session, customerSocket, agentSocket } = await activeSession(srv.server);
    const mine = await sendMessages(customerSocket, session.id, ['c1', 'c2']);
    const [reply] = await sendMessages(agentSocket, session.id, ['a1']);
    const data = await ok(agentSocket, 'mark-read', { sessionId: session.id, messageId: reply.id });
    assert.equal(data.count, 2);
    const event = await waitFor(customerSocket, 'messages-read');
    assert.equal(event.upToMessageId, mine[1].id);
    assert.equal(event.upToSeq, mine[1].seq);
  });

  it('returns count 0 and tells nobody when there is nothing left to mark', async () => {
    const { session, customerSocket, agentSocket } = await activeSession(srv.server);
    await sendMessages(customerSocket, session.id, ['one']);
    await ok(agentSocket, 'mark-read', { sessionId: session.id });
    await waitFor(customerSocket, 'messages-read');
    await waitFor(agentSocket, 'messages-read');
    const data = await ok(agentSocket, 'mark-read', { sessionId: session.id });
    assert.deepEqual(data, { sessionId: session.id, count: 0 });
    await expectNo(customerSocket, 'messages-read', 300);
    await expectNo(agentSocket, 'messages-read', 0);
  });

  it('keeps the first readAt when a message is marked again', async () => {
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    const [first] = await sendMessages(customerSocket, session.id, ['one']);
    await ok(agentSocket, 'mark-read', { sessionId: session.id });
    const readAt = (await listMessages(srv.server, customer, session.id))[0].readAt;
    await sendMessages(customerSocket, session.id, ['two']);
    await ok(agentSocket, 'mark-read', { sessionId: session.id });
    const stored = await listMessages(srv.server, customer, session.id);
    assert.equal(stored.find((m) => m.id === first.id).readAt, readAt);
  });

  it('lets the customer mark the agent\'s messages read, and only those', async () => {
    const { session, customer, agent, customerSocket, agentSocket } = await activeSession(srv.server);
    const [question] = await sendMessages(customerSocket, session.id, ['question']);
    const replies = await sendMessages(agentSocket, session.id, ['answer 1', 'answer 2']);
    const data = await ok(customerSocket, 'mark-read', { sessionId: session.id });
    assert.equal(data.count, 2);
    const event = await waitFor(agentSocket, 'messages-read');
    assert.deepEqual(event.reader, customer.ref);
    assert.equal(event.upToMessageId, replies[1].id);
    const stored = await listMessages(srv.server, agent, session.id);
    assert.equal(stored.find((m) => m.id === question.id).readAt, null);
    assert.equal((await getSession(srv.server, agent, session.id)).unreadCount, 1, 'the customer reading does not clear unreadCount');
  });

  it('lets an admin who does not hold the session mark it read on the agent side', async () => {
    const { session, customer, customerSocket } = await activeSession(srv.server);
    await sendMessages(customerSocket, session.id, ['one', 'two']);
    const admin = makeUser('admin');
    const adminSocket = await connect(srv.server, admin.token, ws);
    const data = await ok(adminSocket, 'mark-read', { sessionId: session.id });
    assert.equal(data.count, 2);
    assert.deepEqual((await waitFor(customerSocket, 'messages-read')).reader, admin.ref);
    assert.equal((await getSession(srv.server, customer, session.id)).unreadCount, 0);
  });

  it('forbids a watching agent to mark messages read', async () => {
    const { session, customer, customerSocket } = await activeSession(srv.server);
    await sendMessages(customerSocket, session.id, ['one']);
    drain(customerSocket);
    const watcher = makeUser('agent');
    const watcherSocket = await connect(srv.server, watcher.token, ws);
    await ok(watcherSocket, 'join-session', { sessionId: session.id });
    await expectError(watcherSocket, 'forbidden', 'mark-read', { sessionId: session.id });
    await expectNo(customerSocket, 'messages-read', 300);
    assert.equal((await getSession(srv.server, customer, session.id)).unreadCount, 1);
  });

  it('refuses a messageId of another session with not_found and marks nothing', async () => {
    const other = await activeSession(srv.server);
    const [foreign] = await sendMessages(other.customerSocket, other.session.id, ['elsewhere']);
    const { session, customer, customerSocket, agentSocket } = await activeSession(srv.server);
    await sendMessages(customerSocket, session.id, ['here']);
    await expectError(agentSocket, 'not_found', 'mark-read', { sessionId: session.id, messageId: foreign.id });
    assert.equal((await getSession(srv.server, customer, session.id)).unreadCount, 1);
    assert.equal((await getSession(srv.server, other.customer, other.session.id)).unreadCount, 1);
  });

  it('does the same through POST /api/chat/sessions/{id}/read and emits messages-read', async () => {
    const { session, agent, customer, customerSocket } = await activeSession(srv.server);
    const sent = await sendMessages(customerSocket, session.id, ['one', 'two']);
    const body = await expectStatus(api(srv.server, agent, 'POST', `/api/chat/sessions/${session.id}/read`, { body: {} }), 200);
    assert.deepEqual(body, { count: 2 });
    const event = await waitFor(customerSocket, 'messages-read');
    assert.deepEqual(event.reader, agent.ref);
    assert.equal(event.upToMessageId, sent[1].id);
    assert.equal((await getSession(srv.server, customer, session.id)).unreadCount, 0);
  });
});
