// docs/protocol.md §10 agent tools (v1.3) on one node, with the server's
// decisions where the protocol is silent (/work/briefs/agent-tools-decisions.md):
// private notes (staff only, never to a customer by any path, no seq,
// note-added to the staff sockets that joined), ratings (once per closed
// session by its customer, every refusal in its order, races between tabs,
// session-updated and the stats), canned responses (shortcut rules,
// uniqueness per tenant, admin-only changes, tenant isolation), transcripts
// (the exact text, byte for byte, UTF-8, notes for staff only, headers,
// access, a streamed session of 100 000 messages) and reports (buckets,
// rounding, defaults, limits, access).
//
// Every test has a tenant of its own, so one server serves each block.
// Runs on SQLite by default and on PostgreSQL with TEST_DATABASE_URL.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { describe, it } from 'node:test';
import { drain, emitAck, expectError, expectNo, makeUser, ok, received, uniqueId, until, waitFor } from '../lib/clients.mjs';
import {
  api, assertCannedResponse, assertNote, assertRating, assertSession, assertStats, expectRestError, expectStatus, getSession,
  listMessages, openSession,
} from '../lib/rest.mjs';
import { spawnServerFor, useServer } from '../lib/server.mjs';
import * as files from '../lib/files.mjs';
import {
  CANNED, COUNTS, DAY, HOUR, INVALID, JOIN_ACK_KEYS, STAFF_JOIN_ACK_KEYS, UNKNOWN_ID, addNoteRest, assertBuckets,
  assertMean, assertNoNoteIn, assertNoNoteReached, assertReportShape, cannedList, cannedPath, chars, closeRest, closedSession,
  createCanned, expectNoteAddedOnce, expectedTranscript, factsOf, floorTo, getReport, getTranscript, iso,
  noteAddedOf, noteRest, notesOf, online, patchCanned, patchSettings, range, rateRest, report, sendRest, staffOnline, take,
  total, transcriptOk, uploadAs, utc, withOffset,
} from '../lib/tools.mjs';

/** A small --message-max-length, so the content limits of notes and canned responses are cheap to reach. */
const MAX_LEN = 120;
const ARGS = [
  '--message-max-length', String(MAX_LEN),
  '--send-rate-per-second', '1000', '--send-burst', '1000',
  '--event-rate-per-second', '1000', '--event-burst', '1000',
  '--open-rate-per-second', '1000', '--open-burst', '1000',
];
// §5: a stats-update within 500 ms of a change; allow for a busy CI machine.
const STATS_DEADLINE = { timeout: 1500 };

// ================================================================ private notes

