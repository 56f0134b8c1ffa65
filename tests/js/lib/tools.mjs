// Helpers of the agent tools tests (docs/protocol.md §10; the server's decisions in
// /work/briefs/agent-tools-decisions.md), shared by test/agent-tools.test.mjs (one node)
// and test/agent-tools-multinode.test.mjs (three): REST shortcuts for notes,
// ratings, sessions and canned responses; the checks that a customer never
// gets a note; the transcript the brief describes, built from the API's own
// data; reports' expected buckets from the timestamps of what happened.

import assert from 'node:assert/strict';
import { connect, expectNo, makeUser, received, waitFor } from './clients.mjs';
import { RFC3339_MS_UTC, api, assertCannedResponse, assertNote, assertSession, expectStatus, openSession } from './rest.mjs';

export const ws = { transports: ['websocket'] };
export const UNKNOWN_ID = '0190a0f4-1c2b-7d3e-8f40-123456789abc';
export const INVALID = [400, 422];
export const JOIN_ACK_KEYS = ['hasMore', 'messages', 'session', 'user'];
export const STAFF_JOIN_ACK_KEYS = ['hasMore', 'messages', 'notes', 'session', 'user'];

// ---------------------------------------------------------------- sessions, notes, ratings

/** A user of `tenant` connected over websocket; `connected` consumed. */
export async function online(server, role, tenant, user = makeUser(role, { tenant })) {
  const socket = await connect(server, user.token, ws);
  await waitFor(socket, 'connected');
  return { user, socket };
}

/** A staff user online with the stats snapshot consumed and returned. */
export async function staffOnline(server, role, tenant, user = makeUser(role, { tenant })) {
  const o = await online(server, role, tenant, user);
  o.snapshot = await waitFor(o.socket, 'stats-update');
  return o;
}

export const take = (server, agent, id) => expectStatus(api(server, agent, 'POST', `/api/chat/sessions/${id}/assign`, { body: {} }), 200, 'take:');
export const closeRest = (server, user, id) => expectStatus(api(server, user, 'POST', `/api/chat/sessions/${id}/close`, { body: {} }), 200, 'close:');
export const sendRest = (server, user, id, content, extra = {}) => expectStatus(
  api(server, user, 'POST', `/api/chat/sessions/${id}/messages`, { body: { content, ...extra } }), 201, `send ${JSON.stringify(content).slice(0, 80)}:`);
export const addNoteRest = (server, user, id, content) => api(server, user, 'POST', `/api/chat/sessions/${id}/notes`, { body: { content } });
export const noteRest = (server, user, id, content) => expectStatus(addNoteRest(server, user, id, content), 201, 'POST notes:');
export const rateRest = (server, user, id, body) => api(server, user, 'POST', `/api/chat/sessions/${id}/rating`, { body });
export const patchSettings = (server, admin, body) => expectStatus(api(server, admin, 'PATCH', '/api/settings', { body }), 200, `PATCH /api/settings ${JSON.stringify(body)}:`);

export async function notesOf(server, staff, id) {
  const body = await expectStatus(api(server, staff, 'GET', `/api/chat/sessions/${id}/notes`), 200, 'GET notes:');
  assert.deepEqual(Object.keys(body ?? {}), ['items'], `GET notes: { items }: ${JSON.stringify(body)}`);
  for (const note of body.items) assertNote(note, { sessionId: id });
  return body.items;
}

/** A customer's session an agent took (REST) and closed; the customer did not rate it. */
export async function closedSession(server, tenant, { customer, agent, subject, message = 'hello' } = {}) {
  customer ??= makeUser('customer', { tenant });
  agent ??= makeUser('agent', { tenant });
  const opened = await openSession(server, customer, { subject, message });
  await take(server, agent, opened.id);
  const session = await closeRest(server, agent, opened.id);
  assertSession(session, { status: 'closed', rating: null });
  return { customer, agent, session };
}

/**
 * Asserts that nothing a customer's socket received, ever, carries a note:
 * no `note-added`, and no payload holding a note's id or content.
 */
