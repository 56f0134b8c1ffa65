// docs/protocol.md §10 agent tools across three nodes (Redis + PostgreSQL):
// a note reaches the staff sockets of the session's room on every node once
// and no customer socket on any node, by no path (events, join acks,
// catch-up, history, transcript, stats); notes take no seq whichever node
// they are written on; ratings of one session from two nodes at once leave
// exactly one, and everyone hears of the winner once; a canned shortcut
// created on three nodes at once exists once; reports read the same on
// every node.
//
// Needs TEST_PG_URL and TEST_REDIS_URL (source scripts/services.sh); skipped without.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drain, emitAck, expectNo, makeUser, ok, received, until, waitFor } from '../lib/clients.mjs';
import { api, assertStats, expectRestError, expectStatus, getSession, listMessages, openSession } from '../lib/rest.mjs';
import { clusterSkip, freshTenant, useCluster } from '../lib/cluster.mjs';
import {
  CANNED, COUNTS, HOUR, JOIN_ACK_KEYS, STAFF_JOIN_ACK_KEYS, assertBuckets, assertNoNoteIn, assertNoNoteReached, assertReportShape,
  cannedList, cannedPath, closedSession, expectedTranscript, factsOf, floorTo, noteAddedOf, noteRest, notesOf, online, range,
  rateRest, report, staffOnline, total, transcriptOk,
} from '../lib/tools.mjs';

const ARGS = [
  '--send-rate-per-second', '10000', '--send-burst', '10000',
  '--event-rate-per-second', '10000', '--event-burst', '10000',
  '--open-rate-per-second', '10000', '--open-burst', '10000',
];
// Events cross Redis on a busy 2-core machine.
const CROSS = { timeout: 5000 };
// How long a duplicate or a stray event gets to show up before absence is asserted.
const QUIET_MS = 1000;

/** The one note-added of `note` on `socket` (from any node), equal to the Note. */
async function noteAddedOnce(socket, note, who) {
  const got = await waitFor(socket, 'note-added', { ...CROSS, filter: (n) => n?.id === note.id });
  assert.deepEqual(got, note, `${who}: note-added carries the Note`);
}

