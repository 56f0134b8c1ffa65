// The REST side of docs/protocol.md §6, through Node's fetch, plus the shape checks
// (Session, Message, Stats, errors; v1.3: Rating, Note, CannedResponse) shared by every test file.

import assert from 'node:assert/strict';
import { VALIDATE_OPENAPI, checkResponse } from './openapi.mjs';

/**
 * Calls the REST API. `user` is a makeUser() result, a raw token string, or null
 * (no Authorization header). Resolves with { status, body, text, headers }.
 * options: { body, headers, rawBody, openapi }
 *
 * Every answer is checked against the server's OpenAPI document (lib/openapi.mjs: the path,
 * method and status are documented, a JSON body matches its schema) unless VALIDATE_OPENAPI=0
 * or `openapi: false` (for a request meant to be outside the API).
 */
export async function api(server, user, method, path, options = {}) {
  const headers = { ...(options.headers ?? {}) };
  const token = typeof user === 'string' ? user : user?.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body;
  if (options.rawBody !== undefined) {
    body = options.rawBody;
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${server.url}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
  const res = { status: response.status, body: parsed, text, headers: response.headers };
  if (VALIDATE_OPENAPI && options.openapi !== false) await checkResponse(server, method, path, res);
  return res;
}

/** Asserts the status (one or a list) and returns the body. */
export async function expectStatus(promise, status, context = '') {
  const res = await promise;
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(statuses.includes(res.status),
    `${context} expected HTTP ${statuses.join('|')}, got ${res.status}: ${res.text.slice(0, 500)}`);
  return res.body;
}

/** Asserts an error response: status, and body { error: { code, message } }. */
export async function expectRestError(promise, status, code, context = '') {
  const res = await promise;
  const statuses = Array.isArray(status) ? status : [status];
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(statuses.includes(res.status),
    `${context} expected HTTP ${statuses.join('|')} (${codes.join('|')}), got ${res.status}: ${res.text.slice(0, 500)}`);
  assert.equal(typeof res.body?.error, 'object', `${context} error body should be { error: { code, message } }: ${res.text.slice(0, 500)}`);
  assert.ok(codes.includes(res.body.error.code), `${context} expected code ${codes.join('|')}, got ${JSON.stringify(res.body.error)}`);
  assert.equal(typeof res.body.error.message, 'string', `${context} error.message should be a string`);
  return res.body.error;
}

/** Opens (or gets) the customer's session through REST; resolves with the Session. */
export async function openSession(server, customer, { subject, message } = {}) {
  const body = {};
  if (subject !== undefined) body.subject = subject;
  if (message !== undefined) body.message = message;
  return expectStatus(api(server, customer, 'POST', '/api/chat/sessions', { body }), [200, 201], 'open session:');
}

/** All messages of a session, oldest first, following the `before` cursors. */
export async function listMessages(server, user, sessionId) {
  const pages = [];
  let before = null;
  for (let i = 0; i < 100; i += 1) {
    const query = `?limit=200${before ? `&before=${encodeURIComponent(before)}` : ''}`;
    const page = await expectStatus(api(server, user, 'GET', `/api/chat/sessions/${sessionId}/messages${query}`), 200, 'list messages:');
    pages.unshift(page.items);
    if (!page.nextCursor) break;
    before = page.nextCursor;
  }
  return pages.flat();
}

export async function getSession(server, user, sessionId) {
  return expectStatus(api(server, user, 'GET', `/api/chat/sessions/${sessionId}`), 200, 'get session:');
}

// ---------------------------------------------------------------- shapes

export const RFC3339_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function assertTimestamp(value, what = 'timestamp') {
  assert.equal(typeof value, 'string', `${what} should be a string, got ${JSON.stringify(value)}`);
  assert.match(value, RFC3339_MS_UTC, `${what} should be RFC 3339 UTC with milliseconds`);
  assert.ok(Math.abs(Date.parse(value) - Date.now()) < 10 * 60_000, `${what} ${value} is not close to now`);
}

export function assertUserRef(value, expected, what = 'UserRef') {
  assert.deepEqual(Object.keys(value ?? {}).sort(), ['id', 'name', 'role'], `${what} should be { id, role, name }: ${JSON.stringify(value)}`);
  if (expected) assert.deepEqual(value, expected, `${what}`);
}

const SESSION_KEYS = ['agent', 'assignedAt', 'closedAt', 'closedBy', 'createdAt', 'customer', 'id', 'lastMessageAt',
  'queue', 'rating', 'status', 'subject', 'unreadCount'].sort();

/** Checks every field of a Session; `expected` holds the values that must match exactly. */
export function assertSession(session, expected = {}) {
  assert.deepEqual(Object.keys(session ?? {}).sort(), SESSION_KEYS, `Session fields: ${JSON.stringify(session)}`);
  assert.match(session.id, UUID_V7, 'session.id should be a UUID v7');
  assert.ok(['pending', 'active', 'closed'].includes(session.status));
  assert.ok(session.subject === null || typeof session.subject === 'string');
  assertUserRef(session.customer, undefined, 'session.customer');
  if (session.agent !== null) assertUserRef(session.agent, undefined, 'session.agent');
  if (session.closedBy !== null) assertUserRef(session.closedBy, undefined, 'session.closedBy');
  assertTimestamp(session.createdAt, 'session.createdAt');
  for (const key of ['assignedAt', 'closedAt', 'lastMessageAt']) {
    if (session[key] !== null) assertTimestamp(session[key], `session.${key}`);
  }
  assert.ok(Number.isInteger(session.unreadCount) && session.unreadCount >= 0, 'session.unreadCount');
  // v1.3: the queue is there exactly while the session is pending.
  if (session.status === 'pending') {
    assert.deepEqual(Object.keys(session.queue ?? {}).sort(), ['availableAgents', 'estimatedWaitSeconds', 'position'],
      `a pending session has its queue: ${JSON.stringify(session)}`);
    assert.ok(Number.isInteger(session.queue.position) && session.queue.position >= 1, 'session.queue.position');
  } else {
    assert.equal(session.queue, null, `only a pending session has a queue: ${JSON.stringify(session)}`);
  }
  // v1.3 (§10): the customer's rating, on every Session; only a closed session has one.
  assert.ok('rating' in session, `every Session has rating (null or a Rating): ${JSON.stringify(session)}`);
  if (session.rating !== null) {
    assertRating(session.rating, undefined, 'session.rating');
    assert.equal(session.status, 'closed', `only a closed session is rated: ${JSON.stringify(session)}`);
  }
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(session[key], value, `session.${key}`);
  }
}