describe('private notes', () => {
  const srv = useServer({ args: ARGS });

  it('adds notes by socket and by REST, from any staff of the tenant, whoever holds the session, in every status', async () => {
    const tenant = uniqueId('t');
    const customer = makeUser('customer', { tenant });
    const session = await openSession(srv.server, customer, { message: 'my invoice is wrong' });
    const A = await online(srv.server, 'agent', tenant, makeUser('agent', { tenant, name: 'Agent A' }));
    const admin = makeUser('admin', { tenant, name: 'The Admin' });
    const holder = makeUser('agent', { tenant, name: 'Holder' });
    const bystander = makeUser('agent', { tenant });

    // Pending: nobody holds it.
    const n1 = await ok(A.socket, 'add-note', { sessionId: session.id, content: '  first look: VIP customer  ' });
    assertNote(n1, { sessionId: session.id, author: A.user.ref, content: 'first look: VIP customer' });
    const n2 = await noteRest(srv.server, admin, session.id, 'second, by REST');
    assertNote(n2, { sessionId: session.id, author: admin.ref, content: 'second, by REST' });

    // Active, held by someone else: any staff member may still note it.
    await take(srv.server, holder, session.id);
    const n3 = await ok(A.socket, 'add-note', { sessionId: session.id, content: 'third, while Holder has it' });
    assertNote(n3, { author: A.user.ref });
    const n4 = await noteRest(srv.server, holder, session.id, 'fourth, by the holder');

    // Closed.
    await closeRest(srv.server, customer, session.id);
    const n5 = await ok(A.socket, 'add-note', { sessionId: session.id, content: 'fifth, after the close' });
    const n6 = await noteRest(srv.server, admin, session.id, 'sixth, after the close, by REST');

    const all = [n1, n2, n3, n4, n5, n6];
    assert.equal(new Set(all.map((n) => n.id)).size, 6, 'every note has its own id');
    for (let i = 1; i < all.length; i += 1) assert.ok(all[i - 1].createdAt <= all[i].createdAt, 'createdAt grows');
    // Any staff member reads them, oldest first, exactly as they were returned.
    assert.deepEqual(await notesOf(srv.server, bystander, session.id), all);
    assert.deepEqual(await notesOf(srv.server, admin, session.id), all);
  });

  it('refuses notes to customers (forbidden on their own session, not_found on another\'s), other tenants and unknown sessions; bad content; nothing stored', async () => {
    const tenant = uniqueId('t');
    const customer = await online(srv.server, 'customer', tenant);
    const session = await openSession(srv.server, customer.user, { message: 'hello' });
    const otherCustomer = await online(srv.server, 'customer', tenant);
    const outsider = await online(srv.server, 'agent', uniqueId('t'));
    const outsiderAdmin = makeUser('admin', { tenant: outsider.user.tenant });
    const agent = await online(srv.server, 'agent', tenant);
    const note = (sessionId, content) => ({ sessionId, content });

    // Who: customers, other tenants, unknown sessions.
    await expectError(customer.socket, 'forbidden', 'add-note', note(session.id, 'I am staff, honest'));
    await expectRestError(addNoteRest(srv.server, customer.user, session.id, 'by REST'), 403, 'forbidden', 'customer POST notes:');
    await expectRestError(api(srv.server, customer.user, 'GET', `/api/chat/sessions/${session.id}/notes`), 403, 'forbidden', 'customer GET notes:');
    await expectError(otherCustomer.socket, 'not_found', 'add-note', note(session.id, 'nosy'));
    await expectRestError(addNoteRest(srv.server, otherCustomer.user, session.id, 'nosy'), 404, 'not_found', 'other customer POST notes:');
    await expectRestError(api(srv.server, otherCustomer.user, 'GET', `/api/chat/sessions/${session.id}/notes`), 404, 'not_found', 'other customer GET notes:');
    await expectError(outsider.socket, 'not_found', 'add-note', note(session.id, 'from another tenant'));
    await expectRestError(addNoteRest(srv.server, outsiderAdmin, session.id, 'from another tenant'), 404, 'not_found', 'other tenant POST notes:');
    await expectRestError(api(srv.server, outsiderAdmin, 'GET', `/api/chat/sessions/${session.id}/notes`), 404, 'not_found', 'other tenant GET notes:');
    await expectError(agent.socket, 'not_found', 'add-note', note(UNKNOWN_ID, 'nowhere'));
    await expectRestError(addNoteRest(srv.server, agent.user, UNKNOWN_ID, 'nowhere'), 404, 'not_found', 'unknown session POST notes:');
    await expectRestError(api(srv.server, agent.user, 'GET', `/api/chat/sessions/${UNKNOWN_ID}/notes`), 404, 'not_found', 'unknown session GET notes:');
    await expectRestError(addNoteRest(srv.server, null, session.id, 'anonymous'), 401, 'unauthorized', 'no token:');

    // What: empty, missing, wrong types, too long.
    for (const bad of [note(session.id, ''), note(session.id, '   \n\t '), { sessionId: session.id }, note(session.id, 42), note(session.id, null),
      note(session.id, ['x']), { content: 'no session' }, note(42, 'numeric session id')]) {
      await expectError(agent.socket, 'invalid_payload', 'add-note', bad);
    }
    for (const bad of [{ content: '' }, { content: '  ' }, {}, { content: 42 }, { content: null }]) {
      await expectRestError(api(srv.server, agent.user, 'POST', `/api/chat/sessions/${session.id}/notes`, { body: bad }), INVALID, 'invalid_payload',
        `POST notes ${JSON.stringify(bad)}:`);
    }
    const tooLong = 'n'.repeat(MAX_LEN + 1);
    await expectError(agent.socket, 'message_too_long', 'add-note', note(session.id, tooLong));
    await expectRestError(addNoteRest(srv.server, agent.user, session.id, tooLong), 413, 'message_too_long', 'POST notes too long:');
    await expectRestError(addNoteRest(srv.server, agent.user, session.id, '🙂'.repeat(MAX_LEN + 1)), 413, 'message_too_long', 'POST notes of emoji too long:');
    assert.deepEqual(await notesOf(srv.server, agent.user, session.id), [], 'no refused note was stored');

    // The limit counts characters after trimming: exactly MAX_LEN passes, emoji and padding included.
    const atLimit = await ok(agent.socket, 'add-note', note(session.id, `  ${'é'.repeat(MAX_LEN)}  `));
    assert.equal(chars(atLimit.content), MAX_LEN);
    const emojiAtLimit = await noteRest(srv.server, agent.user, session.id, '🙂'.repeat(MAX_LEN));
    assert.equal(emojiAtLimit.content, '🙂'.repeat(MAX_LEN));
    assert.deepEqual(await notesOf(srv.server, agent.user, session.id), [atLimit, emojiAtLimit]);
    assertNoNoteReached(customer.socket, [atLimit, emojiAtLimit]);
  });

  it('checks that content is a string before anything else, its emptiness and length after access; reads content only (no message/text aliases)', async () => {
    const tenant = uniqueId('t');
    const customer = await online(srv.server, 'customer', tenant);
    const session = await openSession(srv.server, customer.user, { message: 'hello' });
    const other = await online(srv.server, 'customer', tenant);
    const outsider = await online(srv.server, 'agent', uniqueId('t'));
    const agent = await online(srv.server, 'agent', tenant);
    // Not a string: invalid_payload, whoever asks.
    for (const o of [customer, other, outsider]) {
      for (const content of [null, 42, undefined]) {
        await expectError(o.socket, 'invalid_payload', 'add-note', { sessionId: session.id, content });
      }
    }
    // A string, but empty or too long: access first.
    for (const content of ['', '   ', 'x'.repeat(MAX_LEN + 1)]) {
      await expectError(customer.socket, 'forbidden', 'add-note', { sessionId: session.id, content });
      await expectError(other.socket, 'not_found', 'add-note', { sessionId: session.id, content });
      await expectError(outsider.socket, 'not_found', 'add-note', { sessionId: session.id, content });
      await expectRestError(addNoteRest(srv.server, customer.user, session.id, content), 403, 'forbidden', `customer, ${content.length} characters:`);
    }
    // Only `content`: send-message's aliases are not read.
    await expectError(agent.socket, 'invalid_payload', 'add-note', { sessionId: session.id, message: 'an alias' });
    await expectError(agent.socket, 'invalid_payload', 'add-note', { sessionId: session.id, text: 'an alias' });
    await expectRestError(api(srv.server, agent.user, 'POST', `/api/chat/sessions/${session.id}/notes`, { body: { message: 'an alias' } }),
      INVALID, 'invalid_payload', 'REST alias:');
    assert.deepEqual(await notesOf(srv.server, agent.user, session.id), []);
  });

  it('gives a staff socket that joins while notes are being written on the same node each note once: in its join ack or as note-added', async () => {
    const tenant = uniqueId('t');
    const customer = makeUser('customer', { tenant });
    const session = await openSession(srv.server, customer, { message: 'hello' });
    const writer = makeUser('agent', { tenant });
    for (let round = 0; round < 5; round += 1) {
      const joiner = await online(srv.server, 'agent', tenant);
      const [written, joined] = await Promise.all([
        Promise.all(range(15).map((i) => noteRest(srv.server, writer, session.id, `round ${round} note ${i}`))),
        ok(joiner.socket, 'join-session', { sessionId: session.id }),
      ]);
      const mine = new Set(written.map((n) => n.id));
      const inAck = joined.notes.filter((n) => mine.has(n.id)).map((n) => n.id);
      const missing = written.filter((n) => !inAck.includes(n.id));
      for (const note of missing) await waitFor(joiner.socket, 'note-added', { filter: (n) => n.id === note.id });
      await expectNo(joiner.socket, 'note-added', 300);
      const events = received(joiner.socket, 'note-added').map((n) => n.id);
      assert.deepEqual([...inAck, ...events].sort(), [...mine].sort(), `round ${round}: each note once, in the ack (${inAck.length}) or as note-added (${events.length})`);
    }
  });

  it('sends note-added once to each staff socket that joined the session, and to no socket that did not or that left', async () => {
    const tenant = uniqueId('t');
    const customer = await online(srv.server, 'customer', tenant, makeUser('customer', { tenant, name: 'Cus' }));
    const customerTab = await online(srv.server, 'customer', tenant, customer.user);
    const session = await openSession(srv.server, customer.user, { message: 'hi' });
    await ok(customer.socket, 'join-session', { sessionId: session.id });
    await ok(customerTab.socket, 'join-session', { sessionId: session.id });

    const holder = await online(srv.server, 'agent', tenant);
    await ok(holder.socket, 'join-session', { sessionId: session.id }); // takes it
    const watcher = await online(srv.server, 'agent', tenant);
    await ok(watcher.socket, 'join-session', { sessionId: session.id });
    const watcherOtherTab = await online(srv.server, 'agent', tenant, watcher.user); // same agent, never joined
    const admin = await online(srv.server, 'admin', tenant);
    await ok(admin.socket, 'join-session', { sessionId: session.id });
    const idle = await online(srv.server, 'agent', tenant); // in agents:{tenant}, not in the session
    const leaver = await online(srv.server, 'agent', tenant);
    await ok(leaver.socket, 'join-session', { sessionId: session.id });
    assert.deepEqual(await ok(leaver.socket, 'leave-session', { sessionId: session.id }), { sessionId: session.id });
    const outsider = await online(srv.server, 'agent', uniqueId('t'));

    const inRoom = { holder, watcher, admin };
    const notInRoom = { watcherOtherTab, idle, leaver, outsider };

    // By socket, from a staff socket in the room: its own socket gets it too.
    const bySocket = await ok(holder.socket, 'add-note', { sessionId: session.id, content: 'check the refund first' });
    // By REST, from a staff member with no socket at all.
    const restAuthor = makeUser('admin', { tenant, name: 'REST admin' });
    const byRest = await noteRest(srv.server, restAuthor, session.id, 'refund approved');
    // By socket, from a staff socket that is not in the room: it does not get it, the room does.
    const byIdle = await ok(idle.socket, 'add-note', { sessionId: session.id, content: 'noted from the dashboard' });

    for (const note of [bySocket, byRest, byIdle]) {
      for (const [who, o] of Object.entries(inRoom)) await expectNoteAddedOnce(o.socket, note, who);
    }
    // Once: every note-added was consumed above, so any left (now or soon) is a duplicate.
    await expectNo(holder.socket, 'note-added', 300);
    for (const o of Object.values(inRoom)) await expectNo(o.socket, 'note-added', 0);
    for (const [who, o] of Object.entries(notInRoom)) {
      await expectNo(o.socket, 'note-added', 0);
      assert.deepEqual(received(o.socket, 'note-added'), [], `${who} got note-added`);
    }
    await expectNo(idle.socket, 'note-added', 300);
    for (const c of [customer, customerTab]) assertNoNoteReached(c.socket, [bySocket, byRest, byIdle]);

    // A staff socket that leaves stops getting them; one that joins (again) starts.
    await ok(watcher.socket, 'leave-session', { sessionId: session.id });
    await ok(leaver.socket, 'join-session', { sessionId: session.id });
    const later = await ok(admin.socket, 'add-note', { sessionId: session.id, content: 'after the moves' });
    await expectNoteAddedOnce(leaver.socket, later, 'leaver, joined again');
    await expectNoteAddedOnce(holder.socket, later, 'holder');
    await expectNoteAddedOnce(admin.socket, later, 'admin');
    await expectNo(watcher.socket, 'note-added', 300, { filter: (n) => n.id === later.id });
    assert.equal(noteAddedOf(watcher.socket, later.id).length, 0);
    for (const c of [customer, customerTab]) assertNoNoteReached(c.socket, [bySocket, byRest, byIdle, later]);
  });

  it('never gives a note to a customer: join acks, catch-up, session-joined, history, new-message, lastMessageAt, stats; notes take no seq', async () => {
    const tenant = uniqueId('t');
    const statsWatcher = await staffOnline(srv.server, 'agent', tenant);
    await ok(statsWatcher.socket, 'set-availability', { status: 'away' });
    const customer = await online(srv.server, 'customer', tenant);
    const session = await openSession(srv.server, customer.user, { message: 'm1 from the customer' });
    await ok(customer.socket, 'join-session', { sessionId: session.id });
    const agent = await online(srv.server, 'agent', tenant);
    const taken = await ok(agent.socket, 'join-session', { sessionId: session.id });
    assert.deepEqual(Object.keys(taken).sort(), STAFF_JOIN_ACK_KEYS, `a staff join ack has notes: ${JSON.stringify(taken).slice(0, 300)}`);
    assert.deepEqual(taken.notes, [], 'no note yet');

    const secret = (label) => `${label} ${uniqueId('secret')}`;
    const notes = [];
    notes.push(await ok(agent.socket, 'add-note', { sessionId: session.id, content: secret('before the reply') }));
    const m2 = await ok(agent.socket, 'send-message', { sessionId: session.id, content: 'm2 from the agent' });
    notes.push(await noteRest(srv.server, makeUser('admin', { tenant }), session.id, secret('between replies')));
    notes.push(await ok(agent.socket, 'add-note', { sessionId: session.id, content: secret('one more') }));
    const m3 = await ok(customer.socket, 'send-message', { sessionId: session.id, content: 'm3 from the customer' });
    notes.push(await ok(agent.socket, 'add-note', { sessionId: session.id, content: secret('after everything') }));
    assert.equal(m2.seq, 2, 'a note takes no seq');
    assert.equal(m3.seq, 3, 'a note takes no seq');

    // The customer's join, plain and catch-up, from a new tab: no `notes` key, messages 1, 2, 3.
    const tab = await online(srv.server, 'customer', tenant, customer.user);
    const plain = await ok(tab.socket, 'join-session', { sessionId: session.id });
    assert.deepEqual(Object.keys(plain).sort(), JOIN_ACK_KEYS, `a customer's join ack has no notes key: ${JSON.stringify(plain).slice(0, 300)}`);
    assert.deepEqual(plain.messages.map((m) => m.seq), [1, 2, 3]);
    assertNoNoteIn(plain, notes, 'the customer\'s join ack');
    const first = plain.messages[0];
    const catchUp = await ok(tab.socket, 'join-session', { sessionId: session.id, lastMessageId: first.id });
    assert.deepEqual(Object.keys(catchUp).sort(), JOIN_ACK_KEYS, 'a customer\'s catch-up ack has no notes key');
    assert.deepEqual(catchUp.messages.map((m) => m.seq), [2, 3]);
    assertNoNoteIn(catchUp, notes, 'the customer\'s catch-up ack');
    // REST on the customer's side.
    const history = await listMessages(srv.server, customer.user, session.id);
    assert.deepEqual(history.map((m) => m.seq), [1, 2, 3]);
    assertNoNoteIn(history, notes, 'the customer\'s history');
    const after = await api(srv.server, customer.user, 'GET', `/api/chat/sessions/${session.id}/messages?after=${first.id}`);
    assert.deepEqual(after.body.items.map((m) => m.seq), [2, 3]);
    assertNoNoteIn(after.text, notes, 'the customer\'s history after m1');
    const customerView = await getSession(srv.server, customer.user, session.id);
    assertNoNoteIn(customerView, notes, 'the customer\'s GET session');
    assert.equal(customerView.lastMessageAt, m3.createdAt, 'a note is not a message: lastMessageAt is m3\'s');

    // Staff: the notes in the ack (every one, oldest first), never among the messages.
    const staffTab = await online(srv.server, 'agent', tenant);
    const staffJoin = await ok(staffTab.socket, 'join-session', { sessionId: session.id });
    assert.deepEqual(Object.keys(staffJoin).sort(), STAFF_JOIN_ACK_KEYS);
    assert.deepEqual(staffJoin.notes, notes, 'every note, oldest first');
    assert.deepEqual(staffJoin.messages.map((m) => m.seq), [1, 2, 3]);
    assertNoNoteIn(staffJoin.messages, notes, 'messages of the staff join');
    const staffJoined = await waitFor(staffTab.socket, 'session-joined');
    assert.deepEqual(staffJoined, staffJoin, 'the joiner\'s session-joined is its ack');
    const staffCatchUp = await ok(staffTab.socket, 'join-session', { sessionId: session.id, lastMessageId: m2.id });
    assert.deepEqual(staffCatchUp.messages.map((m) => m.seq), [3]);
    assert.deepEqual(staffCatchUp.notes, notes, 'a staff catch-up ack has every note too');
    assertNoNoteIn(await listMessages(srv.server, agent.user, session.id), notes, 'the staff history');
    assert.deepEqual(await notesOf(srv.server, agent.user, session.id), notes);

    // The staff join's session-joined that reached the customer's sockets carries no notes.
    const seen = await waitFor(customer.socket, 'session-joined', { filter: (e) => e.user?.id === staffTab.user.sub });
    assert.equal('notes' in seen, false, `the room's session-joined has no notes: ${JSON.stringify(seen).slice(0, 300)}`);
    // new-message: m2 and m3 only.
    assert.deepEqual(received(customer.socket, 'new-message').map((m) => m.seq), [2, 3]);
    for (const s of [customer.socket, tab.socket]) assertNoNoteReached(s, notes);

    // Stats count messages, never notes.
    const stats = await waitFor(statsWatcher.socket, 'stats-update', { ...STATS_DEADLINE, filter: (s) => s.messagesToday === 3 });
    assertStats(stats, { messagesToday: 3 });
    drain(statsWatcher.socket, 'stats-update');
    notes.push(await ok(agent.socket, 'add-note', { sessionId: session.id, content: secret('not a message') }));
    await expectNo(statsWatcher.socket, 'stats-update', 1000, { filter: (s) => s.messagesToday !== 3 });
    assertStats(await expectStatus(api(srv.server, agent.user, 'GET', '/api/chat/stats'), 200), { messagesToday: 3 });
    assert.deepEqual((await listMessages(srv.server, customer.user, session.id)).map((m) => m.seq), [1, 2, 3]);
    assert.equal((await getSession(srv.server, agent.user, session.id)).lastMessageAt, m3.createdAt);
    assertNoNoteReached(customer.socket, notes);
  });
});

describe('private notes: rate limit', () => {
  it('counts add-note, socket and REST, against the sender\'s send-message limit', async (t) => {
    const server = await spawnServerFor(t, { args: ['--send-rate-per-second', '1', '--send-burst', '3'] });
    const tenant = uniqueId('t');
    const customer = makeUser('customer', { tenant });
    const session = await openSession(server, customer, { message: 'hello' });
    const agent = await online(server, 'agent', tenant);
    await take(server, agent.user, session.id);

    const started = Date.now();
    const acks = await Promise.all([
      ...range(6).map((i) => emitAck(agent.socket, 'add-note', { sessionId: session.id, content: `note ${i}` })),
      ...range(2).map((i) => emitAck(agent.socket, 'send-message', { sessionId: session.id, content: `message ${i}` })),
    ]);
    const rest = await Promise.all(range(2).map((i) => addNoteRest(server, agent.user, session.id, `rest note ${i}`)));
    const elapsed = (Date.now() - started) / 1000;
    const accepted = acks.filter((a) => a.ok).length + rest.filter((r) => r.status === 201).length;
    for (const a of acks.filter((x) => !x.ok)) assert.equal(a.error.code, 'rate_limited', JSON.stringify(a));
    for (const r of rest.filter((x) => x.status !== 201)) {
      assert.equal(r.status, 429, r.text);
      assert.equal(r.body.error.code, 'rate_limited');
    }
    // One bucket for notes and messages: a burst of 3, plus what 1/s refilled meanwhile.
    assert.ok(accepted >= 3 && accepted <= 3 + Math.ceil(elapsed), `${accepted} of 10 notes and messages accepted in ${elapsed} s with a burst of 3 at 1/s`);
    const storedNotes = (await notesOf(server, agent.user, session.id)).length;
    const storedMessages = (await listMessages(server, agent.user, session.id)).length - 1;
    assert.equal(storedNotes + storedMessages, accepted, 'exactly the accepted ones are stored');
  });
});

