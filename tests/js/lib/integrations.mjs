// Helpers of the integrations tests (docs/protocol.md §10; the server's decisions in
// /work/briefs/integrations-decisions.md), shared by test/integrations*.test.mjs:
// API keys, the server API called with a key, webhooks and their deliveries,
// and the shapes of what the admin API and the deliveries carry.

import assert from 'node:assert/strict';
import { api, assertMessage, assertNote, assertSession, expectStatus, RFC3339_MS_UTC } from './rest.mjs';

export const ALL_EVENTS = ['session.created', 'session.updated', 'session.closed', 'message.created', 'note.created'];

/** A server that may deliver to a receiver on 127.0.0.1, retrying after 1 s, 1 s, 1 s (4 attempts in all). */
export const DELIVERING_ENV = {
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
  WEBHOOK_RETRY_SCHEDULE: '1,1,1',
};
export const ATTEMPTS = 4;

export const KEY_FORMAT = /^sbk_[A-Za-z0-9_-]{43,}$/;
export const SECRET_FORMAT = /^whsec_[A-Za-z0-9+/]{43}=$/;

// ---------------------------------------------------------------- API keys

export async function createKey(server, admin, name = 'backend') {
  const created = await expectStatus(api(server, admin, 'POST', '/api/api-keys', { body: { name } }), 201, 'POST /api/api-keys:');
  assert.deepEqual(Object.keys(created).sort(), ['createdAt', 'id', 'key', 'name'], `created key: ${JSON.stringify(created)}`);
  assert.match(created.key, KEY_FORMAT, 'the key is sbk_ then base64url of at least 32 bytes');
  assert.equal(created.name, name);
  assert.match(created.createdAt, RFC3339_MS_UTC);
  return created;
}

export async function listKeys(server, admin) {
  const body = await expectStatus(api(server, admin, 'GET', '/api/api-keys'), 200, 'GET /api/api-keys:');
  assert.deepEqual(Object.keys(body), ['items'], `GET /api/api-keys: { items }: ${JSON.stringify(body)}`);
  for (const item of body.items) {
    assert.deepEqual(Object.keys(item).sort(), ['createdAt', 'id', 'lastUsedAt', 'name'], `a listed key never shows the key: ${JSON.stringify(item)}`);
    assert.ok(item.lastUsedAt === null || RFC3339_MS_UTC.test(item.lastUsedAt) || !Number.isNaN(Date.parse(item.lastUsedAt)),
      `lastUsedAt: ${item.lastUsedAt}`);
  }
  return body.items;
}

export const revokeKey = (server, admin, id) => expectStatus(api(server, admin, 'DELETE', `/api/api-keys/${id}`), 204, 'DELETE /api/api-keys:');

// ---------------------------------------------------------------- the server API (a key, never a JWT)

export const publishRaw = (server, key, body) => api(server, key, 'POST', '/api/server/publish', { body });
export const publish = (server, key, body) => expectStatus(publishRaw(server, key, body), 202, `publish ${JSON.stringify(body).slice(0, 200)}:`);

export const serverSessionRaw = (server, key, body) => api(server, key, 'POST', '/api/server/sessions', { body });
export async function serverSession(server, key, body) {
  const session = await expectStatus(serverSessionRaw(server, key, body), [200, 201], 'POST /api/server/sessions:');
  assertSession(session);
  return session;
}

export const serverMessageRaw = (server, key, sessionId, body) => api(server, key, 'POST', `/api/server/sessions/${sessionId}/messages`, { body });
export async function serverMessage(server, key, sessionId, body) {
  const message = await expectStatus(serverMessageRaw(server, key, sessionId, body), 201, `POST /api/server/sessions/…/messages ${JSON.stringify(body).slice(0, 120)}:`);
  assertMessage(message, { sessionId });
  return message;
}

/**
 * Uploads `bytes` as the `file` part to a session with a key, as `from`
 * ('customer' | 'bot', optionally `senderName`): { status, body, text }.
 */