// ---------------------------------------------------------------- agent tools (v1.3, §10)

const RATING_KEYS = ['comment', 'createdAt', 'score'];

/** Rating = { score: 1..5, comment: string | null, createdAt }; `expected` holds exact values. */
export function assertRating(rating, expected = {}, what = 'Rating') {
  assert.deepEqual(Object.keys(rating ?? {}).sort(), RATING_KEYS, `${what} should be { score, comment, createdAt }: ${JSON.stringify(rating)}`);
  assert.ok(Number.isInteger(rating.score) && rating.score >= 1 && rating.score <= 5, `${what}.score should be an integer 1..5: ${rating.score}`);
  assert.ok(rating.comment === null || (typeof rating.comment === 'string' && rating.comment.length > 0),
    `${what}.comment should be null or a non-empty string: ${JSON.stringify(rating.comment)}`);
  assertTimestamp(rating.createdAt, `${what}.createdAt`);
  for (const [key, value] of Object.entries(expected ?? {})) {
    assert.deepEqual(rating[key], value, `${what}.${key}`);
  }
}

const NOTE_KEYS = ['author', 'content', 'createdAt', 'id', 'sessionId'];

/** Note = { id, sessionId, author: UserRef, content, createdAt } (no seq: a note is not a message). */
export function assertNote(note, expected = {}) {
  assert.deepEqual(Object.keys(note ?? {}).sort(), NOTE_KEYS, `Note fields: ${JSON.stringify(note)}`);
  assert.match(note.id, UUID_V7, 'note.id should be a UUID v7');
  assert.equal(typeof note.sessionId, 'string');
  assertUserRef(note.author, undefined, 'note.author');
  assert.ok(['agent', 'admin'].includes(note.author.role), `a note's author is staff: ${JSON.stringify(note.author)}`);
  assert.equal(typeof note.content, 'string');
  assert.ok(note.content.length > 0, 'note.content is not empty');
  assertTimestamp(note.createdAt, 'note.createdAt');
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(note[key], value, `note.${key}`);
  }
}