// ================================================================ ratings

describe('ratings', () => {
  const srv = useServer({ args: ARGS });

  it('lets the customer rate a closed session once: the Session with its rating, session-updated to the room, the agents and the customer\'s sockets, once each, and the stats', async () => {
    const tenant = uniqueId('t');
    const statsAgent = await staffOnline(srv.server, 'agent', tenant);
    assertStats(statsAgent.snapshot, { ratingsToday: 0, avgRatingToday: null });
    const customer = makeUser('customer', { tenant, name: 'Ada' });
    const agentUser = makeUser('agent', { tenant, name: 'Grace' });
    const { session } = await closedSession(srv.server, tenant, { customer, agent: agentUser });
    const inRoom = await online(srv.server, 'customer', tenant, customer); // session room and user room
    await ok(inRoom.socket, 'join-session', { sessionId: session.id });
    const otherTab = await online(srv.server, 'customer', tenant, customer); // user room only
    const agent = await online(srv.server, 'agent', tenant, agentUser); // session room and agents room
    await ok(agent.socket, 'join-session', { sessionId: session.id });
    const otherCustomer = await online(srv.server, 'customer', tenant);
    const outsider = await staffOnline(srv.server, 'agent', uniqueId('t'));
    for (const o of [inRoom, otherTab, agent, statsAgent]) drain(o.socket);

    const rated = await ok(inRoom.socket, 'rate-session', { sessionId: session.id, score: 4, comment: '  Quick and kind  ' });
    const ratedAt = Date.now();
    assertSession(rated, { id: session.id, status: 'closed', closedAt: session.closedAt, agent: agentUser.ref, customer: customer.ref });
    assertRating(rated.rating, { score: 4, comment: 'Quick and kind' });
    assert.ok(rated.rating.createdAt >= session.closedAt, 'rated after the close');

    for (const [who, o] of Object.entries({ inRoom, otherTab, agent, statsAgent })) {
      const update = await waitFor(o.socket, 'session-updated', { filter: (s) => s.id === session.id });
      assert.deepEqual(update, rated, `${who}: session-updated is the rated Session`);
    }
    // Each socket once, whatever rooms it is in.
    await expectNo(inRoom.socket, 'session-updated', 400);
    for (const o of [otherTab, agent, statsAgent]) await expectNo(o.socket, 'session-updated', 0);
    await expectNo(otherCustomer.socket, 'session-updated', 0);
    await expectNo(outsider.socket, 'session-updated', 0);

    const stats = await waitFor(statsAgent.socket, 'stats-update', { ...STATS_DEADLINE, filter: (s) => s.ratingsToday === 1 });
    assertStats(stats, { ratingsToday: 1, avgRatingToday: 4 });
    const pushedAt = statsAgent.socket.received.find((e) => e.payload === stats).at;
    assert.ok(pushedAt - ratedAt <= STATS_DEADLINE.timeout, `the stats-update came ${pushedAt - ratedAt} ms after the rating (500 ms, and a busy machine)`);
    await expectNo(outsider.socket, 'stats-update', 0, { filter: (s) => s.ratingsToday !== 0 });
    assert.deepEqual(await getSession(srv.server, customer, session.id), rated);
    assert.deepEqual(await getSession(srv.server, agentUser, session.id), rated);
    const listed = await expectStatus(api(srv.server, agentUser, 'GET', '/api/chat/sessions?status=closed'), 200);
    assert.deepEqual(listed.items.find((s) => s.id === session.id), rated, 'the list carries the rating too');

    // Once: a second rating, from any tab or by REST, is a conflict and changes nothing.
    await expectError(otherTab.socket, 'conflict', 'rate-session', { sessionId: session.id, score: 1 });
    await expectError(inRoom.socket, 'conflict', 'rate-session', { sessionId: session.id, score: 4, comment: 'Quick and kind' });
    await expectRestError(rateRest(srv.server, customer, session.id, { score: 5 }), 409, 'conflict', 'second rating by REST:');
    assert.deepEqual(await getSession(srv.server, customer, session.id), rated, 'the first rating stays');
    await expectNo(agent.socket, 'session-updated', 300);
    assertStats(await expectStatus(api(srv.server, agentUser, 'GET', '/api/chat/stats'), 200), { ratingsToday: 1, avgRatingToday: 4 });

    // More ratings move the mean (2 decimals): 4, 5 -> 4.5; 4, 5, 2 -> 3.67.
    const second = await closedSession(srv.server, tenant);
    const viaRest = await expectStatus(rateRest(srv.server, second.customer, second.session.id, { score: 5 }), 200, 'rate by REST:');
    assertSession(viaRest, { id: second.session.id });
    assertRating(viaRest.rating, { score: 5, comment: null });
    assertStats(await waitFor(statsAgent.socket, 'stats-update', { ...STATS_DEADLINE, filter: (s) => s.ratingsToday === 2 }), { avgRatingToday: 4.5 });
    const third = await closedSession(srv.server, tenant);
    await expectStatus(rateRest(srv.server, third.customer, third.session.id, { score: 2, comment: null }), 200, 'rate 2:');
    assertStats(await waitFor(statsAgent.socket, 'stats-update', { ...STATS_DEADLINE, filter: (s) => s.ratingsToday === 3 }), { avgRatingToday: 3.67 });
    assertStats(await expectStatus(api(srv.server, agentUser, 'GET', '/api/chat/stats'), 200), { ratingsToday: 3, avgRatingToday: 3.67 });
    // Another tenant saw none of it.
    assertStats(await expectStatus(api(srv.server, outsider.user, 'GET', '/api/chat/stats'), 200), { ratingsToday: 0, avgRatingToday: null });
  });

  it('takes comment absent, null, blank or padded; scores 1 and 5; a comment of exactly 1000 characters whatever the message limit', async () => {
    const tenant = uniqueId('t');
    const cases = [
      [{ score: 1 }, { score: 1, comment: null }],
      [{ score: 5, comment: null }, { score: 5, comment: null }],
      [{ score: 3, comment: '   ' }, { score: 3, comment: null }],
      [{ score: 2, comment: '\n ok \n' }, { score: 2, comment: 'ok' }],
      [{ score: 4, comment: 'x'.repeat(1000) }, { score: 4, comment: 'x'.repeat(1000) }],
      [{ score: 4, comment: `  ${'é'.repeat(999)}🌟  ` }, { score: 4, comment: `${'é'.repeat(999)}🌟` }],
    ];
    for (const [body, expected] of cases) {
      const { customer, session } = await closedSession(srv.server, tenant);
      const rated = await expectStatus(rateRest(srv.server, customer, session.id, body), 200, `rate ${JSON.stringify(body).slice(0, 60)}:`);
      assertRating(rated.rating, expected);
      assert.deepEqual((await getSession(srv.server, customer, session.id)).rating, rated.rating);
    }
  });

  it('refuses, in the documented order, and changes nothing: not_found, forbidden (staff, ratings disabled), invalid_payload, conflict (not closed, rated)', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const statsAgent = await staffOnline(srv.server, 'agent', tenant);
    const { customer, agent, session } = await closedSession(srv.server, tenant);
    const c = await online(srv.server, 'customer', tenant, customer);
    const a = await online(srv.server, 'agent', tenant, agent);
    await ok(a.socket, 'join-session', { sessionId: session.id });
    const adminSocket = await online(srv.server, 'admin', tenant, admin);
    const otherCustomer = await online(srv.server, 'customer', tenant);
    const outsiderCustomer = await online(srv.server, 'customer', uniqueId('t'));
    drain(a.socket);
    drain(statsAgent.socket);
    const rating = (extra) => ({ sessionId: session.id, score: 4, ...extra });

    // Visibility first.
    await expectError(otherCustomer.socket, 'not_found', 'rate-session', rating());
    await expectError(otherCustomer.socket, 'not_found', 'rate-session', rating({ score: 0 }));
    await expectRestError(rateRest(srv.server, otherCustomer.user, session.id, { score: 4 }), 404, 'not_found', 'another customer:');
    await expectError(outsiderCustomer.socket, 'not_found', 'rate-session', rating());
    await expectRestError(rateRest(srv.server, outsiderCustomer.user, session.id, { score: 4 }), 404, 'not_found', 'another tenant:');
    await expectError(c.socket, 'not_found', 'rate-session', { sessionId: UNKNOWN_ID, score: 4 });
    await expectRestError(rateRest(srv.server, customer, UNKNOWN_ID, { score: 4 }), 404, 'not_found', 'unknown session:');
    await expectRestError(rateRest(srv.server, null, session.id, { score: 4 }), 401, 'unauthorized', 'no token:');
    // Then: only its customer (staff, even with a bad score: forbidden).
    await expectError(a.socket, 'forbidden', 'rate-session', rating());
    await expectError(adminSocket.socket, 'forbidden', 'rate-session', rating({ score: 9 }));
    await expectRestError(rateRest(srv.server, agent, session.id, { score: 4 }), 403, 'forbidden', 'the agent:');
    await expectRestError(rateRest(srv.server, admin, session.id, { score: 5 }), 403, 'forbidden', 'an admin:');
    // Then the payload.
    const bad = [{ score: 0 }, { score: 6 }, { score: 2.5 }, { score: '5' }, { score: null }, { score: -1 }, { score: true }, {},
      { score: 4, comment: 'c'.repeat(1001) }, { score: 4, comment: `  ${'c'.repeat(1001)}  ` }, { score: 4, comment: 42 }, { score: 4, comment: ['a'] }];
    for (const body of bad) {
      await expectError(c.socket, 'invalid_payload', 'rate-session', { sessionId: session.id, ...body });
      await expectRestError(rateRest(srv.server, customer, session.id, body), INVALID, 'invalid_payload', `rate ${JSON.stringify(body).slice(0, 60)}:`);
    }
    // 4.0 is a number with a fraction in JSON (JSON.stringify would write 4): refused as not an integer.
    await expectRestError(api(srv.server, customer, 'POST', `/api/chat/sessions/${session.id}/rating`,
      { rawBody: '{"score": 4.0}', headers: { 'content-type': 'application/json' } }), INVALID, 'invalid_payload', 'score 4.0:');
    await expectError(c.socket, 'invalid_payload', 'rate-session', { score: 4 });
    await expectError(c.socket, 'invalid_payload', 'rate-session', 'not an object');
    // Ratings disabled: forbidden, before the payload and the state are looked at.
    await patchSettings(srv.server, admin, { ratingsEnabled: false });
    assert.equal((await expectStatus(api(srv.server, agent, 'GET', '/api/settings'), 200)).ratingsEnabled, false);
    await expectError(c.socket, 'forbidden', 'rate-session', rating());
    await expectError(c.socket, 'forbidden', 'rate-session', rating({ score: 0 }));
    await expectRestError(rateRest(srv.server, customer, session.id, { score: 4 }), 403, 'forbidden', 'ratings disabled:');

    // Nothing changed: no rating, no event, no stats change.
    assert.equal((await getSession(srv.server, customer, session.id)).rating, null, 'no refusal rated it');
    await expectNo(a.socket, 'session-updated', 300);
    await expectNo(c.socket, 'session-updated', 0);
    await expectNo(statsAgent.socket, 'stats-update', 0, { filter: (s) => s.ratingsToday !== 0 });
    assertStats(await expectStatus(api(srv.server, agent, 'GET', '/api/chat/stats'), 200), { ratingsToday: 0, avgRatingToday: null });

    // Not closed yet: conflict (after the payload check: a bad score there is invalid_payload).
    await patchSettings(srv.server, admin, { ratingsEnabled: true });
    const live = await online(srv.server, 'customer', tenant);
    const pending = await openSession(srv.server, live.user, { message: 'still waiting' });
    await expectError(live.socket, 'conflict', 'rate-session', { sessionId: pending.id, score: 5 });
    await expectRestError(rateRest(srv.server, live.user, pending.id, { score: 5 }), 409, 'conflict', 'pending:');
    await expectError(live.socket, 'invalid_payload', 'rate-session', { sessionId: pending.id, score: 7 });
    await take(srv.server, agent, pending.id);
    await expectError(live.socket, 'conflict', 'rate-session', { sessionId: pending.id, score: 5 });
    await expectRestError(rateRest(srv.server, live.user, pending.id, { score: 5 }), 409, 'conflict', 'active:');
    const stillActive = await getSession(srv.server, live.user, pending.id);
    assertSession(stillActive, { status: 'active', rating: null });

    // Enabled again, the refused session is rated once; rated already: conflict (a bad score is still invalid_payload first).
    const rated = await ok(c.socket, 'rate-session', rating({ comment: 'fine' }));
    assertRating(rated.rating, { score: 4, comment: 'fine' });
    await expectError(c.socket, 'conflict', 'rate-session', rating({ score: 5 }));
    await expectError(c.socket, 'invalid_payload', 'rate-session', rating({ score: 6 }));
    await expectRestError(rateRest(srv.server, customer, session.id, { score: 1 }), 409, 'conflict', 'rated already:');
    // Disabled after the rating: the rating stays, a new one is forbidden.
    await patchSettings(srv.server, admin, { ratingsEnabled: false });
    await expectError(c.socket, 'forbidden', 'rate-session', rating({ score: 5 }));
    assert.deepEqual((await getSession(srv.server, customer, session.id)).rating, rated.rating);
    await patchSettings(srv.server, admin, { ratingsEnabled: true });
  });

  it('keeps exactly one rating when two tabs and REST rate one session at once: one ok, the others conflict, the winner\'s rating stored', async () => {
    const tenant = uniqueId('t');
    const watcher = await staffOnline(srv.server, 'agent', tenant);
    const rounds = 8;
    for (let round = 0; round < rounds; round += 1) {
      const { customer, session } = await closedSession(srv.server, tenant);
      const tab1 = await online(srv.server, 'customer', tenant, customer);
      const tab2 = await online(srv.server, 'customer', tenant, customer);
      const attempts = await Promise.all([
        emitAck(tab1.socket, 'rate-session', { sessionId: session.id, score: 1, comment: 'tab one' }),
        emitAck(tab2.socket, 'rate-session', { sessionId: session.id, score: 5, comment: 'tab two' }),
        rateRest(srv.server, customer, session.id, { score: 3, comment: 'rest' }),
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
      const stored = await getSession(srv.server, customer, session.id);
      assert.deepEqual(stored, winners[0], `round ${round}: the stored rating is the winner's`);
      const update = await waitFor(watcher.socket, 'session-updated', { filter: (s) => s.id === session.id && s.rating !== null });
      assert.deepEqual(update, stored);
    }
    await expectNo(watcher.socket, 'session-updated', 400, { filter: (s) => s.rating !== null });
    assertStats(await waitFor(watcher.socket, 'stats-update', { ...STATS_DEADLINE, filter: (s) => s.ratingsToday === rounds }));
  });
});

// ================================================================ canned responses

describe('canned responses', () => {
  const srv = useServer({ args: ARGS });

  it('creates, lists by shortcut, patches part by part, deletes (204, then 404), and keeps placeholders as written', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const agent = makeUser('agent', { tenant });
    assert.deepEqual(await cannedList(srv.server, agent), [], 'a new tenant has none');

    const content = 'Hi {{customer.name}}, I am {{agent.name}}. Your refund is on its way.';
    const refund = await createCanned(srv.server, admin, { shortcut: 'refund', title: '  Refund policy  ', content: `  ${content}\n` });
    assertCannedResponse(refund, { shortcut: 'refund', title: 'Refund policy', content });
    const untitled = await createCanned(srv.server, admin, { shortcut: 'hello', content: 'Hello {{customer.name}}!' });
    assertCannedResponse(untitled, { title: null, content: 'Hello {{customer.name}}!' });
    const others = [];
    for (const shortcut of ['zeta', 'beta10', '0day', 'm-1', 'beta2', 'a_b']) {
      others.push(await createCanned(srv.server, admin, { shortcut, title: null, content: `content of ${shortcut}` }));
    }
    const expectedOrder = ['0day', 'a_b', 'beta10', 'beta2', 'hello', 'm-1', 'refund', 'zeta'];
    const listed = await cannedList(srv.server, agent);
    assert.deepEqual(listed.map((c) => c.shortcut), expectedOrder, 'sorted by shortcut');
    assert.deepEqual(listed.find((c) => c.id === refund.id), refund);
    assert.deepEqual(await cannedList(srv.server, admin), listed);

    // PATCH: only what is given changes.
    const t1 = await patchCanned(srv.server, admin, refund.id, { title: null });
    assertCannedResponse(t1, { id: refund.id, shortcut: 'refund', title: null, content });
    assert.ok(t1.updatedAt >= refund.updatedAt, 'updatedAt moves forward');
    const t2 = await patchCanned(srv.server, admin, refund.id, { content: ' New text for {{customer.name}} ' });
    assertCannedResponse(t2, { id: refund.id, shortcut: 'refund', title: null, content: 'New text for {{customer.name}}' });
    const t3 = await patchCanned(srv.server, admin, refund.id, { shortcut: 'refunds', title: '  Refunds ' });
    assertCannedResponse(t3, { id: refund.id, shortcut: 'refunds', title: 'Refunds', content: 'New text for {{customer.name}}' });
    const t4 = await patchCanned(srv.server, admin, refund.id, { title: '   ' });
    assertCannedResponse(t4, { title: null, shortcut: 'refunds', content: t2.content });
    // Its own shortcut again is no conflict.
    const t5 = await patchCanned(srv.server, admin, refund.id, { shortcut: 'refunds' });
    assertCannedResponse(t5, { shortcut: 'refunds', title: null, content: t2.content });
    // {} and an empty body change nothing and return it.
    assert.deepEqual(await patchCanned(srv.server, admin, refund.id, {}), t5);
    const empty = await api(srv.server, admin, 'PATCH', cannedPath(refund.id));
    assert.equal(empty.status, 200, `PATCH with no body: ${empty.status} ${empty.text}`);
    assert.deepEqual(empty.body, t5);
    assert.deepEqual((await cannedList(srv.server, agent)).find((c) => c.id === refund.id), t5);

    // DELETE: 204 with an empty body, then gone.
    const deleted = await api(srv.server, admin, 'DELETE', cannedPath(untitled.id));
    assert.equal(deleted.status, 204, deleted.text);
    assert.equal(deleted.text, '', 'a 204 has no body');
    assert.deepEqual((await cannedList(srv.server, agent)).map((c) => c.shortcut), ['0day', 'a_b', 'beta10', 'beta2', 'm-1', 'refunds', 'zeta']);
    await expectRestError(api(srv.server, admin, 'DELETE', cannedPath(untitled.id)), 404, 'not_found', 'DELETE again:');
    await expectRestError(api(srv.server, admin, 'PATCH', cannedPath(untitled.id), { body: { title: 'x' } }), 404, 'not_found', 'PATCH deleted:');
    // Its shortcut is free again.
    assertCannedResponse(await createCanned(srv.server, admin, { shortcut: 'hello', content: 'again' }), { shortcut: 'hello' });
  });

  it('checks shortcuts (^[a-z0-9_-]{1,32}$), titles (at most 200) and content (not empty, the message limit) on create and on PATCH; nothing changes on refusal', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    for (const shortcut of ['a', '9', '_', '-', 'a'.repeat(32), 'a_b-9', 'x-y_z0123456789']) {
      assertCannedResponse(await createCanned(srv.server, admin, { shortcut, content: 'c' }), { shortcut });
    }
    const before = await cannedList(srv.server, admin);
    const badShortcuts = ['', 'Refund', 'a b', 'é', 'a'.repeat(33), '/refund', 'a.b', 'a/b', 'ab\n', ' ab', 'ａ', 42, null, ['a'], true];
    for (const shortcut of badShortcuts) {
      await expectRestError(api(srv.server, admin, 'POST', CANNED, { body: { shortcut, content: 'c' } }), INVALID, 'invalid_payload',
        `shortcut ${JSON.stringify(shortcut)}:`);
    }
    await expectRestError(api(srv.server, admin, 'POST', CANNED, { body: { content: 'no shortcut' } }), INVALID, 'invalid_payload', 'no shortcut:');
    for (const title of ['t'.repeat(201), `  ${'t'.repeat(201)}  `, 42, ['t'], true]) {
      await expectRestError(api(srv.server, admin, 'POST', CANNED, { body: { shortcut: 'titled', title, content: 'c' } }), INVALID, 'invalid_payload',
        `title ${JSON.stringify(title).slice(0, 40)}:`);
    }
    for (const c of ['', '   ', '\n\t', 42, null, ['c']]) {
      await expectRestError(api(srv.server, admin, 'POST', CANNED, { body: { shortcut: 'content', content: c } }), INVALID, 'invalid_payload',
        `content ${JSON.stringify(c)}:`);
    }
    await expectRestError(api(srv.server, admin, 'POST', CANNED, { body: { shortcut: 'content' } }), INVALID, 'invalid_payload', 'no content:');
    await expectRestError(api(srv.server, admin, 'POST', CANNED, { body: { shortcut: 'long', content: 'x'.repeat(MAX_LEN + 1) } }), 413, 'message_too_long', 'content too long:');
    await expectRestError(api(srv.server, admin, 'POST', CANNED, { body: { shortcut: 'long', content: '🙂'.repeat(MAX_LEN + 1) } }), 413, 'message_too_long', 'emoji too long:');
    await expectRestError(api(srv.server, admin, 'POST', CANNED, { rawBody: '{"shortcut": "broken", ', headers: { 'content-type': 'application/json' } }),
      INVALID, 'invalid_payload', 'broken JSON:');
    assert.deepEqual(await cannedList(srv.server, admin), before, 'no refused create stored anything');

    // The limits themselves pass: 200-character title, MAX_LEN characters of content (after trimming).
    const atLimits = await createCanned(srv.server, admin, { shortcut: 'limits', title: 'é'.repeat(200), content: `  ${'🙂'.repeat(MAX_LEN)}  ` });
    assertCannedResponse(atLimits, { title: 'é'.repeat(200), content: '🙂'.repeat(MAX_LEN) });

    // PATCH: the same rules, nothing changes on refusal.
    for (const shortcut of ['', 'UPPER', 'a'.repeat(33), 'sp ace', 42]) {
      await expectRestError(api(srv.server, admin, 'PATCH', cannedPath(atLimits.id), { body: { shortcut } }), INVALID, 'invalid_payload',
        `PATCH shortcut ${JSON.stringify(shortcut)}:`);
    }
    for (const title of ['t'.repeat(201), 42]) {
      await expectRestError(api(srv.server, admin, 'PATCH', cannedPath(atLimits.id), { body: { title } }), INVALID, 'invalid_payload', 'PATCH title:');
    }
    for (const c of ['', '  ', 42]) {
      await expectRestError(api(srv.server, admin, 'PATCH', cannedPath(atLimits.id), { body: { content: c } }), INVALID, 'invalid_payload',
        `PATCH content ${JSON.stringify(c)}:`);
    }
    await expectRestError(api(srv.server, admin, 'PATCH', cannedPath(atLimits.id), { body: { content: 'y'.repeat(MAX_LEN + 1) } }), 413, 'message_too_long', 'PATCH too long:');
    // A refused PATCH with a valid field beside the bad one changes neither.
    await expectRestError(api(srv.server, admin, 'PATCH', cannedPath(atLimits.id), { body: { title: 'fine', content: '' } }), INVALID, 'invalid_payload', 'PATCH half bad:');
    assert.deepEqual((await cannedList(srv.server, admin)).find((c) => c.id === atLimits.id), atLimits, 'refused PATCHes changed nothing');
  });

  it('refuses null for a PATCH\'s shortcut or content (only title may be null): invalid_payload, nothing changed', async () => {
    const admin = makeUser('admin', { tenant: uniqueId('t') });
    const item = await createCanned(srv.server, admin, { shortcut: 'keep', title: 'Keep', content: 'keep me' });
    for (const body of [{ shortcut: null }, { content: null }, { shortcut: null, title: 'changed' }, { content: null, title: null }]) {
      await expectRestError(api(srv.server, admin, 'PATCH', cannedPath(item.id), { body }), INVALID, 'invalid_payload', `PATCH ${JSON.stringify(body)}:`);
    }
    assert.deepEqual(await cannedList(srv.server, admin), [item], 'nothing changed');
  });

  it('keeps shortcuts unique per tenant: conflict on create and on PATCH to a taken one; another tenant may use the same', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const refund = await createCanned(srv.server, admin, { shortcut: 'refund', content: 'one' });
    const other = await createCanned(srv.server, admin, { shortcut: 'other', content: 'two' });
    await expectRestError(api(srv.server, admin, 'POST', CANNED, { body: { shortcut: 'refund', content: 'dup' } }), 409, 'conflict', 'duplicate create:');
    await expectRestError(api(srv.server, admin, 'PATCH', cannedPath(other.id), { body: { shortcut: 'refund' } }), 409, 'conflict', 'PATCH to a taken shortcut:');
    await expectRestError(api(srv.server, admin, 'PATCH', cannedPath(other.id), { body: { shortcut: 'refund', content: 'changed?' } }), 409, 'conflict', 'PATCH to a taken shortcut with content:');
    assert.deepEqual(await cannedList(srv.server, admin), [other, refund], 'nothing changed');

    // Two at once with the same new shortcut: one 201, one 409.
    const race = await Promise.all(range(4).map((i) => api(srv.server, admin, 'POST', CANNED, { body: { shortcut: 'raced', content: `try ${i}` } })));
    assert.deepEqual(race.map((r) => r.status).sort(), [201, 409, 409, 409], race.map((r) => r.text).join(' | '));
    assert.equal((await cannedList(srv.server, admin)).filter((c) => c.shortcut === 'raced').length, 1);

    // Another tenant: the same shortcuts, its own list.
    const tenant2 = uniqueId('t');
    const admin2 = makeUser('admin', { tenant: tenant2 });
    const theirs = await createCanned(srv.server, admin2, { shortcut: 'refund', content: 'theirs' });
    assert.deepEqual(await cannedList(srv.server, makeUser('agent', { tenant: tenant2 })), [theirs]);
    assert.deepEqual((await cannedList(srv.server, admin)).map((c) => c.shortcut), ['other', 'raced', 'refund']);
  });

  it('lets admins change, staff read, and nobody else: agents and customers forbidden, another tenant or an unknown id not_found', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const agent = makeUser('agent', { tenant });
    const customer = makeUser('customer', { tenant });
    const item = await createCanned(srv.server, admin, { shortcut: 'mine', title: 'Mine', content: 'mine' });

    await expectRestError(api(srv.server, agent, 'POST', CANNED, { body: { shortcut: 'agent', content: 'x' } }), 403, 'forbidden', 'agent create:');
    await expectRestError(api(srv.server, agent, 'PATCH', cannedPath(item.id), { body: { content: 'x' } }), 403, 'forbidden', 'agent PATCH:');
    await expectRestError(api(srv.server, agent, 'DELETE', cannedPath(item.id)), 403, 'forbidden', 'agent DELETE:');
    await expectRestError(api(srv.server, customer, 'GET', CANNED), 403, 'forbidden', 'customer GET:');
    await expectRestError(api(srv.server, customer, 'POST', CANNED, { body: { shortcut: 'cust', content: 'x' } }), 403, 'forbidden', 'customer create:');
    await expectRestError(api(srv.server, customer, 'PATCH', cannedPath(item.id), { body: { content: 'x' } }), 403, 'forbidden', 'customer PATCH:');
    await expectRestError(api(srv.server, customer, 'DELETE', cannedPath(item.id)), 403, 'forbidden', 'customer DELETE:');
    for (const [method, path] of [['GET', CANNED], ['POST', CANNED], ['PATCH', cannedPath(item.id)], ['DELETE', cannedPath(item.id)]]) {
      const options = ['POST', 'PATCH'].includes(method) ? { body: { shortcut: 'anon', content: 'x' } } : {};
      await expectRestError(api(srv.server, null, method, path, options), 401, 'unauthorized', `${method} without a token:`);
    }

    const outsider = makeUser('admin', { tenant: uniqueId('t') });
    await expectRestError(api(srv.server, outsider, 'PATCH', cannedPath(item.id), { body: { content: 'stolen' } }), 404, 'not_found', 'other tenant PATCH:');
    await expectRestError(api(srv.server, outsider, 'DELETE', cannedPath(item.id)), 404, 'not_found', 'other tenant DELETE:');
    assert.deepEqual(await cannedList(srv.server, outsider), [], 'another tenant lists none of them');
    await expectRestError(api(srv.server, admin, 'PATCH', cannedPath(UNKNOWN_ID), { body: { content: 'x' } }), 404, 'not_found', 'unknown PATCH:');
    await expectRestError(api(srv.server, admin, 'DELETE', cannedPath(UNKNOWN_ID)), 404, 'not_found', 'unknown DELETE:');
    await expectRestError(api(srv.server, outsider, 'PATCH', cannedPath(item.id), { body: { shortcut: 'mine' } }), 404, 'not_found', 'other tenant PATCH to the same shortcut:');

    // Checks in order: role, body, id.
    await expectRestError(api(srv.server, agent, 'PATCH', cannedPath(item.id), { body: { shortcut: 'BAD' } }), 403, 'forbidden', 'agent, bad body:');
    await expectRestError(api(srv.server, customer, 'POST', CANNED, { body: { shortcut: 'BAD' } }), 403, 'forbidden', 'customer, bad body:');
    await expectRestError(api(srv.server, outsider, 'PATCH', cannedPath(item.id), { body: { shortcut: 'BAD' } }), INVALID, 'invalid_payload', 'other tenant, bad body:');
    await expectRestError(api(srv.server, admin, 'PATCH', cannedPath(UNKNOWN_ID), { body: { content: 'x'.repeat(MAX_LEN + 1) } }), 413, 'message_too_long', 'unknown id, long body:');

    assert.deepEqual(await cannedList(srv.server, agent), [item], 'nothing changed, and agents read');
  });

  it('ignores unknown keys in a PATCH', async () => {
    const admin = makeUser('admin', { tenant: uniqueId('t') });
    const item = await createCanned(srv.server, admin, { shortcut: 'keys', content: 'keys' });
    assert.deepEqual(await patchCanned(srv.server, admin, item.id, { color: 'red' }), item);
    const changed = await patchCanned(srv.server, admin, item.id, { color: 'red', title: 'Keys' });
    assertCannedResponse(changed, { id: item.id, shortcut: 'keys', title: 'Keys', content: 'keys' });
    assert.deepEqual(await cannedList(srv.server, admin), [changed]);
  });
});