describe('agent tools over three nodes', () => {
  const c = useCluster({ nodes: 3, args: ARGS });
  const node = (i) => c.cluster.node(i);

  it('sends a note to the staff sockets of the session on every node once, and to no customer socket on any node by any path; notes take no seq', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const customer = makeUser('customer', { tenant, name: 'Customer Everywhere' });
    const opened = await openSession(node(0), customer, { subject: 'across nodes', message: 'm1 on node 0' });
    // The customer: in the room on nodes 0 and 2, in the user room only on node 1.
    const cust0 = await online(node(0), 'customer', tenant, customer);
    await ok(cust0.socket, 'join-session', { sessionId: opened.id });
    const cust2 = await online(node(2), 'customer', tenant, customer);
    await ok(cust2.socket, 'join-session', { sessionId: opened.id });
    const cust1 = await online(node(1), 'customer', tenant, customer);
    // Staff: in the room on each node, and others that are not (or left).
    const holder = await online(node(1), 'agent', tenant, makeUser('agent', { tenant, name: 'Holder on 1' }));
    await ok(holder.socket, 'join-session', { sessionId: opened.id }); // takes it
    const watcher = await online(node(2), 'agent', tenant);
    await ok(watcher.socket, 'join-session', { sessionId: opened.id });
    const admin = await online(node(0), 'admin', tenant);
    await ok(admin.socket, 'join-session', { sessionId: opened.id });
    const idle = await online(node(0), 'agent', tenant);
    const leaver = await online(node(2), 'agent', tenant);
    await ok(leaver.socket, 'join-session', { sessionId: opened.id });
    await ok(leaver.socket, 'leave-session', { sessionId: opened.id });
    const statsAgent = await staffOnline(node(1), 'agent', tenant);
    await waitFor(cust0.socket, 'session-updated', { ...CROSS, filter: (s) => s.id === opened.id && s.status === 'active' });

    const notes = [];
    const secret = (label) => `${label} ${Math.random().toString(36).slice(2)}`;
    notes.push(await ok(holder.socket, 'add-note', { sessionId: opened.id, content: secret('by the holder on node 1') }));
    const m2 = await ok(holder.socket, 'send-message', { sessionId: opened.id, content: 'm2 on node 1' });
    notes.push(await noteRest(node(2), makeUser('admin', { tenant, name: 'REST admin' }), opened.id, secret('by REST on node 2')));
    notes.push(await ok(idle.socket, 'add-note', { sessionId: opened.id, content: secret('by an agent outside the room on node 0') }));
    const m3 = await ok(cust2.socket, 'send-message', { sessionId: opened.id, content: 'm3 on node 2' });
    notes.push(await ok(watcher.socket, 'add-note', { sessionId: opened.id, content: secret('by the watcher on node 2') }));
    assert.deepEqual([m2.seq, m3.seq], [2, 3], 'notes take no seq, whichever node writes them');

    for (const note of notes) {
      for (const [who, o] of Object.entries({ holder, watcher, admin })) await noteAddedOnce(o.socket, note, who);
    }
    // Once each, and nowhere else: every note-added above was consumed.
    await expectNo(holder.socket, 'note-added', QUIET_MS);
    for (const o of [watcher, admin, idle, leaver, statsAgent]) await expectNo(o.socket, 'note-added', 0);
    for (const o of [idle, leaver]) assert.equal(notes.flatMap((n) => noteAddedOf(o.socket, n.id)).length, 0);
    for (const [who, o] of Object.entries({ cust0, cust1, cust2 })) assertNoNoteReached(o.socket, notes, `customer socket ${who}`);
    for (const o of [cust0, cust2]) assert.deepEqual(received(o.socket, 'new-message').map((m) => m.seq), [2, 3]);

    // Join acks and catch-up on every node.
    for (const i of [0, 1, 2]) {
      const tab = await online(node(i), 'customer', tenant, customer);
      const plain = await ok(tab.socket, 'join-session', { sessionId: opened.id });
      assert.deepEqual(Object.keys(plain).sort(), JOIN_ACK_KEYS, `node ${i}: a customer's join ack has no notes key`);
      assert.deepEqual(plain.messages.map((m) => m.seq), [1, 2, 3]);
      assertNoNoteIn(plain, notes, `node ${i}: the customer's join ack`);
      const catchUp = await ok(tab.socket, 'join-session', { sessionId: opened.id, lastMessageId: plain.messages[0].id });
      assert.deepEqual(Object.keys(catchUp).sort(), JOIN_ACK_KEYS);
      assert.deepEqual(catchUp.messages.map((m) => m.seq), [2, 3]);
      assertNoNoteIn(catchUp, notes, `node ${i}: the customer's catch-up`);
      const history = await listMessages(node(i), customer, opened.id);
      assert.deepEqual(history.map((m) => m.seq), [1, 2, 3]);
      assertNoNoteIn(history, notes, `node ${i}: the customer's history`);
      assertNoNoteReached(tab.socket, notes, `customer tab on node ${i}`);

      const staffTab = await online(node(i), 'agent', tenant);
      const staffJoin = await ok(staffTab.socket, 'join-session', { sessionId: opened.id });
      assert.deepEqual(Object.keys(staffJoin).sort(), STAFF_JOIN_ACK_KEYS);
      assert.deepEqual(staffJoin.notes, notes, `node ${i}: every note in a staff join ack, oldest first`);
      assert.deepEqual(staffJoin.messages.map((m) => m.seq), [1, 2, 3]);
      assert.deepEqual(await notesOf(node(i), staffTab.user, opened.id), notes);
    }
    // The staff joins' session-joined reached the customer's sockets, without notes.
    await until(() => received(cust0.socket, 'session-joined').length >= 3, { timeout: CROSS.timeout, what: 'the staff joins\' session-joined at the customer' });
    for (const o of [cust0, cust2]) {
      for (const joined of received(o.socket, 'session-joined')) assert.equal('notes' in joined, false, JSON.stringify(joined).slice(0, 300));
      assertNoNoteReached(o.socket, notes);
    }

    // Transcripts: the customer's has none, staff's have them in time order, on every node.
    const session = await getSession(node(0), holder.user, opened.id);
    const messages = await listMessages(node(0), holder.user, opened.id);
    for (const i of [0, 1, 2]) {
      assert.equal(await transcriptOk(node(i), customer, opened.id), expectedTranscript(session, messages), `node ${i}: the customer's transcript`);
      assert.equal(await transcriptOk(node(i), holder.user, opened.id), expectedTranscript(session, messages, notes), `node ${i}: the staff's transcript`);
    }

    // Stats: three messages, whatever the notes.
    await waitFor(statsAgent.socket, 'stats-update', { ...CROSS, filter: (s) => s.messagesToday === 3 });
    for (const i of [0, 1, 2]) {
      assertStats(await expectStatus(api(node(i), holder.user, 'GET', '/api/chat/stats'), 200), { messagesToday: 3 });
    }
    await expectNo(statsAgent.socket, 'stats-update', 0, { filter: (s) => s.messagesToday > 3 });
  });

  it('stops note-added for a staff socket that leaves, on its node, while the other nodes\' sockets go on getting them', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const customer = makeUser('customer', { tenant });
    const opened = await openSession(node(1), customer, { message: 'hello' });
    const a = await online(node(0), 'agent', tenant);
    const b = await online(node(1), 'agent', tenant);
    const cst = await online(node(2), 'customer', tenant, customer);
    await ok(cst.socket, 'join-session', { sessionId: opened.id });
    await ok(a.socket, 'join-session', { sessionId: opened.id });
    await ok(b.socket, 'join-session', { sessionId: opened.id });
    const first = await noteRest(node(2), a.user, opened.id, 'both see this');
    await noteAddedOnce(a.socket, first, 'a');
    await noteAddedOnce(b.socket, first, 'b');
    await ok(b.socket, 'leave-session', { sessionId: opened.id });
    const second = await noteRest(node(2), a.user, opened.id, 'only a sees this');
    await noteAddedOnce(a.socket, second, 'a');
    await expectNo(b.socket, 'note-added', QUIET_MS);
    await expectNo(a.socket, 'note-added', 0);
    assertNoNoteReached(cst.socket, [first, second]);
  });

  it('keeps exactly one rating when tabs on two nodes and REST on a third rate one session at once; everyone hears of the winner once', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const watcher = await staffOnline(node(2), 'agent', tenant);
    const rounds = 6;
    const stored = [];
    for (let round = 0; round < rounds; round += 1) {
      const { customer, session } = await closedSession(node(0), tenant);
      const tab0 = await online(node(0), 'customer', tenant, customer);
      const tab1 = await online(node(1), 'customer', tenant, customer);
      const attempts = await Promise.all([
        emitAck(tab0.socket, 'rate-session', { sessionId: session.id, score: 1, comment: 'node 0' }),
        emitAck(tab1.socket, 'rate-session', { sessionId: session.id, score: 5, comment: 'node 1' }),
        rateRest(node(2), customer, session.id, { score: 3, comment: 'node 2' }),
      ]);
      const outcomes = [
        attempts[0].ok ? attempts[0].data : attempts[0].error.code,
        attempts[1].ok ? attempts[1].data : attempts[1].error.code,
        attempts[2].status === 200 ? attempts[2].body : attempts[2].body?.error?.code,
      ];
      const winners = outcomes.filter((o) => typeof o === 'object');
      assert.equal(winners.length, 1, `round ${round}: exactly one rating succeeds: ${JSON.stringify(outcomes).slice(0, 600)}`);
      assert.deepEqual(outcomes.filter((o) => typeof o !== 'object'), ['conflict', 'conflict'], `round ${round}: the others conflict`);
      if (attempts[2].status !== 200) assert.equal(attempts[2].status, 409);
      for (const i of [0, 1, 2]) {
        assert.deepEqual(await getSession(node(i), customer, session.id), winners[0], `round ${round}, node ${i}: the winner's rating is stored`);
      }
      // session-updated with the rating: once on each of the customer's sockets (user room) and at the agent on node 2.
      for (const [who, o] of Object.entries({ tab0, tab1, watcher })) {
        const update = await waitFor(o.socket, 'session-updated', { ...CROSS, filter: (s) => s.id === session.id && s.rating !== null });
        assert.deepEqual(update, winners[0], `round ${round}: ${who}`);
      }
      stored.push(winners[0]);
    }
    await expectNo(watcher.socket, 'session-updated', QUIET_MS, { filter: (s) => s.rating !== null });
    const mean = Math.round((stored.reduce((sum, s) => sum + s.rating.score, 0) / rounds) * 100) / 100;
    const stats = await waitFor(watcher.socket, 'stats-update', { ...CROSS, filter: (s) => s.ratingsToday === rounds });
    assertStats(stats, { ratingsToday: rounds, avgRatingToday: mean });
    for (const i of [0, 1, 2]) {
      assertStats(await expectStatus(api(node(i), watcher.user, 'GET', '/api/chat/stats'), 200), { ratingsToday: rounds, avgRatingToday: mean });
    }

    // The reports agree on every node, and count each rating once.
    const now = Date.now();
    const range_ = { from: new Date(floorTo(now, HOUR) - HOUR).toISOString(), to: new Date(floorTo(now, HOUR) + HOUR).toISOString() };
    const reports = await Promise.all([0, 1, 2].map((i) => report(node(i), watcher.user, range_)));
    assertReportShape(reports[0], { bucket: 'hour', from: floorTo(now, HOUR) - HOUR, count: 2 });
    assert.deepEqual(reports[1], reports[0]);
    assert.deepEqual(reports[2], reports[0]);
    const sessions = await Promise.all(stored.map((s) => getSession(node(1), watcher.user, s.id)));
    const messages = (await Promise.all(stored.map((s) => listMessages(node(1), watcher.user, s.id)))).flat();
    assertBuckets(reports[0], factsOf(sessions, messages));
    assert.deepEqual(COUNTS.map((k) => total(reports[0], k)), [rounds, rounds, rounds, rounds, rounds], 'opened, assigned, closed, messages, ratings');
  });

  it('creates a canned shortcut once when three nodes create it at once; a change on one node reads the same on every node', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const admin = makeUser('admin', { tenant });
    const agent = makeUser('agent', { tenant });
    const attempts = await Promise.all(range(6).map((i) => api(node(i % 3), admin, 'POST', CANNED, { body: { shortcut: 'refund', content: `try ${i}` } })));
    assert.deepEqual(attempts.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409], attempts.map((r) => `${r.status} ${r.text}`).join(' | '));
    for (const r of attempts.filter((x) => x.status === 409)) assert.equal(r.body.error.code, 'conflict');
    const created = attempts.find((r) => r.status === 201).body;
    for (const i of [0, 1, 2]) assert.deepEqual(await cannedList(node(i), agent), [created], `node ${i}`);

    const patched = await expectStatus(api(node(1), admin, 'PATCH', cannedPath(created.id), { body: { title: 'Refunds' } }), 200);
    for (const i of [0, 1, 2]) assert.deepEqual(await cannedList(node(i), agent), [patched], `node ${i} after the PATCH`);
    const deleted = await api(node(2), admin, 'DELETE', cannedPath(created.id));
    assert.equal(deleted.status, 204);
    for (const i of [0, 1, 2]) {
      assert.deepEqual(await cannedList(node(i), agent), [], `node ${i} after the DELETE`);
      await expectRestError(api(node(i), admin, 'PATCH', cannedPath(created.id), { body: { title: 'x' } }), 404, 'not_found', `node ${i}:`);
    }
  });

  it('lets every node see a rating refused while ratings are disabled on another node', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const admin = makeUser('admin', { tenant });
    const { customer, session } = await closedSession(node(0), tenant);
    await expectStatus(api(node(0), admin, 'PATCH', '/api/settings', { body: { ratingsEnabled: false } }), 200);
    for (const i of [0, 1, 2]) {
      await expectRestError(rateRest(node(i), customer, session.id, { score: 5 }), 403, 'forbidden', `node ${i}, ratings disabled:`);
    }
    await expectStatus(api(node(2), admin, 'PATCH', '/api/settings', { body: { ratingsEnabled: true } }), 200);
    const tab = await online(node(1), 'customer', tenant, customer);
    drain(tab.socket);
    const rated = await ok(tab.socket, 'rate-session', { sessionId: session.id, score: 5 });
    assert.equal(rated.rating.score, 5);
    for (const i of [0, 1, 2]) await expectRestError(rateRest(node(i), customer, session.id, { score: 4 }), 409, 'conflict', `node ${i}, rated already:`);
  });
});