const CANNED_KEYS = ['content', 'id', 'shortcut', 'title', 'updatedAt'];

/** CannedResponse = { id, shortcut, title: string | null, content, updatedAt }. */
export function assertCannedResponse(canned, expected = {}) {
  assert.deepEqual(Object.keys(canned ?? {}).sort(), CANNED_KEYS, `CannedResponse fields: ${JSON.stringify(canned)}`);
  assert.match(canned.id, UUID_V7, 'cannedResponse.id should be a UUID v7');
  assert.match(canned.shortcut, /^[a-z0-9_-]{1,32}$/, 'cannedResponse.shortcut');
  assert.ok(canned.title === null || (typeof canned.title === 'string' && canned.title.length > 0),
    `cannedResponse.title should be null or a non-empty string: ${JSON.stringify(canned.title)}`);
  assert.equal(typeof canned.content, 'string');
  assert.ok(canned.content.length > 0, 'cannedResponse.content is not empty');
  assertTimestamp(canned.updatedAt, 'cannedResponse.updatedAt');
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(canned[key], value, `cannedResponse.${key}`);
  }
}

// v1.3: `attachments` is in every Message ([] when none).
const MESSAGE_KEYS = ['attachments', 'clientMessageId', 'content', 'createdAt', 'id', 'readAt', 'sender', 'sessionId', 'seq'].sort();

export function assertMessage(message, expected = {}) {
  assert.deepEqual(Object.keys(message ?? {}).sort(), MESSAGE_KEYS, `Message fields: ${JSON.stringify(message)}`);
  assert.match(message.id, UUID_V7, 'message.id should be a UUID v7');
  assert.ok(Number.isInteger(message.seq) && message.seq >= 1, 'message.seq');
  assertUserRef(message.sender, undefined, 'message.sender');
  assert.equal(typeof message.content, 'string');
  assert.ok(message.clientMessageId === null || typeof message.clientMessageId === 'string');
  assertTimestamp(message.createdAt, 'message.createdAt');
  if (message.readAt !== null) assertTimestamp(message.readAt, 'message.readAt');
  assert.ok(Array.isArray(message.attachments), `message.attachments should be an array: ${JSON.stringify(message)}`);
  for (const attachment of message.attachments) assertAttachment(attachment);
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(message[key], value, `message.${key}`);
  }
}

// ---------------------------------------------------------------- attachments (v1.3, §8)

export const ATTACHMENT_CONTENT_TYPES = [
  'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/zip', 'text/plain', 'text/csv',
];
export const IMAGE_CONTENT_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
const ATTACHMENT_KEYS = ['contentType', 'height', 'id', 'name', 'size', 'thumbnailUrl', 'url', 'width'];

/**
 * The signed URL of an attachment, optionally prefixed by --public-url:
 * [origin]/api/attachments/{id}[/thumbnail]?expires={unix seconds}&signature={base64url}.
 * Returns { origin, path, id, variant, expires, signature } or null.
 */