// ================================================================ transcripts

describe('transcripts', () => {
  const srv = useServer({ args: ARGS });

  it('writes the brief\'s format byte for byte: header, blank line, entries, attachment lines, multi-line content; notes for staff only, at their place in time', async () => {
    const tenant = uniqueId('t');
    const ada = makeUser('customer', { tenant, name: 'Ada Lovelace' });
    const grace = makeUser('agent', { tenant, name: 'Grace Hopper' });
    const opened = await openSession(srv.server, ada, { subject: 'Billing question', message: 'Hello' });
    const c = await online(srv.server, 'customer', tenant, ada);
    await ok(c.socket, 'join-session', { sessionId: opened.id });
    const g = await online(srv.server, 'agent', tenant, grace);
    await ok(g.socket, 'join-session', { sessionId: opened.id });
    const send = (o, body) => ok(o.socket, 'send-message', { sessionId: opened.id, ...body });

    const invoice = files.pdf();
    const invoiceAtt = await uploadAs(srv.server, grace, opened.id, invoice, 'invoice.pdf');
    const m2 = await send(g, { content: 'Hi Ada', attachments: [invoiceAtt.id] });
    const note1 = await ok(g.socket, 'add-note', { sessionId: opened.id, content: 'refund approved by finance' });
    const m3 = await send(c, { content: 'Line one\nLine two\n  indented three' });
    const photo = files.png(8, 6);
    const readme = Buffer.from('read me\n', 'utf8');
    const photoAtt = await uploadAs(srv.server, ada, opened.id, photo, 'photo.png');
    const readmeAtt = await uploadAs(srv.server, ada, opened.id, readme, 'readme.txt');
    const m4 = await send(c, { content: '', attachments: [photoAtt.id, readmeAtt.id] });
    const m5 = await send(g, { content: 'Bye' });
    await ok(c.socket, 'close-session', { sessionId: opened.id });
    const rated = await ok(c.socket, 'rate-session', { sessionId: opened.id, score: 4, comment: 'Quick and kind' });
    const note2 = await noteRest(srv.server, makeUser('admin', { tenant, name: 'Root' }), opened.id, 'closed happy');
    const [m1] = (await listMessages(srv.server, ada, opened.id));

    const entries = [
      { at: m1.createdAt, kind: 0, order: 1, text: `[${utc(m1.createdAt)}] Ada Lovelace (customer): Hello\n` },
      { at: m2.createdAt, kind: 0, order: 2, text: `[${utc(m2.createdAt)}] Grace Hopper (agent): Hi Ada\n    [attachment: invoice.pdf, ${invoice.length} bytes]\n` },
      { at: m3.createdAt, kind: 0, order: 3, text: `[${utc(m3.createdAt)}] Ada Lovelace (customer): Line one\n    Line two\n      indented three\n` },
      { at: m4.createdAt, kind: 0, order: 4, text: `[${utc(m4.createdAt)}] Ada Lovelace (customer): \n    [attachment: photo.png, ${photo.length} bytes]\n    [attachment: readme.txt, ${readme.length} bytes]\n` },
      { at: m5.createdAt, kind: 0, order: 5, text: `[${utc(m5.createdAt)}] Grace Hopper (agent): Bye\n` },
    ];
    const noteEntries = [
      { at: note1.createdAt, kind: 1, order: 1, text: `[${utc(note1.createdAt)}] [note] Grace Hopper: refund approved by finance\n` },
      { at: note2.createdAt, kind: 1, order: 2, text: `[${utc(note2.createdAt)}] [note] Root: closed happy\n` },
    ];
    const sorted = (list) => list.map((e) => ({ ...e, at: Date.parse(e.at) })).sort((a, b) => a.at - b.at || a.kind - b.kind || a.order - b.order);
    const head = 'Subject: Billing question\n' +
      'Customer: Ada Lovelace\n' +
      'Agent: Grace Hopper\n' +
      `Opened: ${utc(opened.createdAt)}\n` +
      `Closed: ${utc(rated.closedAt)}\n` +
      'Rating: 4/5 "Quick and kind"\n' +
      '\n';
    const forCustomer = head + sorted(entries).map((e) => e.text).join('');
    const forStaff = head + sorted([...entries, ...noteEntries]).map((e) => e.text).join('');
    assert.equal(await transcriptOk(srv.server, ada, opened.id), forCustomer, 'the customer\'s transcript');
    assert.equal(await transcriptOk(srv.server, grace, opened.id), forStaff, 'the agent\'s transcript');
    assert.equal(await transcriptOk(srv.server, makeUser('agent', { tenant }), opened.id), forStaff, 'another agent\'s transcript');
    assert.equal(await transcriptOk(srv.server, makeUser('admin', { tenant }), opened.id), forStaff, 'an admin\'s transcript');
    // The generic builder the other tests use agrees with the literal text.
    assert.equal(expectedTranscript(rated, await listMessages(srv.server, grace, opened.id), await notesOf(srv.server, grace, opened.id)), forStaff);
  });

  it('writes - for missing values, the id of a user without a name, each sender\'s role, and a rating without comment as N/5', async () => {
    const tenant = uniqueId('t');
    const anon = makeUser('customer', { tenant, name: null });
    const opened = await openSession(srv.server, anon);
    assert.equal(opened.subject, null);
    const expectedEmpty = `Subject: -\nCustomer: ${anon.sub}\nAgent: -\nOpened: ${utc(opened.createdAt)}\nClosed: -\nRating: -\n\n`;
    assert.equal(await transcriptOk(srv.server, anon, opened.id), expectedEmpty, 'an empty pending session: the header alone');
    assert.equal(await transcriptOk(srv.server, makeUser('agent', { tenant }), opened.id), expectedEmpty);

    const nameless = makeUser('agent', { tenant, name: null });
    const boss = makeUser('admin', { tenant, name: 'Boss' });
    const q = await sendRest(srv.server, anon, opened.id, 'question?');
    await take(srv.server, nameless, opened.id);
    const a = await sendRest(srv.server, nameless, opened.id, 'answer.');
    const b = await sendRest(srv.server, boss, opened.id, 'admin here');
    const whileActive = `Subject: -\nCustomer: ${anon.sub}\nAgent: ${nameless.sub}\nOpened: ${utc(opened.createdAt)}\nClosed: -\nRating: -\n\n` +
      `[${utc(q.createdAt)}] ${anon.sub} (customer): question?\n` +
      `[${utc(a.createdAt)}] ${nameless.sub} (agent): answer.\n` +
      `[${utc(b.createdAt)}] Boss (admin): admin here\n`;
    assert.equal(await transcriptOk(srv.server, anon, opened.id), whileActive);

    const closed = await closeRest(srv.server, anon, opened.id);
    const rated = await expectStatus(rateRest(srv.server, anon, opened.id, { score: 5 }), 200, 'rate:');
    assert.equal(rated.rating.comment, null);
    const expected = whileActive
      .replace('Closed: -\n', `Closed: ${utc(closed.closedAt)}\n`)
      .replace('Rating: -\n', 'Rating: 5/5\n');
    assert.equal(await transcriptOk(srv.server, anon, opened.id), expected);
    assert.equal(await transcriptOk(srv.server, boss, opened.id), expected, 'no notes: staff read the same');

    // A session closed while pending: no agent ever.
    const lonely = makeUser('customer', { tenant, name: 'Lonely' });
    const left = await openSession(srv.server, lonely, { subject: 'never mind', message: 'anyone?' });
    const gone = await closeRest(srv.server, lonely, left.id);
    const [only] = await listMessages(srv.server, lonely, left.id);
    assert.equal(await transcriptOk(srv.server, lonely, left.id),
      `Subject: never mind\nCustomer: Lonely\nAgent: -\nOpened: ${utc(left.createdAt)}\nClosed: ${utc(gone.closedAt)}\nRating: -\n\n` +
      `[${utc(only.createdAt)}] Lonely (customer): anyone?\n`);
  });

  it('is UTF-8 safe: emoji, accents, combining marks and right-to-left text in names, subject, messages, notes and the comment', async () => {
    const tenant = uniqueId('t');
    const customer = makeUser('customer', { tenant, name: 'Zoë Ñúñez 👩‍💻' });
    const agent = makeUser('agent', { tenant, name: 'محمد الأمين' });
    const opened = await openSession(srv.server, customer, { subject: 'Ça coûte combien ? 💶', message: 'שלום עולם, مرحبا' });
    await take(srv.server, agent, opened.id);
    await sendRest(srv.server, agent, opened.id, 'café ☕ naïve e\u0301 👍🏽 🇪🇸');
    await noteRest(srv.server, agent, opened.id, 'note ✓ ≠ ∑ 日本語');
    await sendRest(srv.server, customer, opened.id, '𝄞 music\nسطر ثان');
    await closeRest(srv.server, customer, opened.id);
    const rated = await expectStatus(rateRest(srv.server, customer, opened.id, { score: 5, comment: 'Très bien 🌟 "wow" ممتاز' }), 200, 'rate:');
    const messages = await listMessages(srv.server, agent, opened.id);
    const notes = await notesOf(srv.server, agent, opened.id);

    const forCustomer = await getTranscript(srv.server, customer, opened.id);
    assert.ok(forCustomer.bytes.equals(Buffer.from(expectedTranscript(rated, messages), 'utf8')), `the customer's bytes:\n${forCustomer.text}`);
    const forStaff = await getTranscript(srv.server, agent, opened.id);
    assert.ok(forStaff.bytes.equals(Buffer.from(expectedTranscript(rated, messages, notes), 'utf8')), `the staff's bytes:\n${forStaff.text}`);
    assert.ok(forStaff.text.includes('Customer: Zoë Ñúñez 👩‍💻\nAgent: محمد الأمين\n'));
    assert.ok(forStaff.text.includes('Rating: 5/5 "Très bien 🌟 "wow" ممتاز"\n'), 'the comment in double quotes, as written');
    assert.ok(forStaff.text.includes('] [note] محمد الأمين: note ✓ ≠ ∑ 日本語\n'));
    assert.ok(forStaff.text.includes('(customer): 𝄞 music\n    سطر ثان\n'));
    await transcriptOk(srv.server, agent, opened.id);
  });

  it('indents every continuation line, of messages and notes alike, so that only entries start with [', async () => {
    const tenant = uniqueId('t');
    const customer = makeUser('customer', { tenant, name: 'Cy' });
    const agent = makeUser('agent', { tenant, name: 'Al' });
    const opened = await openSession(srv.server, customer, { message: 'see below\n[2026-01-01 00:00:00 UTC] Al (agent): a forged entry' });
    await take(srv.server, agent, opened.id);
    const note = await noteRest(srv.server, agent, opened.id, 'line a\n[not an entry]\n\nafter a blank line');
    const reply = await sendRest(srv.server, agent, opened.id, 'one\n\n  two');
    const doc = files.pdf();
    const docAtt = await uploadAs(srv.server, agent, opened.id, doc, 'terms.pdf');
    const withFile = await sendRest(srv.server, agent, opened.id, 'See attached:\nthe terms', { attachments: [docAtt.id] });
    const [first] = await listMessages(srv.server, agent, opened.id);
    const session = await getSession(srv.server, agent, opened.id);
    const forStaff = await transcriptOk(srv.server, agent, opened.id);
    assert.equal(forStaff, expectedTranscript(session, [first, reply, withFile], [note]));
    assert.ok(forStaff.endsWith(`[${utc(withFile.createdAt)}] Al (agent): See attached:\n    the terms\n    [attachment: terms.pdf, ${doc.length} bytes]\n`),
      'the content\'s lines, then the attachments\'');
    assert.ok(forStaff.includes(`[${utc(first.createdAt)}] Cy (customer): see below\n    [2026-01-01 00:00:00 UTC] Al (agent): a forged entry\n`));
    assert.ok(forStaff.includes(`[${utc(note.createdAt)}] [note] Al: line a\n    [not an entry]\n    \n    after a blank line\n`));
    assert.ok(forStaff.includes(`[${utc(reply.createdAt)}] Al (agent): one\n    \n      two\n`));
    assert.equal(forStaff.split('\n').filter((l) => l.startsWith('[')).length, 4, 'four entries, four lines starting with [');
    const forCustomer = await transcriptOk(srv.server, customer, opened.id);
    assert.equal(forCustomer, expectedTranscript(session, [first, reply, withFile]));
    assertNoNoteIn(forCustomer, [note], 'the customer\'s transcript');
  });

  it('turns \\r\\n and \\r into new lines (indented), and keeps names, the subject and the rating comment on one line', async () => {
    const tenant = uniqueId('t');
    const customer = makeUser('customer', { tenant, name: 'Ada\nLovelace' });
    const agent = makeUser('agent', { tenant, name: 'Grace\nHopper' });
    const opened = await openSession(srv.server, customer, { subject: 'two\nlines', message: 'a\r\nb\rc' });
    await take(srv.server, agent, opened.id);
    const reply = await sendRest(srv.server, agent, opened.id, 'ok\r\nthen');
    const note = await noteRest(srv.server, agent, opened.id, 'n1\rn2');
    await closeRest(srv.server, customer, opened.id);
    await expectStatus(rateRest(srv.server, customer, opened.id, { score: 4, comment: 'good\nvery good' }), 200, 'rate:');
    const session = await getSession(srv.server, agent, opened.id);
    const [first] = await listMessages(srv.server, agent, opened.id);
    const text = await transcriptOk(srv.server, agent, opened.id);
    assert.equal(text,
      'Subject: two lines\n' +
      'Customer: Ada Lovelace\n' +
      'Agent: Grace Hopper\n' +
      `Opened: ${utc(session.createdAt)}\n` +
      `Closed: ${utc(session.closedAt)}\n` +
      'Rating: 4/5 "good very good"\n' +
      '\n' +
      `[${utc(first.createdAt)}] Ada Lovelace (customer): a\n    b\n    c\n` +
      `[${utc(reply.createdAt)}] Grace Hopper (agent): ok\n    then\n` +
      `[${utc(note.createdAt)}] [note] Grace Hopper: n1\n    n2\n`);
  });

  it('names the current agent in the header: - once the session is back in the queue, the new agent once taken again', async () => {
    const tenant = uniqueId('t');
    const customer = makeUser('customer', { tenant, name: 'Cus' });
    const opened = await openSession(srv.server, customer, { message: 'hi' });
    const first = await online(srv.server, 'agent', tenant, makeUser('agent', { tenant, name: 'First' }));
    await ok(first.socket, 'join-session', { sessionId: opened.id });
    const headerLine = async () => (await transcriptOk(srv.server, customer, opened.id)).split('\n')[2];
    assert.equal(await headerLine(), 'Agent: First');
    await ok(first.socket, 'transfer-session', { sessionId: opened.id });
    assert.equal(await headerLine(), 'Agent: -', 'back in the queue: no agent');
    await take(srv.server, makeUser('agent', { tenant, name: 'Second' }), opened.id);
    assert.equal(await headerLine(), 'Agent: Second');
  });

  it('is for the session\'s customer and the tenant\'s staff only: another customer, another tenant, an unknown session: not_found', async () => {
    const tenant = uniqueId('t');
    const customer = makeUser('customer', { tenant });
    const opened = await openSession(srv.server, customer, { message: 'private' });
    for (const [who, user] of [['another customer', makeUser('customer', { tenant })], ['another tenant\'s agent', makeUser('agent', { tenant: uniqueId('t') })],
      ['another tenant\'s admin', makeUser('admin', { tenant: uniqueId('t') })]]) {
      const res = await getTranscript(srv.server, user, opened.id);
      assert.equal(res.status, 404, `${who}: ${res.status} ${res.text.slice(0, 200)}`);
      assert.equal(res.body?.error?.code, 'not_found', `${who}: ${res.text.slice(0, 200)}`);
      assert.ok(!res.text.includes('private'), `${who} saw the content`);
    }
    const unknown = await getTranscript(srv.server, customer, UNKNOWN_ID);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body?.error?.code, 'not_found');
    const anonymous = await getTranscript(srv.server, null, opened.id);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body?.error?.code, 'unauthorized');
    for (const user of [customer, makeUser('agent', { tenant }), makeUser('admin', { tenant })]) {
      assert.ok((await transcriptOk(srv.server, user, opened.id)).includes(': private\n'));
    }
  });
});