export function assertNoNoteReached(socket, notes, who = 'customer socket') {
  for (const entry of socket.received) {
    assert.notEqual(entry.event, 'note-added', `${who} got note-added: ${JSON.stringify(entry.payload)}`);
    const text = JSON.stringify(entry.args);
    for (const note of notes) {
      assert.ok(!text.includes(note.content), `${who} got a note's content in "${entry.event}": ${text.slice(0, 500)}`);
      assert.ok(!text.includes(note.id), `${who} got a note's id in "${entry.event}": ${text.slice(0, 500)}`);
    }
  }
}

/** Asserts that `value` (an ack, a REST body, a text) mentions none of `notes`. */
export function assertNoNoteIn(value, notes, what) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  for (const note of notes) {
    assert.ok(!text.includes(note.content), `${what} holds a note's content: ${text.slice(0, 500)}`);
    assert.ok(!text.includes(note.id), `${what} holds a note's id: ${text.slice(0, 500)}`);
  }
}

/** The `note-added` events with `id` that `socket` received so far. */
export const noteAddedOf = (socket, id) => received(socket, 'note-added').filter((n) => n?.id === id);

/** Waits for the one note-added of `note` on `socket`, checks it is the Note, and that no second one follows. */
export async function expectNoteAddedOnce(socket, note, who) {
  const got = await waitFor(socket, 'note-added', { filter: (n) => n?.id === note.id });
  assert.deepEqual(got, note, `${who}: note-added carries the Note`);
  await expectNo(socket, 'note-added', 0, { filter: (n) => n?.id === note.id });
}

export const range = (n, from = 1) => Array.from({ length: n }, (_, i) => i + from);
export const chars = (s) => [...s].length;

// ---------------------------------------------------------------- canned responses
export const CANNED = '/api/canned-responses';
export const cannedPath = (id) => `${CANNED}/${encodeURIComponent(id)}`;

export async function cannedList(server, user) {
  const body = await expectStatus(api(server, user, 'GET', CANNED), 200, 'GET canned responses:');
  assert.deepEqual(Object.keys(body ?? {}), ['items'], `GET canned responses: { items }: ${JSON.stringify(body)}`);
  for (const item of body.items) assertCannedResponse(item);
  return body.items;
}
export const createCanned = (server, admin, body) => expectStatus(api(server, admin, 'POST', CANNED, { body }), 201, `create ${JSON.stringify(body).slice(0, 80)}:`);
export const patchCanned = (server, admin, id, body) => expectStatus(api(server, admin, 'PATCH', cannedPath(id), { body }), 200, `PATCH ${JSON.stringify(body).slice(0, 80)}:`);

// ---------------------------------------------------------------- transcripts
/** `YYYY-MM-DD HH:MM:SS UTC` of an RFC 3339 UTC time (seconds precision). */
export const utc = (iso) => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
export const nameOf = (ref) => ref.name ?? ref.id;
export const ENTRY_START = /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC\] /;