export function parseAttachmentUrl(url) {
  const m = /^((?:https?:\/\/[^/?#]+)?)(\/api\/attachments\/([^/?#]+)(\/thumbnail)?)\?expires=(\d+)&signature=([A-Za-z0-9_-]+)$/.exec(url ?? '');
  if (!m) return null;
  return { origin: m[1], path: m[2], id: m[3], variant: m[4] ? 'thumbnail' : 'file', expires: Number(m[5]), signature: m[6] };
}

/** Checks every field of an Attachment; `expected` holds the values that must match exactly. */
export function assertAttachment(attachment, expected = {}) {
  const what = `Attachment ${JSON.stringify(attachment)}`;
  assert.deepEqual(Object.keys(attachment ?? {}).sort(), ATTACHMENT_KEYS, `${what}: fields`);
  assert.match(attachment.id, UUID_V7, `${what}: id should be a UUID v7`);
  assert.equal(typeof attachment.name, 'string', `${what}: name`);
  assert.ok(attachment.name.length > 0 && [...attachment.name].length <= 255, `${what}: name of 1..255 characters`);
  assert.ok(ATTACHMENT_CONTENT_TYPES.includes(attachment.contentType), `${what}: contentType`);
  assert.ok(Number.isInteger(attachment.size) && attachment.size >= 0, `${what}: size`);
  const url = parseAttachmentUrl(attachment.url);
  assert.ok(url && url.id === attachment.id && url.variant === 'file', `${what}: url should be [origin]/api/attachments/{id}?expires=…&signature=…`);
  if (IMAGE_CONTENT_TYPES.includes(attachment.contentType)) {
    assert.ok(Number.isInteger(attachment.width) && attachment.width > 0, `${what}: an image has a width`);
    assert.ok(Number.isInteger(attachment.height) && attachment.height > 0, `${what}: an image has a height`);
    const thumb = parseAttachmentUrl(attachment.thumbnailUrl);
    assert.ok(thumb && thumb.id === attachment.id && thumb.variant === 'thumbnail' && thumb.origin === url.origin,
      `${what}: thumbnailUrl should be [origin]/api/attachments/{id}/thumbnail?expires=…&signature=…`);
  } else {
    assert.equal(attachment.width, null, `${what}: width is null but for images`);
    assert.equal(attachment.height, null, `${what}: height is null but for images`);
    assert.equal(attachment.thumbnailUrl, null, `${what}: thumbnailUrl is null but for images`);
  }
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(attachment[key], value, `${what}: ${key}`);
  }
}

const STATS_KEYS = ['activeSessions', 'availableAgents', 'avgFirstResponseSeconds', 'avgRatingToday', 'avgWaitSeconds', 'closedToday',
  'generatedAt', 'messagesToday', 'onlineAgents', 'onlineCustomers', 'pendingSessions', 'ratingsToday'].sort();

export function assertStats(stats, expected = {}) {
  assert.deepEqual(Object.keys(stats ?? {}).sort(), STATS_KEYS, `Stats fields: ${JSON.stringify(stats)}`);
  for (const key of ['pendingSessions', 'activeSessions', 'closedToday', 'messagesToday', 'onlineAgents', 'onlineCustomers',
    'availableAgents', 'ratingsToday']) {
    assert.ok(Number.isInteger(stats[key]) && stats[key] >= 0, `stats.${key} should be a count: ${stats[key]}`);
  }
  // v1.3 (§10): the mean score of today's ratings (2 decimals), null exactly when there is none.
  if (stats.ratingsToday === 0) {
    assert.equal(stats.avgRatingToday, null, `no rating today: avgRatingToday is null: ${JSON.stringify(stats)}`);
  } else {
    assert.ok(typeof stats.avgRatingToday === 'number' && stats.avgRatingToday >= 1 && stats.avgRatingToday <= 5,
      `stats.avgRatingToday should be a mean score 1..5: ${JSON.stringify(stats)}`);
    assert.equal(Math.round(stats.avgRatingToday * 100) / 100, stats.avgRatingToday, 'stats.avgRatingToday: at most 2 decimals');
  }
  for (const key of ['avgWaitSeconds', 'avgFirstResponseSeconds']) {
    assert.ok(stats[key] === null || (typeof stats[key] === 'number' && stats[key] >= 0), `stats.${key}: ${stats[key]}`);
  }
  assertTimestamp(stats.generatedAt, 'stats.generatedAt');
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(stats[key], value, `stats.${key} in ${JSON.stringify(stats)}`);
  }
}