export async function serverUploadRaw(server, key, sessionId, bytes, name, { from, senderName } = {}) {
  const form = new FormData();
  form.append('file', new Blob([bytes]), name);
  const query = new URLSearchParams();
  if (from !== undefined) query.set('from', from);
  if (senderName !== undefined) query.set('senderName', senderName);
  const res = await fetch(`${server.url}/api/server/sessions/${sessionId}/attachments?${query}`, {
    method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form,
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = undefined; }
  return { status: res.status, body, text, headers: res.headers };
}

// ---------------------------------------------------------------- webhooks

export const registerWebhookRaw = (server, admin, body) => api(server, admin, 'POST', '/api/webhooks', { body });

/** Registers `url` for `events`; checks the answer (the secret shown once) and returns it. */
export async function registerWebhook(server, admin, url, events = ALL_EVENTS, description) {
  const body = { url, events, ...(description === undefined ? {} : { description }) };
  const created = await expectStatus(registerWebhookRaw(server, admin, body), 201, `POST /api/webhooks ${url}:`);
  assert.deepEqual(Object.keys(created).sort(), ['createdAt', 'description', 'events', 'id', 'secret', 'url'], `created webhook: ${JSON.stringify(created)}`);
  assert.match(created.secret, SECRET_FORMAT, 'the secret is whsec_ then base64 of 32 bytes');
  assert.equal(created.url, url);
  assert.deepEqual([...created.events].sort(), [...events].sort());
  assert.equal(created.description, description ?? null);
  return created;
}

/** Registers a webhook for `rx` (a lib/webhooks.mjs receiver) and gives the receiver its secret. */
export async function hookReceiver(server, admin, rx, events = ALL_EVENTS, description) {
  const hook = await registerWebhook(server, admin, rx.url, events, description);
  rx.secret = hook.secret;
  return hook;
}

export async function listWebhooks(server, admin) {
  const body = await expectStatus(api(server, admin, 'GET', '/api/webhooks'), 200, 'GET /api/webhooks:');
  assert.deepEqual(Object.keys(body), ['items'], `GET /api/webhooks: { items }: ${JSON.stringify(body)}`);
  for (const item of body.items) {
    assert.deepEqual(Object.keys(item).sort(), ['createdAt', 'description', 'events', 'id', 'url'], `a listed webhook never shows its secret: ${JSON.stringify(item)}`);
  }
  return body.items;
}

export async function deliveries(server, admin, webhookId, limit) {
  const query = limit === undefined ? '' : `?limit=${limit}`;
  const body = await expectStatus(api(server, admin, 'GET', `/api/webhooks/${webhookId}/deliveries${query}`), 200, 'GET deliveries:');
  assert.deepEqual(Object.keys(body), ['items'], `GET deliveries: { items }: ${JSON.stringify(body).slice(0, 500)}`);
  for (const d of body.items) assertDelivery(d);
  return body.items;
}

export const retryDeliveryRaw = (server, admin, webhookId, deliveryId) =>
  api(server, admin, 'POST', `/api/webhooks/${webhookId}/deliveries/${deliveryId}/retry`, { body: {} });

const DELIVERY_KEYS = ['attempts', 'createdAt', 'deliveredAt', 'eventId', 'id', 'lastError', 'lastStatusCode', 'nextAttemptAt', 'status', 'type'];
const isTime = (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)) && /Z$|[+-]\d\d:\d\d$/.test(v);