/** GET …/transcript: { status, headers, bytes, text, body }. */
export async function getTranscript(server, user, sessionId) {
  const headers = user ? { authorization: `Bearer ${user.token}` } : {};
  const res = await fetch(`${server.url}/api/chat/sessions/${sessionId}/transcript`, { headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString('utf8');
  let body;
  try { body = JSON.parse(text); } catch { body = undefined; }
  return { status: res.status, headers: res.headers, bytes, text, body };
}

/** A 200 transcript with the exact headers, in valid UTF-8; resolves with its text. */
export async function transcriptOk(server, user, sessionId) {
  const res = await getTranscript(server, user, sessionId);
  assert.equal(res.status, 200, `transcript: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(res.headers.get('content-disposition'), `attachment; filename="session-${sessionId}.txt"`);
  assert.ok(Buffer.from(res.text, 'utf8').equals(res.bytes), 'the transcript is valid UTF-8');
  assertTranscriptLines(res.text);
  return res.text;
}

/** Six `Key: value` lines, a blank line, then entries: every line starting with `[` starts one, every other is indented. */
export function assertTranscriptLines(text) {
  assert.ok(text.endsWith('\n'), 'every line ends with \\n');
  const lines = text.slice(0, -1).split('\n');
  assert.deepEqual(lines.slice(0, 6).map((l) => l.split(': ')[0]), ['Subject', 'Customer', 'Agent', 'Opened', 'Closed', 'Rating'], text.slice(0, 400));
  assert.equal(lines[6], '', 'a blank line after the header');
  for (const line of lines.slice(7)) {
    assert.ok(ENTRY_START.test(line) || (line.startsWith('    ') && !line.startsWith('[')), `a line that is neither an entry nor indented: ${JSON.stringify(line)}`);
  }
}

/** The header block of a Session (its lines and the blank line). */
export function header(session) {
  const rating = session.rating
    ? `${session.rating.score}/5${session.rating.comment === null ? '' : ` "${session.rating.comment}"`}`
    : '-';
  return [
    `Subject: ${session.subject ?? '-'}`,
    `Customer: ${nameOf(session.customer)}`,
    `Agent: ${session.agent ? nameOf(session.agent) : '-'}`,
    `Opened: ${utc(session.createdAt)}`,
    `Closed: ${session.closedAt ? utc(session.closedAt) : '-'}`,
    `Rating: ${rating}`,
    '',
  ].map((l) => `${l}\n`).join('');
}

export const indented = (rest) => rest.map((l) => `\n    ${l}`).join('');

/** A message's entry: first line, continuation lines indented, then one line per attachment. */
export function messageEntry(m) {
  const [first, ...rest] = m.content.split('\n');
  const files_ = m.attachments.map((a) => `\n    [attachment: ${a.name}, ${a.size} bytes]`).join('');
  return { at: Date.parse(m.createdAt), kind: 0, order: m.seq, text: `[${utc(m.createdAt)}] ${nameOf(m.sender)} (${m.sender.role}): ${first}${indented(rest)}${files_}\n` };
}

export function noteEntry(n, i) {
  const [first, ...rest] = n.content.split('\n');
  return { at: Date.parse(n.createdAt), kind: 1, order: i, text: `[${utc(n.createdAt)}] [note] ${nameOf(n.author)}: ${first}${indented(rest)}\n` };
}

/**
 * The transcript the brief describes for `session`, `messages` (all, by seq)
 * and, for staff, `notes`: entries by time, a message before a note of the same millisecond.
 */
export function expectedTranscript(session, messages, notes = []) {
  const entries = [...messages.map(messageEntry), ...notes.map(noteEntry)]
    .sort((a, b) => a.at - b.at || a.kind - b.kind || a.order - b.order);
  return header(session) + entries.map((e) => e.text).join('');
}

export async function uploadAs(server, user, sessionId, bytes, name) {
  const form = new FormData();
  form.append('file', new Blob([bytes]), name);
  const res = await fetch(`${server.url}/api/chat/sessions/${sessionId}/attachments`, {
    method: 'POST', headers: { authorization: `Bearer ${user.token}` }, body: form,
  });
  const text = await res.text();
  assert.equal(res.status, 201, `upload of ${name}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

// ---------------------------------------------------------------- reports
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const SIZE = { hour: HOUR, day: DAY };
export const floorTo = (ms, size) => Math.floor(ms / size) * size;
export const iso = (ms) => new Date(ms).toISOString();
/** The same instant written with a UTC offset of `minutes` (e.g. 120 -> +02:00). */
export function withOffset(ms, minutes) {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${new Date(ms + minutes * 60_000).toISOString().slice(0, 23)}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
export const REPORT_KEYS = ['bucket', 'buckets', 'from', 'to'];
export const BUCKET_KEYS = ['assigned', 'avgFirstResponseSeconds', 'avgRating', 'avgWaitSeconds', 'closed', 'messages', 'opened', 'ratings', 'start'];
export const COUNTS = ['opened', 'assigned', 'closed', 'messages', 'ratings'];

export function reportQuery(params = {}) {
  const q = Object.entries(params).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  return `/api/chat/reports${q ? `?${q}` : ''}`;
}
export const getReport = (server, user, params) => api(server, user, 'GET', reportQuery(params));
export async function report(server, user, params) {
  return expectStatus(getReport(server, user, params), 200, `report ${JSON.stringify(params)}:`);
}

/** The answer's shape: { bucket, from, to, buckets }, `count` buckets of `bucket` from `from` (ms), consecutive. */
export function assertReportShape(body, { bucket, from, count }) {
  const size = SIZE[bucket];
  assert.deepEqual(Object.keys(body ?? {}).sort(), REPORT_KEYS, `report fields: ${JSON.stringify(body).slice(0, 300)}`);
  assert.equal(body.bucket, bucket);
  assert.match(body.from, RFC3339_MS_UTC);
  assert.match(body.to, RFC3339_MS_UTC);
  assert.equal(body.from, iso(from), 'report.from');
  assert.equal(body.to, iso(from + count * size), 'report.to');
  assert.equal(body.buckets.length, count, 'one bucket per hour or day of the range');
  body.buckets.forEach((b, i) => {
    assert.deepEqual(Object.keys(b).sort(), BUCKET_KEYS, `bucket fields: ${JSON.stringify(b)}`);
    assert.equal(b.start, iso(from + i * size), `bucket ${i} start`);
    for (const k of COUNTS) assert.ok(Number.isInteger(b[k]) && b[k] >= 0, `bucket ${b.start}.${k}: ${b[k]}`);
  });
}

/** Every figure a report counts, from the sessions (as GET returns them) and their messages. */
export function factsOf(sessions, messages) {
  const facts = [];
  const at = (t) => Date.parse(t);
  for (const s of sessions) {
    facts.push({ kind: 'opened', at: at(s.createdAt) });
    if (s.assignedAt) facts.push({ kind: 'assigned', at: at(s.assignedAt), value: (at(s.assignedAt) - at(s.createdAt)) / 1000 });
    if (s.closedAt) facts.push({ kind: 'closed', at: at(s.closedAt) });
    if (s.rating) facts.push({ kind: 'rating', at: at(s.rating.createdAt), value: s.rating.score });
    const own = messages.filter((m) => m.sessionId === s.id).sort((a, b) => a.seq - b.seq);
    const question = own.find((m) => m.sender.role === 'customer');
    const answer = question && own.find((m) => m.seq > question.seq && ['agent', 'admin'].includes(m.sender.role));
    if (answer) facts.push({ kind: 'response', at: at(answer.createdAt), value: (at(answer.createdAt) - at(question.createdAt)) / 1000 });
  }
  for (const m of messages) facts.push({ kind: 'message', at: Date.parse(m.createdAt) });
  return facts;
}

export function expectedBucket(facts, start, size) {
  const inIt = (kind) => facts.filter((f) => f.kind === kind && f.at >= start && f.at < start + size);
  const mean = (list) => (list.length ? list.reduce((sum, f) => sum + f.value, 0) / list.length : null);
  return {
    start: iso(start),
    opened: inIt('opened').length,
    assigned: inIt('assigned').length,
    closed: inIt('closed').length,
    messages: inIt('message').length,
    avgWaitSeconds: mean(inIt('assigned')),
    avgFirstResponseSeconds: mean(inIt('response')),
    ratings: inIt('rating').length,
    avgRating: mean(inIt('rating')),
  };
}

/** A mean rounded to `decimals`: null exactly when `expected` is; else at most that many decimals, and within rounding (and sub-millisecond storage) of it. */
export function assertMean(actual, expected, decimals, what) {
  if (expected === null) {
    assert.equal(actual, null, `${what} should be null`);
    return;
  }
  assert.equal(typeof actual, 'number', `${what} should be a number: ${actual}`);
  const scale = 10 ** decimals;
  assert.ok(Math.abs(actual * scale - Math.round(actual * scale)) < 1e-6, `${what}: ${actual} has more than ${decimals} decimals`);
  const tolerance = decimals === 3 ? 0.0015 : 0.005 + 1e-9;
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} rounded to ${decimals} decimals`);
}

/** Every bucket of `body` against the facts: counts exact, means rounded. */
export function assertBuckets(body, facts) {
  const size = SIZE[body.bucket];
  body.buckets.forEach((b) => {
    const e = expectedBucket(facts, Date.parse(b.start), size);
    for (const k of COUNTS) assert.equal(b[k], e[k], `bucket ${b.start}: ${k} (got ${JSON.stringify(b)}, expected ${JSON.stringify(e)})`);
    assertMean(b.avgWaitSeconds, e.avgWaitSeconds, 3, `bucket ${b.start}: avgWaitSeconds`);
    assertMean(b.avgFirstResponseSeconds, e.avgFirstResponseSeconds, 3, `bucket ${b.start}: avgFirstResponseSeconds`);
    assertMean(b.avgRating, e.avgRating, 2, `bucket ${b.start}: avgRating`);
  });
}

/** Sum of a count over all buckets. */
export const total = (body, k) => body.buckets.reduce((sum, b) => sum + b[k], 0);