// ---------------------------------------------------------------- a long session, streamed

const LONG_MESSAGES = 100_000;
const FILLER = ' and then some more words to make the line long enough'.repeat(6);
const longContent = (i) => `message ${String(i).padStart(6, '0')}${FILLER}`;

/** The server's resident set size, in bytes (Linux /proc). */
function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  assert.ok(m, `no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * Sends `n` messages on `socket` with at most `window` acks outstanding;
 * calls onAck(i, message) for each. Rejects on the first refusal.
 */
async function sendMany(socket, sessionId, n, content, onAck, window = 128) {
  let next = 1;
  let failure = null;
  async function worker() {
    while (next <= n && !failure) {
      const i = next;
      next += 1;
      const ack = await socket.timeout(60_000).emitWithAck('send-message', { sessionId, content: content(i) });
      if (!ack?.ok) {
        failure = new Error(`message ${i} was refused: ${JSON.stringify(ack)}`);
        return;
      }
      onAck(i, ack.data);
    }
  }
  await Promise.all(range(window).map(() => worker()));
  if (failure) throw failure;
}

/**
 * Reads the transcript slowly (about `bytesPerSecond`), sampling the server's
 * RSS after every chunk. Resolves with { status, headers, text, bytes, peakRss, chunks }.
 */
function readSlowly(server, user, sessionId, { bytesPerSecond = 8 * 1024 * 1024 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${server.url}/api/chat/sessions/${sessionId}/transcript`, { headers: { authorization: `Bearer ${user.token}` } }, (res) => {
      const parts = [];
      let bytes = 0;
      let peakRss = rssBytes(server.pid);
      let chunks = 0;
      res.on('data', (chunk) => {
        parts.push(chunk);
        bytes += chunk.length;
        chunks += 1;
        peakRss = Math.max(peakRss, rssBytes(server.pid));
        // Pacing, not synchronisation: the reader is slow on purpose, so a server
        // that builds the whole text before sending would hold it meanwhile.
        res.pause();
        setTimeout(() => res.resume(), Math.ceil((chunk.length / bytesPerSecond) * 1000));
      });
      res.on('end', () => {
        peakRss = Math.max(peakRss, rssBytes(server.pid));
        resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(parts).toString('utf8'), bytes, peakRss, chunks });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

describe('transcripts: a long session', () => {
  it(`streams a session of ${LONG_MESSAGES} messages: every line in order, and the server's memory does not grow by anything like its size`, async (t) => {
    assert.ok(existsSync('/proc/self/status'), 'needs Linux /proc to read the server\'s memory');
    const server = await spawnServerFor(t, { args: ['--send-rate-per-second', '1000000', '--send-burst', '1000000'] });
    const tenant = uniqueId('t');
    const customer = makeUser('customer', { tenant, name: 'Long Talker' });
    const agent = makeUser('agent', { tenant, name: 'Patient Agent' });
    const opened = await openSession(server, customer, { subject: 'a long one' });
    await take(server, agent, opened.id);
    // The sender never joins the room: no new-message comes back to this process 100 000 times.
    const sender = await online(server, 'customer', tenant, customer);
    const bySeq = new Array(LONG_MESSAGES + 1);
    const started = Date.now();
    await sendMany(sender.socket, opened.id, LONG_MESSAGES, longContent, (i, m) => { bySeq[m.seq] = { i, createdAt: m.createdAt }; });
    const seeded = (Date.now() - started) / 1000;
    t.diagnostic(`seeded ${LONG_MESSAGES} messages in ${seeded.toFixed(1)} s (${Math.round(LONG_MESSAGES / seeded)}/s)`);
    for (let seq = 1; seq <= LONG_MESSAGES; seq += 1) assert.ok(bySeq[seq], `no message got seq ${seq}`);
    const closed = await closeRest(server, agent, opened.id);

    const baseline = rssBytes(server.pid);
    const res = await readSlowly(server, agent, opened.id);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.headers['content-disposition'], `attachment; filename="session-${opened.id}.txt"`);
    assert.equal(res.headers['content-length'], undefined, 'streamed: no Content-Length (the server cannot know it without holding the text)');
    const growth = res.peakRss - baseline;
    t.diagnostic(`transcript ${(res.bytes / 1048576).toFixed(1)} MiB in ${res.chunks} chunks; server RSS ${(baseline / 1048576).toFixed(1)} MiB before, ` +
      `peak ${(res.peakRss / 1048576).toFixed(1)} MiB while streaming (+${(growth / 1048576).toFixed(1)} MiB)`);
    assert.ok(res.bytes > 30 * 1024 * 1024, `the transcript is large enough for the memory check to mean something: ${res.bytes} bytes`);
    // A server that builds the text (or loads the rows) first holds at least the transcript's size; one that
    // streams holds a page or two, whatever the allocator keeps around.
    assert.ok(growth < res.bytes / 2, `the server's RSS grew by ${growth} bytes while streaming a transcript of ${res.bytes} bytes: it holds the transcript`);

    const lines = res.text.split('\n');
    assert.equal(lines.pop(), '', 'the last line ends with \\n');
    assert.equal(lines.length, 7 + LONG_MESSAGES, 'six header lines, a blank line, one line per message');
    assert.deepEqual(lines.slice(0, 7), [
      'Subject: a long one', 'Customer: Long Talker', 'Agent: Patient Agent', `Opened: ${utc(opened.createdAt)}`,
      `Closed: ${utc(closed.closedAt)}`, 'Rating: -', '',
    ]);
    const line = (seq) => `[${utc(bySeq[seq].createdAt)}] Long Talker (customer): ${longContent(bySeq[seq].i)}`;
    assert.equal(lines[7], line(1), 'the first entry');
    assert.equal(lines.at(-1), line(LONG_MESSAGES), 'the last entry');
    for (let seq = 1; seq <= LONG_MESSAGES; seq += 1) {
      if (lines[6 + seq] !== line(seq)) assert.equal(lines[6 + seq], line(seq), `entry ${seq}`);
    }
  });
});

// ================================================================ reports

/**
 * A tenant's day of work, all of it now: five sessions that cover every figure
 * (opened only; assigned without an answer; answered, closed, rated; closed
 * without an answer, rated), notes that must not count, three ratings (4, 5, 2).
 */
async function seedReportData(server, tenant) {
  const agent = makeUser('agent', { tenant, name: 'Reporter' });
  const admin = makeUser('admin', { tenant });
  const customer = () => makeUser('customer', { tenant });
  const ids = [];

  const c1 = customer();
  const s1 = await openSession(server, c1, { message: 'q1' });
  ids.push(s1.id);
  await take(server, agent, s1.id);
  await sendRest(server, agent, s1.id, 'a1');
  await sendRest(server, c1, s1.id, 'q1 again');
  await sendRest(server, agent, s1.id, 'a1 again');
  await noteRest(server, agent, s1.id, 'a note is not a message');
  await closeRest(server, c1, s1.id);
  await expectStatus(rateRest(server, c1, s1.id, { score: 4 }), 200, 'rate s1:');

  const c2 = customer();
  const s2 = await openSession(server, c2, { message: 'q2' });
  ids.push(s2.id);
  await take(server, agent, s2.id);
  await sendRest(server, admin, s2.id, 'a2 by an admin'); // admins answer too
  await closeRest(server, admin, s2.id);
  await expectStatus(rateRest(server, c2, s2.id, { score: 5, comment: 'great' }), 200, 'rate s2:');

  const s3 = await openSession(server, customer());
  ids.push(s3.id);

  const c4 = customer();
  const s4 = await openSession(server, c4);
  ids.push(s4.id);
  await take(server, agent, s4.id);
  await sendRest(server, agent, s4.id, 'hello? (before any question)');
  await sendRest(server, c4, s4.id, 'late question, never answered');
  await noteRest(server, admin, s4.id, 'another note');

  const c5 = customer();
  const s5 = await openSession(server, c5, { message: 'q5' });
  ids.push(s5.id);
  await take(server, agent, s5.id);
  await closeRest(server, agent, s5.id);
  await expectStatus(rateRest(server, c5, s5.id, { score: 2 }), 200, 'rate s5:');

  const sessions = await Promise.all(ids.map((id) => getSession(server, agent, id)));
  const messages = (await Promise.all(ids.map((id) => listMessages(server, agent, id)))).flat();
  const facts = factsOf(sessions, messages);
  const earliest = Math.min(...facts.map((f) => f.at));
  const latest = Math.max(...facts.map((f) => f.at));
  return { agent, admin, sessions, messages, facts, earliest, latest };
}

/** A report whose default range depends on the server's clock: `to` is the end of the bucket of a moment between before and after the call. */
async function defaultReport(server, user, params, size) {
  const before = Date.now();
  const body = await report(server, user, params);
  const after = Date.now();
  const to = Date.parse(body.to);
  assert.ok(to === floorTo(before, size) + size || to === floorTo(after, size) + size,
    `default to should be the end of the current ${size === HOUR ? 'hour' : 'day'}: ${body.to} (asked at ${iso(before)})`);
  return body;
}

// Debian's libfaketime (scripts/test installs it), or TEST_LIBFAKETIME.
const LIBFAKETIME = [process.env.TEST_LIBFAKETIME, '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'].find((file) => file && existsSync(file));
const fakeTimeSkip = LIBFAKETIME ? false
  : 'libfaketime not found (Debian package `libfaketime`, or TEST_LIBFAKETIME): the boundary test runs the server on a shifted clock with it';

describe('reports', () => {
  const srv = useServer({ args: ARGS });

  it('counts every figure in its hour: by default 24 hourly buckets ending with the current hour, exactly, the tenant\'s own only', async () => {
    const tenant = uniqueId('t');
    // Another tenant's work at the same time must not show.
    const noise = await seedReportData(srv.server, uniqueId('t'));
    const data = await seedReportData(srv.server, tenant);
    assert.equal(data.facts.filter((f) => f.kind === 'message').length, 9, 'nine messages, the two notes are none');

    const body = await defaultReport(srv.server, data.agent, {}, HOUR);
    const to = Date.parse(body.to);
    assertReportShape(body, { bucket: 'hour', from: to - 24 * HOUR, count: 24 });
    assert.ok(data.earliest >= to - 24 * HOUR && data.latest < to, 'everything happened within the default range');
    assertBuckets(body, data.facts);
    // The whole day's work is there, and nothing more.
    assert.deepEqual(COUNTS.map((k) => total(body, k)), [5, 4, 3, 9, 3], 'opened, assigned, closed, messages, ratings');
    const busy = body.buckets.filter((b) => COUNTS.some((k) => b[k] > 0));
    assert.ok(busy.length >= 1 && busy.length <= 2, 'all of it in the current hour (or the two around a tick of the clock)');
    for (const b of body.buckets.filter((x) => !busy.includes(x))) {
      assert.deepEqual(b, { start: b.start, opened: 0, assigned: 0, closed: 0, messages: 0, avgWaitSeconds: null, avgFirstResponseSeconds: null, ratings: 0, avgRating: null },
        'an empty bucket has zeros and nulls');
    }
    if (busy.length === 1) {
      const [b] = busy;
      assert.deepEqual(COUNTS.map((k) => b[k]), [5, 4, 3, 9, 3]);
      assertMean(b.avgRating, 11 / 3, 2, 'avgRating of 4, 5, 2');
      assert.equal(b.avgRating, 3.67);
    }
    // Admins read the same; the other tenant's report is its own.
    assert.deepEqual((await report(srv.server, data.admin, { from: body.from, to: body.to })).buckets, body.buckets);
    const theirs = await report(srv.server, noise.agent, { from: body.from, to: body.to });
    assertBuckets(theirs, noise.facts);
    // A tenant with no activity: every bucket empty.
    const quiet = await report(srv.server, makeUser('agent', { tenant: uniqueId('t') }), { from: body.from, to: body.to });
    assert.deepEqual(COUNTS.map((k) => total(quiet, k)), [0, 0, 0, 0, 0]);
    assert.ok(quiet.buckets.every((b) => b.avgWaitSeconds === null && b.avgFirstResponseSeconds === null && b.avgRating === null));
  });

  it('counts by UTC day with bucket=day: by default the current day and the 29 before', async () => {
    const tenant = uniqueId('t');
    const data = await seedReportData(srv.server, tenant);
    const body = await defaultReport(srv.server, data.agent, { bucket: 'day' }, DAY);
    const to = Date.parse(body.to);
    assertReportShape(body, { bucket: 'day', from: to - 30 * DAY, count: 30 });
    assertBuckets(body, data.facts);
    assert.deepEqual(COUNTS.map((k) => total(body, k)), [5, 4, 3, 9, 3]);
    const today = body.buckets.at(-1);
    if (floorTo(data.earliest, DAY) === floorTo(data.latest, DAY) && floorTo(data.latest, DAY) === to - DAY) {
      assert.deepEqual(COUNTS.map((k) => today[k]), [5, 4, 3, 9, 3], 'all of it today');
      assert.equal(today.avgRating, 3.67);
    }
    assert.ok(body.buckets.slice(0, 28).every((b) => COUNTS.every((k) => b[k] === 0) && b.avgRating === null), 'the days before are empty');
    assert.deepEqual(await report(srv.server, data.admin, { bucket: 'day', from: body.from, to: body.to }), body);
  });

  it('rounds from down and to up to whole UTC buckets, to exclusive, whatever the offset; one of from/to alone spans 24 hours or 30 days', async () => {
    const tenant = uniqueId('t');
    const data = await seedReportData(srv.server, tenant);
    const H = floorTo(data.earliest, HOUR); // the hour the data starts in
    const D = floorTo(data.earliest, DAY);
    const user = data.agent;
    const check = async (params, bucket, from, count) => {
      const body = await report(srv.server, user, params);
      assertReportShape(body, { bucket, from, count });
      assertBuckets(body, data.facts);
      return body;
    };

    // Mid-hour on both ends, from written at +02:00 and to at -05:30: [H-3h, H+1h).
    const mid = await check({ from: withOffset(H - 3 * HOUR + 17 * 60_000 + 23_456, 120), to: withOffset(H + 12 * 60_000, -330) }, 'hour', H - 3 * HOUR, 4);
    assert.equal(mid.buckets[3].opened, data.facts.filter((f) => f.kind === 'opened' && f.at < H + HOUR).length);
    assert.ok(mid.buckets[3].opened >= 1, 'the data\'s first hour is the last bucket');
    // `to` on a boundary is exclusive: the data's hour is not in [H-3h, H).
    const before = await check({ from: iso(H - 3 * HOUR), to: iso(H) }, 'hour', H - 3 * HOUR, 3);
    assert.deepEqual(COUNTS.map((k) => total(before, k)), [0, 0, 0, 0, 0]);
    // One millisecond past it rounds up to the whole hour.
    await check({ from: iso(H - 3 * HOUR), to: iso(H + 1) }, 'hour', H - 3 * HOUR, 4);
    // From and to within one hour: that hour.
    await check({ from: iso(H + 10 * 60_000), to: iso(H + 20 * 60_000) }, 'hour', H, 1);
    // An explicit bucket=hour is the default.
    await check({ bucket: 'hour', from: iso(H), to: iso(H + 2 * HOUR) }, 'hour', H, 2);
    // Only from: 24 hours on; only to: 24 hours back (each rounded first).
    await check({ from: withOffset(H - 5 * HOUR + 1, 60) }, 'hour', H - 5 * HOUR, 24);
    await check({ to: withOffset(H + 30 * 60_000, 0).replace('+00:00', 'Z') }, 'hour', H + HOUR - 24 * HOUR, 24);

    // Days: 00:30 at +01:00 is 23:30 UTC of the day before, so from rounds down to that day.
    await check({ bucket: 'day', from: withOffset(D - 30 * 60_000, 60), to: iso(D + 12 * HOUR) }, 'day', D - DAY, 2);
    // And 23:30 at -01:00 is 00:30 UTC of the next day: to rounds up past it.
    await check({ bucket: 'day', from: iso(D), to: withOffset(D + DAY + 30 * 60_000, -60) }, 'day', D, 2);
    const dayBefore = await check({ bucket: 'day', from: iso(D - 2 * DAY), to: iso(D) }, 'day', D - 2 * DAY, 2);
    assert.deepEqual(COUNTS.map((k) => total(dayBefore, k)), [0, 0, 0, 0, 0], 'to is exclusive by day too');
    await check({ bucket: 'day', from: iso(D + 1) }, 'day', D, 30);
    await check({ bucket: 'day', to: iso(D + DAY) }, 'day', D + DAY - 30 * DAY, 30);
    await check({ bucket: 'day', to: iso(D + 1) }, 'day', D + DAY - 30 * DAY, 30);
  });

  it('takes up to 744 hours and 366 days; refuses more, from >= to, a bad bucket or a bad time with invalid_payload', async () => {
    const tenant = uniqueId('t');
    const agent = makeUser('agent', { tenant });
    const H = floorTo(Date.now(), HOUR);
    const D = floorTo(Date.now(), DAY);
    const longest = await report(srv.server, agent, { from: iso(H - 743 * HOUR), to: iso(H + HOUR) });
    assertReportShape(longest, { bucket: 'hour', from: H - 743 * HOUR, count: 744 });
    const longestDays = await report(srv.server, agent, { bucket: 'day', from: iso(D - 365 * DAY), to: iso(D + DAY) });
    assertReportShape(longestDays, { bucket: 'day', from: D - 365 * DAY, count: 366 });

    const refused = [
      { from: iso(H - 744 * HOUR), to: iso(H + HOUR) }, // 745 hours
      { from: iso(H - 743 * HOUR - 1), to: iso(H + HOUR) }, // 745 after rounding
      { from: iso(H - 743 * HOUR), to: iso(H + HOUR + 1) }, // 745 after rounding
      { bucket: 'day', from: iso(D - 366 * DAY), to: iso(D + DAY) }, // 367 days
      { bucket: 'day', from: iso(D - 365 * DAY - 1), to: iso(D + DAY) }, // 367 after rounding
      { from: iso(H), to: iso(H) },
      { from: iso(H + HOUR), to: iso(H) },
      { from: iso(H + 30 * 60_000), to: iso(H - 30 * 60_000) },
      { bucket: 'day', from: iso(D), to: iso(D) },
      { bucket: 'day', from: iso(D + DAY), to: iso(D) },
      { bucket: 'week' }, { bucket: 'hours' }, { bucket: 'minute' }, { bucket: '1h' },
      { from: 'yesterday' }, { to: 'now' }, { from: '2026-13-01T00:00:00Z' }, { from: '2026-11-30T25:00:00Z' },
      { from: '2026-11-30T10:00:00' }, { from: '2026-11-30' }, { from: '1700000000' }, { to: 'Mon, 30 Nov 2026 10:00:00 GMT' },
      { from: '' }, { to: '' }, { from: '', to: '' }, { bucket: 'day', from: '' },
    ];
    for (const params of refused) {
      await expectRestError(getReport(srv.server, agent, params), INVALID, 'invalid_payload', `report ${JSON.stringify(params)}:`);
    }
  });

  it('counts a session assigned once, at its first assignment, however often it goes back to the queue and is taken again', async () => {
    const tenant = uniqueId('t');
    const customer = makeUser('customer', { tenant });
    const opened = await openSession(srv.server, customer, { message: 'hi' });
    const a = await online(srv.server, 'agent', tenant);
    const firstTake = (await ok(a.socket, 'join-session', { sessionId: opened.id })).session;
    await ok(a.socket, 'transfer-session', { sessionId: opened.id });
    const b = makeUser('agent', { tenant });
    const retaken = await take(srv.server, b, opened.id);
    assert.equal(retaken.assignedAt, firstTake.assignedAt, 'assignedAt is the first');
    const body = await defaultReport(srv.server, b, {}, HOUR);
    assert.equal(total(body, 'assigned'), 1, 'assigned once');
    assert.equal(total(body, 'opened'), 1);
    const bucket = body.buckets.find((x) => x.start === iso(floorTo(Date.parse(firstTake.assignedAt), HOUR)));
    assert.equal(bucket.assigned, 1);
    assertMean(bucket.avgWaitSeconds, (Date.parse(firstTake.assignedAt) - Date.parse(opened.createdAt)) / 1000, 3, 'the first wait');
  });

  it('is for staff only: customers forbidden, no token unauthorized', async () => {
    const tenant = uniqueId('t');
    await expectRestError(getReport(srv.server, makeUser('customer', { tenant }), {}), 403, 'forbidden', 'customer:');
    await expectRestError(getReport(srv.server, makeUser('customer', { tenant }), { bucket: 'day' }), 403, 'forbidden', 'customer by day:');
    await expectRestError(getReport(srv.server, null, {}), 401, 'unauthorized', 'no token:');
    for (const role of ['agent', 'admin']) {
      const body = await defaultReport(srv.server, makeUser(role, { tenant }), {}, HOUR);
      assertReportShape(body, { bucket: 'hour', from: Date.parse(body.to) - 24 * HOUR, count: 24 });
    }
  });
});

describe('reports across a boundary (the server\'s clock shifted with libfaketime)', () => {
  it('counts a session opened at 23:59 UTC and assigned, answered, closed and rated after midnight where each happened, by hour and by day', { skip: fakeTimeSkip }, async (t) => {
    // The server's clock runs LEAD ms before the next UTC midnight when it starts.
    const LEAD = 15_000;
    const realNow = Date.now();
    const midnight = floorTo(realNow, DAY) + DAY;
    const offsetSeconds = Math.round((midnight - LEAD - realNow) / 1000);
    const offsetMs = offsetSeconds * 1000;
    const server = await spawnServerFor(t, {
      args: ARGS,
      env: { LD_PRELOAD: LIBFAKETIME, FAKETIME: `${offsetSeconds >= 0 ? '+' : ''}${offsetSeconds}s`, FAKETIME_DONT_FAKE_MONOTONIC: '1', TZ: 'UTC' },
    });
    const tenant = uniqueId('t');
    // Tokens valid on the server's clock.
    const exp = Math.floor((Date.now() + offsetMs) / 1000) + 3600;
    const customer = makeUser('customer', { tenant, name: 'Night Owl', claims: { exp } });
    const agent = makeUser('agent', { tenant, name: 'Night Shift', claims: { exp } });

    const opened = await openSession(server, customer, { message: 'still there?' });
    assert.ok(Date.parse(opened.createdAt) < midnight,
      `the session must open before midnight on the server's clock (${opened.createdAt}); the server took too long to start`);
    // Wait for the server's clock to pass midnight (polled: its own clock says when).
    await until(async () => {
      const stats = await expectStatus(api(server, agent, 'GET', '/api/chat/stats'), 200);
      return Date.parse(stats.generatedAt) >= midnight + 50;
    }, { timeout: LEAD + 30_000, every: 250, what: 'the server\'s clock past midnight' });

    const taken = await take(server, agent, opened.id);
    const reply = await sendRest(server, agent, opened.id, 'yes, here');
    await closeRest(server, customer, opened.id);
    const rated = await expectStatus(rateRest(server, customer, opened.id, { score: 3 }), 200, 'rate:');
    const [question] = await listMessages(server, agent, opened.id);
    for (const [what, value] of [['assignedAt', taken.assignedAt], ['reply', reply.createdAt], ['closedAt', rated.closedAt], ['rating', rated.rating.createdAt]]) {
      assert.ok(Date.parse(value) >= midnight && Date.parse(value) < midnight + HOUR, `${what} ${value} is in the first hour after midnight`);
    }
    const wait = (Date.parse(taken.assignedAt) - Date.parse(opened.createdAt)) / 1000;
    const response = (Date.parse(reply.createdAt) - Date.parse(question.createdAt)) / 1000;
    const before = { opened: 1, assigned: 0, closed: 0, messages: 1, avgWaitSeconds: null, avgFirstResponseSeconds: null, ratings: 0, avgRating: null };
    const after = { opened: 0, assigned: 1, closed: 1, messages: 1, ratings: 1, avgRating: 3 };
    const checkPair = (b0, b1, what) => {
      assert.deepEqual(b0, { start: b0.start, ...before }, `${what}: the bucket before midnight has the opening and its message only`);
      for (const [k, v] of Object.entries(after)) assert.equal(b1[k], v, `${what}: after midnight, ${k}: ${JSON.stringify(b1)}`);
      assertMean(b1.avgWaitSeconds, wait, 3, `${what}: the wait is in the bucket of the assignment`);
      assertMean(b1.avgFirstResponseSeconds, response, 3, `${what}: the first response is in the bucket of the answer`);
      assert.ok(b1.avgWaitSeconds > 1, 'the wait spans the boundary');
    };

    const byHour = await report(server, agent, { from: iso(midnight - HOUR), to: iso(midnight + HOUR) });
    assert.equal(byHour.from, iso(midnight - HOUR));
    assert.deepEqual(byHour.buckets.map((b) => b.start), [iso(midnight - HOUR), iso(midnight)]);
    checkPair(byHour.buckets[0], byHour.buckets[1], 'by hour');
    const byDay = await report(server, agent, { bucket: 'day', from: iso(midnight - DAY), to: iso(midnight + DAY) });
    assert.deepEqual(byDay.buckets.map((b) => b.start), [iso(midnight - DAY), iso(midnight)]);
    checkPair(byDay.buckets[0], byDay.buckets[1], 'by day');
    // The defaults follow the server's clock: the last hour is the one after midnight, the last day the new one.
    const defaults = await report(server, agent, {});
    assert.equal(defaults.to, iso(midnight + HOUR));
    assert.equal(defaults.buckets.length, 24);
    checkPair(defaults.buckets[22], defaults.buckets[23], 'default hours');
    const defaultDays = await report(server, agent, { bucket: 'day' });
    assert.equal(defaultDays.to, iso(midnight + DAY));
    checkPair(defaultDays.buckets[28], defaultDays.buckets[29], 'default days');
  });
});