/** Delivery = { id, eventId, type, status, attempts, lastStatusCode, lastError, nextAttemptAt, createdAt, deliveredAt }. */
export function assertDelivery(d, expected = {}) {
  const what = `Delivery ${JSON.stringify(d)}`;
  assert.deepEqual(Object.keys(d ?? {}).sort(), DELIVERY_KEYS, `${what}: fields`);
  assert.equal(typeof d.id, 'string', `${what}: id`);
  assert.equal(typeof d.eventId, 'string', `${what}: eventId`);
  assert.ok(ALL_EVENTS.includes(d.type), `${what}: type`);
  assert.ok(['pending', 'delivered', 'failed'].includes(d.status), `${what}: status`);
  assert.ok(Number.isInteger(d.attempts) && d.attempts >= 0, `${what}: attempts`);
  assert.ok(d.lastStatusCode === null || Number.isInteger(d.lastStatusCode), `${what}: lastStatusCode`);
  assert.ok(d.lastError === null || typeof d.lastError === 'string', `${what}: lastError`);
  assert.ok(isTime(d.createdAt), `${what}: createdAt`);
  for (const key of ['nextAttemptAt', 'deliveredAt']) assert.ok(d[key] === null || isTime(d[key]), `${what}: ${key}`);
  if (d.status === 'delivered') {
    assert.ok(d.deliveredAt !== null, `${what}: a delivered one has deliveredAt`);
    assert.ok(d.attempts >= 1, `${what}: a delivered one was attempted`);
  } else {
    assert.equal(d.deliveredAt, null, `${what}: deliveredAt only once delivered`);
  }
  for (const [key, value] of Object.entries(expected)) assert.deepEqual(d[key], value, `${what}: ${key}`);
  return d;
}

/** Polls the deliveries list until one with eventId `eventId` passes `check`; resolves with it. */
export async function deliveryOf(server, admin, webhookId, eventId, check = () => true, { timeout = 10_000 } = {}) {
  const { until } = await import('./clients.mjs');
  return until(async () => {
    const d = (await deliveries(server, admin, webhookId, 200)).find((x) => x.eventId === eventId);
    return d && check(d) && d;
  }, { timeout, what: `delivery of ${eventId} on webhook ${webhookId}` });
}

/**
 * Checks a verified attempt's body { type, timestamp, tenant, data: { session, message?, note? } }
 * and its headers; `expected` holds { type, tenant, sessionId }.
 */
export function assertWebhookBody(attempt, { type, tenant, sessionId } = {}) {
  const what = `webhook ${attempt.id} ${attempt.raw.slice(0, 600)}`;
  assert.ok(attempt.verified, `${what}: verified by standardwebhooks (${attempt.verifyError})`);
  const body = attempt.body;
  assert.deepEqual(Object.keys(body).sort(), ['data', 'tenant', 'timestamp', 'type'], `${what}: body fields`);
  if (type) assert.equal(body.type, type, `${what}: type`);
  if (tenant) assert.equal(body.tenant, tenant, `${what}: tenant`);
  assert.match(body.timestamp, RFC3339_MS_UTC, `${what}: timestamp`);
  assert.match(attempt.id, /^evt_[0-9a-f]{32}$|^evt_[0-9a-f-]{36}$|^evt_[A-Za-z0-9_-]+$/, `${what}: webhook-id`);
  assert.match(attempt.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/, `${what}: webhook-signature v1,<base64>`);
  assert.match(attempt.headers['webhook-timestamp'], /^\d{10}$/, `${what}: webhook-timestamp in Unix seconds`);
  assert.ok(Math.abs(Number(attempt.headers['webhook-timestamp']) - attempt.receivedAt / 1000) < 30, `${what}: webhook-timestamp is this attempt's`);
  assert.match(attempt.headers['content-type'] ?? '', /^application\/json/, `${what}: content-type`);
  // session.closed also carries closedBy and reason, as the session-closed socket event (docs/protocol.md §10).
  const expectedData = ['session', ...(body.type === 'message.created' ? ['message'] : []), ...(body.type === 'note.created' ? ['note'] : []),
    ...(body.type === 'session.closed' ? ['closedBy', 'reason'] : [])];
  assert.deepEqual(Object.keys(body.data).sort(), expectedData.sort(), `${what}: data fields for ${body.type}`);
  assertSession(body.data.session);
  if (sessionId) assert.equal(body.data.session.id, sessionId, `${what}: data.session.id`);
  if (body.data.message) {
    assertMessage(body.data.message, { sessionId: body.data.session.id });
  }
  if (body.data.note) assertNote(body.data.note, { sessionId: body.data.session.id });
  if (body.type === 'session.closed') {
    assert.deepEqual(body.data.closedBy, body.data.session.closedBy, `${what}: closedBy is the session's`);
    assert.ok(body.data.reason === null || typeof body.data.reason === 'string', `${what}: reason`);
  }
  return body;
}
