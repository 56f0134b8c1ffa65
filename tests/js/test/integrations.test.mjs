// docs/protocol.md §10 server API and webhooks (v1.3) on one node, with the
// server's decisions where the protocol is silent
// (/work/briefs/integrations-decisions.md): API keys (shown once, listed
// without the key, revoked at once, accepted under /api/server/ only and no
// JWT there), publish (names, targets, rooms, size, tenants, a per-key rate
// limit), sessions and messages on behalf of a customer or a bot (sockets and
// webhooks see them; idempotency; the message rules), and webhooks: the
// address rules at registration, every event type delivered and verified with
// the official `standardwebhooks` library by a real receiver
// (lib/webhooks.mjs), retries on the schedule with one webhook-id, timeouts,
// failed then retried by hand, the deliveries list, a slow endpoint that
// delays nothing else, and `webhook-delivery` to the tenant's admin sockets.
//
// Each test has a tenant (and receivers) of its own, so one server serves a
// block. Runs on SQLite by default and on PostgreSQL with TEST_DATABASE_URL.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectError, drain, expectNo, makeUser, ok, uniqueId, until, waitFor } from '../lib/clients.mjs';
import { api, assertAttachment, assertMessage, assertSession, expectRestError, expectStatus, listMessages, openSession } from '../lib/rest.mjs';
import * as files from '../lib/files.mjs';
import { spawnServerFor, useServer } from '../lib/server.mjs';
import { INVALID, UNKNOWN_ID, closeRest, noteRest, online, rateRest, sendRest, take } from '../lib/tools.mjs';
import { startReceiver } from '../lib/webhooks.mjs';
import {
  ALL_EVENTS, ATTEMPTS, DELIVERING_ENV, assertDelivery, assertWebhookBody, createKey, deliveries, deliveryOf, hookReceiver,
  listKeys, listWebhooks, publish, publishRaw, registerWebhookRaw, retryDeliveryRaw, revokeKey, serverMessage,
  serverMessageRaw, serverSession, serverSessionRaw, serverUploadRaw,
} from '../lib/integrations.mjs';

const MAX_LEN = 200;
const ARGS = ['--message-max-length', String(MAX_LEN), '--send-rate-per-second', '1000', '--send-burst', '1000',
  '--event-rate-per-second', '1000', '--event-burst', '1000', '--open-rate-per-second', '1000', '--open-burst', '1000'];
// Deliveries cross a worker, HTTP and a busy 2-core machine.
const DELIVERY = { timeout: 15_000 };

/** Every event of PROTOCOL §5, plus the socket.io and webhook names a backend may not publish. */
const RESERVED_EVENTS = ['connected', 'session-joined', 'new-message', 'user-typing', 'messages-read', 'session-closed',
  'new-pending-session', 'session-updated', 'queue-update', 'agent-updated', 'service-status', 'note-added', 'stats-update',
  'exception', 'webhook-delivery', 'connect', 'disconnect', 'disconnecting', 'error', 'message', 'ping', 'pong'];

/** A receiver closed after the test, whatever happens. */
async function receiverFor(t, options) {
  const rx = await startReceiver(options);
  t.after(() => rx.close());
  return rx;
}

const ADMIN_DELIVERY = (socket, webhookId, where = () => true, opts = DELIVERY) => waitFor(socket, 'webhook-delivery', {
  ...opts, filter: (p) => p?.webhookId === webhookId && where(p.delivery),
});

// ================================================================ API keys, publish, address rules

describe('API keys and the server API', () => {
  // No WEBHOOK_ALLOW_PRIVATE_NETWORKS here: the address rules hold.
  const srv = useServer({ args: ARGS });

  it('shows a key once at creation, lists keys without it, and refuses a revoked key at once', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const created = await createKey(srv.server, admin, 'crm');
    const other = await createKey(srv.server, admin, 'whatsapp gateway');
    assert.notEqual(created.key, other.key);

    const listed = await listKeys(srv.server, admin);
    assert.deepEqual(listed.map((k) => k.id), [other.id, created.id], 'newest first');
    assert.deepEqual(listed[1], { id: created.id, name: 'crm', createdAt: created.createdAt, lastUsedAt: null });
    assert.ok(!JSON.stringify(listed).includes(created.key), 'the list never holds a key');

    await publish(srv.server, created.key, { event: 'crm.ping', to: { tenant: true } });
    await until(async () => (await listKeys(srv.server, admin)).find((k) => k.id === created.id)?.lastUsedAt,
      { what: 'lastUsedAt set after a use' });

    await revokeKey(srv.server, admin, created.id);
    await expectRestError(publishRaw(srv.server, created.key, { event: 'crm.ping', to: { tenant: true } }), 401, 'unauthorized', 'revoked key:');
    await expectRestError(serverSessionRaw(srv.server, created.key, { customerId: 'c1' }), 401, 'unauthorized', 'revoked key, sessions:');
    assert.deepEqual((await listKeys(srv.server, admin)).map((k) => k.id), [other.id]);
    await expectRestError(api(srv.server, admin, 'DELETE', `/api/api-keys/${created.id}`), 404, 'not_found', 'revoking twice:');
    // The other key is untouched.
    await publish(srv.server, other.key, { event: 'crm.ping', to: { tenant: true } });
  });

  it('lets admins only manage keys, each tenant its own', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const key = await createKey(srv.server, admin);
    for (const who of [makeUser('agent', { tenant }), makeUser('customer', { tenant })]) {
      await expectRestError(api(srv.server, who, 'POST', '/api/api-keys', { body: { name: 'x' } }), 403, 'forbidden', `${who.role} POST:`);
      await expectRestError(api(srv.server, who, 'GET', '/api/api-keys'), 403, 'forbidden', `${who.role} GET:`);
      await expectRestError(api(srv.server, who, 'DELETE', `/api/api-keys/${key.id}`), 403, 'forbidden', `${who.role} DELETE:`);
    }
    await expectRestError(api(srv.server, null, 'GET', '/api/api-keys'), 401, 'unauthorized', 'no token:');
    const outsider = makeUser('admin', { tenant: uniqueId('t') });
    assert.deepEqual(await listKeys(srv.server, outsider), [], 'another tenant lists none of them');
    await expectRestError(api(srv.server, outsider, 'DELETE', `/api/api-keys/${key.id}`), 404, 'not_found', 'another tenant revokes:');
    for (const body of [{}, { name: '' }, { name: '   ' }, { name: 42 }, { name: null }, { name: 'n'.repeat(101) }]) {
      await expectRestError(api(srv.server, admin, 'POST', '/api/api-keys', { body }), INVALID, 'invalid_payload', `POST ${JSON.stringify(body).slice(0, 60)}:`);
    }
    assert.equal((await createKey(srv.server, admin, 'k'.repeat(100))).name, 'k'.repeat(100));
    const trimmed = await expectStatus(api(srv.server, admin, 'POST', '/api/api-keys', { body: { name: '  crm  ' } }), 201, 'a padded name:');
    assert.equal(trimmed.name, 'crm');
    await publish(srv.server, key.key, { event: 'still.works', to: { tenant: true } });
  });

  it('accepts a key under /api/server/ only, and no JWT there (401 either way)', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const { key } = await createKey(srv.server, admin);
    const session = await openSession(srv.server, makeUser('customer', { tenant }), { message: 'hi' });
    // A JWT, even an admin's, on the server API.
    await expectRestError(publishRaw(srv.server, admin, { event: 'x.y', to: { tenant: true } }), 401, 'unauthorized', 'JWT on publish:');
    await expectRestError(serverSessionRaw(srv.server, admin, { customerId: 'c' }), 401, 'unauthorized', 'JWT on sessions:');
    await expectRestError(serverMessageRaw(srv.server, admin, session.id, { content: 'x', from: 'bot' }), 401, 'unauthorized', 'JWT on messages:');
    // A key anywhere else.
    for (const [method, path] of [['GET', '/api/chat/sessions'], ['GET', `/api/chat/sessions/${session.id}`], ['GET', '/api/api-keys'],
      ['GET', '/api/webhooks'], ['GET', '/api/chat/stats'], ['GET', '/api/agents']]) {
      await expectRestError(api(srv.server, key, method, path), 401, 'unauthorized', `key on ${method} ${path}:`);
    }
    await expectRestError(api(srv.server, key, 'POST', '/api/chat/sessions', { body: { message: 'as a key' } }), 401, 'unauthorized', 'key on POST /api/chat/sessions:');
    const err = await connectError(srv.server, key, { transports: ['websocket'] });
    assert.ok(err.message.startsWith('unauthorized'), `a key is no socket token: ${err.message}`);
    // No key, a malformed one, a made-up one.
    for (const bad of [null, 'sbk_', `sbk_${'A'.repeat(43)}`, key.slice(0, -2), `${key}x`, key.replace('sbk_', 'sbx_')]) {
      await expectRestError(publishRaw(srv.server, bad, { event: 'x.y', to: { tenant: true } }), 401, 'unauthorized', `key ${bad}:`);
    }
  });

  it('publishes to the tenant, its agents, one user (every tab) and one session room, and to no one else', async () => {
    const tenant = uniqueId('t');
    const otherTenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const { key } = await createKey(srv.server, admin);
    const cust = await online(srv.server, 'customer', tenant);
    const custTab2 = await online(srv.server, 'customer', tenant, cust.user);
    const bystander = await online(srv.server, 'customer', tenant);
    const agent = await online(srv.server, 'agent', tenant);
    const adm = await online(srv.server, 'admin', tenant, admin);
    // Same user id, other tenant: never the same room.
    const twin = await online(srv.server, 'customer', otherTenant, makeUser('customer', { tenant: otherTenant, sub: cust.user.sub }));
    const outsiderAgent = await online(srv.server, 'agent', otherTenant);
    const session = await openSession(srv.server, cust.user, { message: 'hi' });
    await ok(cust.socket, 'join-session', { sessionId: session.id });
    await ok(agent.socket, 'join-session', { sessionId: session.id });
    const everyone = [cust, custTab2, bystander, agent, adm, twin, outsiderAgent];

    const cases = [
      ['notify.everyone', { tenant: true }, [cust, custTab2, bystander, agent, adm]],
      ['notify.staff', { agents: true }, [agent, adm]],
      ['crm:contact.updated', { user: cust.user.sub }, [cust, custTab2]],
      ['bot-status', { session: session.id }, [cust, agent]],
    ];
    for (const [event, to, audience] of cases) {
      const data = { title: `to ${JSON.stringify(to)}`, nested: { list: [1, 'two', null, true], n: 1.5 }, unicode: 'ñ 🙂' };
      assert.deepEqual(await publish(srv.server, key, { event, data, to }), {});
      for (const who of audience) {
        assert.deepEqual(await waitFor(who.socket, event), data, `${event} to ${who.user.role} ${who.user.sub}`);
      }
      for (const who of everyone.filter((w) => !audience.includes(w))) {
        await expectNo(who.socket, event, 50);
      }
    }
    // The absence is checked once more after a while, for every socket.
    for (const [event, , audience] of cases) {
      for (const who of everyone.filter((w) => !audience.includes(w))) await expectNo(who.socket, event, 100);
    }
    // Data may be absent, or any JSON.
    await publish(srv.server, key, { event: 'no.data', to: { user: cust.user.sub } });
    const bare = await waitFor(cust.socket, 'no.data');
    assert.ok(bare === null || bare === undefined, `no data: ${JSON.stringify(bare)}`);
    for (const data of ['a string', 42, [1, 2], false]) {
      await publish(srv.server, key, { event: 'any.json', data, to: { user: cust.user.sub } });
      assert.deepEqual(await waitFor(cust.socket, 'any.json'), data);
    }
  });

  it('refuses to publish to another tenant\'s session (404 not_found) or an unknown one', async () => {
    const tenantA = uniqueId('t');
    const tenantB = uniqueId('t');
    const { key: keyA } = await createKey(srv.server, makeUser('admin', { tenant: tenantA }));
    const bCustomer = await online(srv.server, 'customer', tenantB);
    const bSession = await openSession(srv.server, bCustomer.user, { message: 'mine' });
    await ok(bCustomer.socket, 'join-session', { sessionId: bSession.id });
    await expectRestError(publishRaw(srv.server, keyA, { event: 'sneaky', data: 1, to: { session: bSession.id } }), 404, 'not_found', 'tenant A to B\'s session:');
    await expectRestError(publishRaw(srv.server, keyA, { event: 'sneaky', to: { session: UNKNOWN_ID } }), 404, 'not_found', 'unknown session:');
    // A user id of tenant B, published by A, lands in A's user room: B never sees it.
    await publish(srv.server, keyA, { event: 'sneaky', to: { user: bCustomer.user.sub } });
    await expectRestError(serverMessageRaw(srv.server, keyA, bSession.id, { content: 'hi', from: 'bot' }), 404, 'not_found', 'A posts in B\'s session:');
    await expectNo(bCustomer.socket, 'sneaky', 300);
    await expectNo(bCustomer.socket, 'new-message', 0);
  });

  it('refuses reserved and malformed event names, bad targets and data over 64 KiB (invalid_payload)', async () => {
    const tenant = uniqueId('t');
    const { key } = await createKey(srv.server, makeUser('admin', { tenant }));
    const cust = await online(srv.server, 'customer', tenant);
    const to = { tenant: true };
    const refuse = (body, what) => expectRestError(publishRaw(srv.server, key, body), INVALID, 'invalid_payload', `${what} ${JSON.stringify(body).slice(0, 120)}:`);
    for (const event of RESERVED_EVENTS) await refuse({ event, to }, 'reserved');
    for (const event of ['', 'A', 'Notify.x', '-lead', '.lead', ':lead', '_lead', 'a b', 'a/b', 'é', 'x'.repeat(65), 'a\nb', 42, null, ['x'], { n: 1 }]) {
      await refuse({ event, to }, 'bad name');
    }
    await refuse({ to }, 'no event');
    for (const target of [undefined, null, {}, 'tenant', { room: 'x' }, { session: 42 }, { user: 42 }, { tenant: 'yes' },
      { tenant: true, agents: true }, { session: '' }, { user: '' }]) {
      await refuse({ event: 'ok.name', ...(target === undefined ? {} : { to: target }) }, 'bad target');
    }
    await expectRestError(api(srv.server, key, 'POST', '/api/server/publish', { rawBody: '{"event":', headers: { 'content-type': 'application/json' } }),
      INVALID, 'invalid_payload', 'broken JSON:');
    // 64 KiB of serialised data is the limit: '"' + 65534 characters + '"' is exactly 65536 bytes.
    await publish(srv.server, key, { event: 'big.enough', data: 'x'.repeat(65_534), to });
    assert.equal((await waitFor(cust.socket, 'big.enough')).length, 65_534);
    await refuse({ event: 'too.big', data: 'x'.repeat(65_535), to }, 'data of 64 KiB + 1');
    await refuse({ event: 'too.big', data: { list: Array.from({ length: 20_000 }, (_, i) => i) }, to }, 'data over 64 KiB');
    // The longest name, every allowed character.
    const longest = `a${'b'.repeat(63)}`;
    await publish(srv.server, key, { event: longest, to });
    await publish(srv.server, key, { event: '0a.b_c:d-e', to });
    await waitFor(cust.socket, longest);
    await waitFor(cust.socket, '0a.b_c:d-e');
    await expectNo(cust.socket, 'too.big', 100);
  });

  it('limits each key on its own: 429 rate_limited past the burst, another key unaffected', async (t) => {
    const server = await spawnServerFor(t, { args: ARGS, env: { SERVER_API_RATE_PER_SECOND: '1', SERVER_API_BURST: '3' } });
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const { key } = await createKey(server, admin, 'busy');
    const { key: other } = await createKey(server, admin, 'quiet');
    const body = { event: 'tick', to: { agents: true } };
    const statuses = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await publishRaw(server, key, body)).status);
    assert.deepEqual(statuses.slice(0, 3), [202, 202, 202], `the burst passes: ${statuses}`);
    assert.ok(statuses.slice(3).every((s) => s === 429), `past the burst: 429: ${statuses}`);
    await expectRestError(publishRaw(server, key, body), 429, 'rate_limited', 'past the burst:');
    await expectRestError(serverSessionRaw(server, key, { customerId: 'c-1' }), 429, 'rate_limited', 'every server API route counts:');
    await publish(server, other, body);
    // Tokens come back with time (1 a second).
    await until(async () => (await publishRaw(server, key, body)).status === 202, { timeout: 5000, what: 'a token back after a second' });
  });

  it('refuses loopback, private, link-local and unique-local webhook URLs, by address or by name, without the flag', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const refused = [
      'http://127.0.0.1:9/hook', 'http://127.1/hook', 'http://10.0.0.1/hook', 'http://172.16.0.1/hook', 'http://192.168.1.1/hook',
      'http://169.254.169.254/latest/meta-data', 'http://[::1]/hook', 'http://[fc00::1]/hook', 'http://[fe80::1]/hook',
      'http://[::ffff:127.0.0.1]/hook', 'http://0.0.0.0/hook', 'http://localhost/hook', 'http://localhost:3001/hook',
      'http://LOCALHOST./hook', 'https://127.0.0.1/hook', 'http://[::]/hook', 'http://100.64.0.1/hook',
      // Other spellings of 127.0.0.1: decimal, hexadecimal, octal.
      'http://2130706433/hook', 'http://0x7f.1/hook', 'http://017700000001/hook',
    ];
    for (const url of refused) {
      const res = await registerWebhookRaw(srv.server, admin, { url, events: ['message.created'] });
      if (res.status === 201) {
        // Never leave it registered: nothing may ever be sent there.
        await api(srv.server, admin, 'DELETE', `/api/webhooks/${res.body.id}`);
      }
      await expectRestError(Promise.resolve(res), 400, 'invalid_payload', `POST /api/webhooks ${url}:`);
    }
    for (const url of ['ftp://example.com/hook', 'file:///etc/passwd', 'not a url', '', 'http://', 'javascript:alert(1)',
      'http://user:pass@example.com/hook', `https://example.com/${'a'.repeat(2000)}`, 42, null]) {
      await expectRestError(registerWebhookRaw(srv.server, admin, { url, events: ['message.created'] }), INVALID, 'invalid_payload', `POST /api/webhooks ${url}:`);
    }
    assert.deepEqual(await listWebhooks(srv.server, admin), [], 'nothing was registered');
  });

  it('refuses the NAT64 (64:ff9b::/96) and 6to4 (2002::/16) forms of a private or loopback address', async () => {
    const admin = makeUser('admin', { tenant: uniqueId('t') });
    for (const url of ['http://[64:ff9b::a00:1]/hook', 'http://[64:ff9b::7f00:1]/hook', 'http://[2002:a00:1::1]/hook', 'http://[2002:7f00:1::]/hook']) {
      const res = await registerWebhookRaw(srv.server, admin, { url, events: ['message.created'] });
      if (res.status === 201) await api(srv.server, admin, 'DELETE', `/api/webhooks/${res.body.id}`);
      await expectRestError(Promise.resolve(res), 400, 'invalid_payload', `POST /api/webhooks ${url}:`);
    }
  });
});

// ================================================================ on behalf of customers and bots; webhooks

describe('sessions, messages and webhooks (private networks allowed for the test receivers)', () => {
  const srv = useServer({ args: ARGS, env: { ...DELIVERING_ENV, WEBHOOK_TIMEOUT_SECONDS: '1' } });

  /** A tenant with an admin (online), an API key and a receiver hooked for `events`. */
  async function integrated(t, events = ALL_EVENTS, keyName = 'gateway') {
    const tenant = uniqueId('t');
    const admin = await online(srv.server, 'admin', tenant);
    const key = await createKey(srv.server, admin.user, keyName);
    const rx = await receiverFor(t);
    const hook = await hookReceiver(srv.server, admin.user, rx, events);
    return { tenant, admin, key, rx, hook };
  }

  it('relays a customer\'s message and posts a bot\'s, seen by the agent\'s and the customer\'s sockets and as message.created', async (t) => {
    const { tenant, key, rx } = await integrated(t, ['message.created', 'session.created']);
    const customerId = `wa-${uniqueId('34600')}`;
    const agent = await online(srv.server, 'agent', tenant);
    const opened = await serverSession(srv.server, key.key, { customerId, customerName: 'Cleo', subject: 'WhatsApp', message: 'hola' });
    assertSession(opened, { status: 'pending', subject: 'WhatsApp', customer: { id: customerId, role: 'customer', name: 'Cleo' } });
    assert.deepEqual((await waitFor(agent.socket, 'new-pending-session')).id, opened.id);
    // The customer's open session again: 200, the same one.
    const again = await expectStatus(serverSessionRaw(srv.server, key.key, { customerId, message: 'still me' }), 200, 'the open one:');
    assert.equal(again.id, opened.id);

    await take(srv.server, agent.user, opened.id);
    await ok(agent.socket, 'join-session', { sessionId: opened.id });
    const customer = await online(srv.server, 'customer', tenant, makeUser('customer', { tenant, sub: customerId, name: 'Cleo' }));
    await ok(customer.socket, 'join-session', { sessionId: opened.id });

    const relayed = await serverMessage(srv.server, key.key, opened.id, { content: '  ¿tenéis envío a Canarias?  ', from: 'customer' });
    assertMessage(relayed, { content: '¿tenéis envío a Canarias?', sender: { id: customerId, role: 'customer', name: 'Cleo' }, clientMessageId: null });
    const bot = await serverMessage(srv.server, key.key, opened.id, { content: 'An agent will answer shortly.', from: 'bot' });
    assertMessage(bot, { sender: { id: `bot:${key.id}`, role: 'bot', name: 'gateway' } });
    const named = await serverMessage(srv.server, key.key, opened.id, { content: 'Order #12 shipped.', from: 'bot', senderName: 'Order bot' });
    assertMessage(named, { sender: { id: `bot:${key.id}`, role: 'bot', name: 'Order bot' } });
    assert.deepEqual([relayed.seq, bot.seq, named.seq], [relayed.seq, relayed.seq + 1, relayed.seq + 2]);

    for (const socket of [agent.socket, customer.socket]) {
      for (const message of [relayed, bot, named]) {
        assert.deepEqual(await waitFor(socket, 'new-message', { filter: (m) => m.id === message.id }), message);
      }
    }
    const reply = await ok(agent.socket, 'send-message', { sessionId: opened.id, content: 'Sí, en 48 h.' });
    assert.deepEqual(await waitFor(customer.socket, 'new-message', { filter: (m) => m.id === reply.id }), reply);

    // Webhooks: the session, then 'hola' ('still me' went into the open session too), the relayed, the bots, the agent's reply.
    const stored = await listMessages(srv.server, agent.user, opened.id);
    assert.equal(stored.length, 6, `stored: ${JSON.stringify(stored.map((m) => m.content))}`);
    const events = await rx.waitForEvents(6, { type: 'message.created' }, DELIVERY);
    const byMessage = new Map(events.map((e) => [assertWebhookBody(e, { type: 'message.created', tenant, sessionId: opened.id }).data.message.id, e]));
    for (const message of stored) {
      assert.ok(byMessage.has(message.id), `message.created for ${message.content}`);
      const sent = byMessage.get(message.id).body.data.message;
      assert.deepEqual({ ...sent, readAt: null }, { ...message, readAt: null }, `message.created of ${message.content} carries the Message`);
    }
    const created = await rx.waitForEvent({ type: 'session.created' }, DELIVERY);
    assertWebhookBody(created, { type: 'session.created', tenant, sessionId: opened.id });
    assert.deepEqual(created.body.data.session.customer, { id: customerId, role: 'customer', name: 'Cleo' });
    assert.deepEqual(rx.unverified(), []);
  });

  it('relays a customer\'s photo and a bot\'s document: uploaded and sent with the key, seen by sockets and webhooks with links that work', async (t) => {
    const { tenant, key, rx } = await integrated(t, ['message.created']);
    const session = await serverSession(srv.server, key.key, { customerId: uniqueId('wa') });
    const agent = await online(srv.server, 'agent', tenant);
    await ok(agent.socket, 'join-session', { sessionId: session.id });
    const photo = files.png(64, 48);
    const uploaded = await serverUploadRaw(srv.server, key.key, session.id, photo, 'photo.png', { from: 'customer' });
    assert.equal(uploaded.status, 201, `customer upload: ${uploaded.text}`);
    assertAttachment(uploaded.body, { name: 'photo.png', contentType: 'image/png', width: 64, height: 48, size: photo.length });
    const withPhoto = await serverMessage(srv.server, key.key, session.id, { from: 'customer', attachments: [uploaded.body.id] });
    assertMessage(withPhoto, { content: '', sender: session.customer });
    assert.deepEqual(withPhoto.attachments.map((a) => a.id), [uploaded.body.id]);

    const invoice = files.pdf();
    const doc = await serverUploadRaw(srv.server, key.key, session.id, invoice, 'invoice.pdf', { from: 'bot', senderName: 'Billing bot' });
    assert.equal(doc.status, 201, `bot upload: ${doc.text}`);
    // Only the sender who uploaded it may send it.
    await expectRestError(serverMessageRaw(srv.server, key.key, session.id, { from: 'customer', attachments: [doc.body.id] }), INVALID, 'invalid_payload',
      'the customer sends the bot\'s upload:');
    const withDoc = await serverMessage(srv.server, key.key, session.id, { from: 'bot', senderName: 'Billing bot', content: 'Your invoice', attachments: [doc.body.id] });
    assertMessage(withDoc, { sender: { id: `bot:${key.id}`, role: 'bot', name: 'Billing bot' } });

    // Not for another tenant's session, nor as anyone else.
    const outsider = await createKey(srv.server, makeUser('admin', { tenant: uniqueId('t') }));
    assert.equal((await serverUploadRaw(srv.server, outsider.key, session.id, photo, 'x.png', { from: 'customer' })).status, 404);
    for (const from of [undefined, 'agent', 'nobody']) {
      const res = await serverUploadRaw(srv.server, key.key, session.id, photo, 'x.png', { from });
      assert.ok([400, 422].includes(res.status), `upload from=${from}: ${res.status} ${res.text}`);
    }
    for (const message of [withPhoto, withDoc]) {
      const seen = await waitFor(agent.socket, 'new-message', { filter: (m) => m.id === message.id });
      assert.deepEqual(seen.attachments.map((a) => a.id), message.attachments.map((a) => a.id));
    }
    const events = await rx.waitForEvents(2, { type: 'message.created' }, DELIVERY);
    for (const [event, bytes] of [[events.find((e) => e.body.data.message.id === withPhoto.id), photo], [events.find((e) => e.body.data.message.id === withDoc.id), invoice]]) {
      const [attachment] = assertWebhookBody(event, { tenant, sessionId: session.id }).data.message.attachments;
      assert.ok(attachment, `message.created carries the message's attachments: ${event.raw.slice(0, 1500)}`);
      // The webhook's links are signed for 24 h and work without a token.
      const expires = Number(new URL(attachment.url, srv.server.url).searchParams.get('expires'));
      assert.ok(expires * 1000 > Date.now() + 23 * 3_600_000, `a webhook's link lasts 24 h: expires ${expires}`);
      const fetched = await fetch(new URL(attachment.url, srv.server.url));
      assert.equal(fetched.status, 200);
      assert.deepEqual(Buffer.from(await fetched.arrayBuffer()), Buffer.from(bytes));
    }
  });

  it('lets a bot write in a pending session, and the customer mark its messages read like an agent\'s', async (t) => {
    const { tenant, key } = await integrated(t, ['message.created']);
    const customer = await online(srv.server, 'customer', tenant);
    const session = await openSession(srv.server, customer.user, { message: 'anyone there?' });
    await ok(customer.socket, 'join-session', { sessionId: session.id });
    const bot = await serverMessage(srv.server, key.key, session.id, { content: 'You are number 1 in the queue.', from: 'bot' });
    assert.equal((await waitFor(customer.socket, 'new-message', { filter: (m) => m.id === bot.id })).sender.role, 'bot');
    const read = await ok(customer.socket, 'mark-read', { sessionId: session.id });
    assert.equal(read.count, 1, `the customer read the bot's message: ${JSON.stringify(read)}`);
    const stored = await listMessages(srv.server, customer.user, session.id);
    assert.ok(stored.find((m) => m.id === bot.id).readAt !== null, 'the bot message is read');
    assert.equal(stored.find((m) => m.content === 'anyone there?').readAt, null, 'the customer\'s own message is not');
  });

  it('reports each of many messages sent at once (stored together by the group commit) exactly once', async (t) => {
    const { tenant, admin, rx, hook } = await integrated(t, ['message.created']);
    const customer = await online(srv.server, 'customer', tenant);
    const agent = await online(srv.server, 'agent', tenant);
    const session = await openSession(srv.server, customer.user);
    await take(srv.server, agent.user, session.id);
    await ok(customer.socket, 'join-session', { sessionId: session.id });
    await ok(agent.socket, 'join-session', { sessionId: session.id });
    const sends = [];
    for (let i = 0; i < 20; i += 1) {
      const [who, socket] = i % 2 ? ['agent', agent.socket] : ['customer', customer.socket];
      sends.push(ok(socket, 'send-message', { sessionId: session.id, content: `${who} ${i}`, clientMessageId: `burst-${i}` }));
    }
    const acked = await Promise.all(sends);
    const events = await rx.waitForEvents(20, {}, DELIVERY);
    assert.deepEqual(events.map((e) => e.body.data.message.id).sort(), acked.map((m) => m.id).sort());
    for (const e of events) {
      const sent = acked.find((m) => m.id === e.body.data.message.id);
      assert.deepEqual({ ...e.body.data.message, readAt: null }, { ...sent, readAt: null });
    }
    const listed = await until(async () => {
      const items = await deliveries(srv.server, admin.user, hook.id, 200);
      return items.length === 20 && items.every((d) => d.status === 'delivered') && items;
    }, { ...DELIVERY, what: '20 delivered' });
    assert.equal(new Set(listed.map((d) => d.eventId)).size, 20);
  });

  it('stores a repeated clientMessageId once: the same message back, one new-message, one webhook', async (t) => {
    const { tenant, admin, key, rx, hook } = await integrated(t, ['message.created']);
    const customerId = uniqueId('sms');
    const session = await serverSession(srv.server, key.key, { customerId });
    const agent = await online(srv.server, 'agent', tenant);
    await ok(agent.socket, 'join-session', { sessionId: session.id });
    const body = { content: 'only once', from: 'customer', clientMessageId: 'gateway-msg-77' };
    const first = await serverMessage(srv.server, key.key, session.id, body);
    assertMessage(first, { clientMessageId: 'gateway-msg-77' });
    const second = await expectStatus(serverMessageRaw(srv.server, key.key, session.id, body), [200, 201], 'the retry:');
    assert.deepEqual(second, first);
    const botBody = { content: 'bot once', from: 'bot', clientMessageId: 'bot-1' };
    const botFirst = await serverMessage(srv.server, key.key, session.id, botBody);
    assert.deepEqual(await expectStatus(serverMessageRaw(srv.server, key.key, session.id, botBody), [200, 201], 'the bot retry:'), botFirst);

    await waitFor(agent.socket, 'new-message', { filter: (m) => m.id === first.id });
    await waitFor(agent.socket, 'new-message', { filter: (m) => m.id === botFirst.id });
    await rx.waitForEvents(2, { type: 'message.created' }, DELIVERY);
    assert.deepEqual((await listMessages(srv.server, agent.user, session.id)).map((m) => m.id), [first.id, botFirst.id]);
    await expectNo(agent.socket, 'new-message', 300);
    const types = (await deliveries(srv.server, admin.user, hook.id)).map((d) => d.type);
    assert.deepEqual(types, ['message.created', 'message.created'], 'one delivery per stored message');
    assert.equal(rx.delivered({ type: 'message.created' }).length, 2);
  });

  it('refuses messages to a closed session (409 session_closed), too long (413), empty or malformed (invalid_payload), unknown (404)', async (t) => {
    const { tenant, key } = await integrated(t, ['session.closed']);
    const session = await serverSession(srv.server, key.key, { customerId: uniqueId('c'), message: 'first' });
    const refuse = (body, status, code) => expectRestError(serverMessageRaw(srv.server, key.key, session.id, body), status, code,
      `POST messages ${JSON.stringify(body).slice(0, 80)}:`);
    await refuse({ content: 'x'.repeat(MAX_LEN + 1), from: 'customer' }, 413, 'message_too_long');
    await refuse({ content: '🙂'.repeat(MAX_LEN + 1), from: 'bot' }, 413, 'message_too_long');
    for (const body of [{ content: '', from: 'bot' }, { content: '   ', from: 'customer' }, { from: 'bot' }, { content: 'x' },
      { content: 'x', from: 'agent' }, { content: 'x', from: 'admin' }, { content: 'x', from: 'nobody' }, { content: 42, from: 'bot' },
      { content: 'x', from: 'bot', senderName: 42 }, { content: 'x', from: 'bot', clientMessageId: 7 }]) {
      await refuse(body, INVALID, 'invalid_payload');
    }
    await expectRestError(serverMessageRaw(srv.server, key.key, UNKNOWN_ID, { content: 'x', from: 'bot' }), 404, 'not_found', 'unknown session:');
    await expectRestError(serverMessageRaw(srv.server, key.key, 'not-a-uuid', { content: 'x', from: 'bot' }), [400, 404, 422], ['not_found', 'invalid_payload'], 'bad id:');
    for (const body of [{}, { customerId: '' }, { customerId: 42 }, { customerId: 'c', message: 'x'.repeat(MAX_LEN + 1) }]) {
      const res = await serverSessionRaw(srv.server, key.key, body);
      assert.ok([400, 413, 422].includes(res.status), `POST /api/server/sessions ${JSON.stringify(body).slice(0, 80)}: ${res.status} ${res.text}`);
    }
    const atLimit = await serverMessage(srv.server, key.key, session.id, { content: 'é'.repeat(MAX_LEN), from: 'customer' });
    assert.equal([...atLimit.content].length, MAX_LEN);

    await closeRest(srv.server, makeUser('admin', { tenant }), session.id);
    await refuse({ content: 'after the close', from: 'customer' }, 409, 'session_closed');
    await refuse({ content: 'after the close', from: 'bot' }, 409, 'session_closed');
    // The next message of that customer opens a new session.
    const next = await expectStatus(serverSessionRaw(srv.server, key.key, { customerId: session.customer.id, message: 'me again' }), 201, 'a new session:');
    assert.notEqual(next.id, session.id);
  });

  it('delivers every event type, verified, to the endpoints that asked for it, and never a note as message.created', async (t) => {
    const { tenant, admin, rx, hook } = await integrated(t, ALL_EVENTS);
    const notesOnly = await receiverFor(t);
    const notesHook = await hookReceiver(srv.server, admin.user, notesOnly, ['note.created'], 'notes to the CRM');
    const customer = makeUser('customer', { tenant, name: 'Dana' });
    const agent = makeUser('agent', { tenant, name: 'Ann' });

    const session = await openSession(srv.server, customer, { subject: 'refund', message: 'I want a refund' });
    const createdEv = await rx.waitForEvent({ type: 'session.created' }, DELIVERY);
    assertWebhookBody(createdEv, { type: 'session.created', tenant, sessionId: session.id });
    assert.equal(createdEv.body.data.session.status, 'pending');
    const first = await rx.waitForEvent({ type: 'message.created' }, DELIVERY);
    assert.equal(assertWebhookBody(first, { tenant }).data.message.content, 'I want a refund');

    await take(srv.server, agent, session.id);
    const assigned = await rx.waitForEvent({ type: 'session.updated' }, DELIVERY);
    assertWebhookBody(assigned, { type: 'session.updated', tenant, sessionId: session.id });
    assert.equal(assigned.body.data.session.status, 'active');
    assert.deepEqual(assigned.body.data.session.agent, agent.ref);

    const reply = await sendRest(srv.server, agent, session.id, 'Refund on its way');
    const note = await noteRest(srv.server, agent, session.id, 'PRIVATE: customer was rude');
    const noteEv = await rx.waitForEvent({ type: 'note.created' }, DELIVERY);
    assertWebhookBody(noteEv, { type: 'note.created', tenant, sessionId: session.id });
    assert.deepEqual(noteEv.body.data.note, note);
    const noteElsewhere = await notesOnly.waitForEvent({ type: 'note.created' }, DELIVERY);
    assert.deepEqual(noteElsewhere.body.data.note, note);
    assert.equal(noteElsewhere.id, noteEv.id, 'one event, one webhook-id, whichever endpoint');

    await closeRest(srv.server, agent, session.id);
    const closedEv = await rx.waitForEvent({ type: 'session.closed' }, DELIVERY);
    assert.equal(assertWebhookBody(closedEv, { tenant, sessionId: session.id }).data.session.status, 'closed');
    await expectStatus(rateRest(srv.server, customer, session.id, { score: 4, comment: 'fast' }), 200, 'rate:');
    const rated = await rx.waitForEvents(2, { type: 'session.updated' }, DELIVERY);
    assertWebhookBody(rated[1], { type: 'session.updated', tenant, sessionId: session.id });
    assert.equal(rated[1].body.data.session.rating.score, 4);

    const messages = await rx.waitForEvents(2, { type: 'message.created' }, DELIVERY);
    assert.deepEqual(messages.map((e) => e.body.data.message.id).sort(), [first.body.data.message.id, reply.id].sort());
    // The server's own record says what there is to deliver: once every delivery is done, nothing else comes.
    const done = await until(async () => {
      const items = await deliveries(srv.server, admin.user, hook.id, 200);
      return items.every((d) => d.status === 'delivered') && items;
    }, { ...DELIVERY, what: 'every delivery delivered' });
    assert.deepEqual(done.map((d) => d.type).sort(),
      ['message.created', 'message.created', 'note.created', 'session.closed', 'session.created', 'session.updated', 'session.updated'].sort());
    for (const d of done) assert.ok(rx.delivered({ id: d.eventId }).length === 1, `delivery ${d.eventId} reached the receiver`);
    assert.ok(!rx.attempts.some((a) => a.type === 'message.created' && a.raw.includes('customer was rude')), 'a note is never a message.created');
    assert.deepEqual((await deliveries(srv.server, admin.user, notesHook.id)).map((d) => [d.type, d.status]), [['note.created', 'delivered']]);
    assert.deepEqual(notesOnly.attempts.map((a) => a.type), ['note.created'], 'an endpoint gets only the types it asked for');
    assert.deepEqual(rx.unverified(), []);
    assert.equal(new Set(rx.delivered().map((e) => e.id)).size, 7, 'every event has its own webhook-id');
  });

  it('retries on the schedule with the same webhook-id: two failures then 2xx is 3 attempts, delivered, each outcome told to the admins', async (t) => {
    const { tenant, admin, key, rx, hook } = await integrated(t, ['session.created']);
    const agent = await online(srv.server, 'agent', tenant);
    const otherAdmin = await online(srv.server, 'admin', uniqueId('t'));
    rx.answer((a) => (a.n <= 2 ? 'fail' : 'ok'));
    const session = await serverSession(srv.server, key.key, { customerId: uniqueId('c') });
    const [event] = await rx.waitForEvents(1, { session: session.id }, DELIVERY);
    const attempts = rx.attemptsOf(event.id);
    assert.deepEqual(attempts.map((a) => a.status), [500, 500, 204]);
    assert.ok(attempts.every((a) => a.raw === attempts[0].raw), 'every attempt carries the same body');
    for (let i = 1; i < attempts.length; i += 1) {
      const gap = attempts[i].receivedAt - attempts[i - 1].receivedAt;
      assert.ok(gap >= 900 && gap < 3000, `attempt ${i + 1} came ${gap} ms after the previous one: the schedule says 1 s`);
      assert.ok(attempts[i].timestamp >= attempts[i - 1].timestamp, 'webhook-timestamp is each attempt\'s own');
    }
    const d = await deliveryOf(srv.server, admin.user, hook.id, event.id, (x) => x.status === 'delivered');
    assertDelivery(d, { type: 'session.created', status: 'delivered', attempts: 3, eventId: event.id });
    assert.ok(d.lastStatusCode >= 200 && d.lastStatusCode < 300, `lastStatusCode ${d.lastStatusCode}`);

    // Live: each attempt's outcome, to the tenant's admin sockets only.
    const told = [];
    for (let n = 1; n <= 3; n += 1) {
      const p = await ADMIN_DELIVERY(admin.socket, hook.id, (x) => x.eventId === event.id && x.attempts === n);
      assert.deepEqual(Object.keys(p).sort(), ['delivery', 'webhookId']);
      told.push(assertDelivery(p.delivery));
    }
    assert.deepEqual(told.map((x) => x.status), ['pending', 'pending', 'delivered']);
    assert.deepEqual(told.map((x) => x.lastStatusCode), [500, 500, d.lastStatusCode]);
    assert.ok(told[0].nextAttemptAt !== null && told[2].nextAttemptAt === null, `nextAttemptAt: ${told.map((x) => x.nextAttemptAt)}`);
    await expectNo(agent.socket, 'webhook-delivery', 0);
    await expectNo(otherAdmin.socket, 'webhook-delivery', 0);
  });

  it('ends an attempt that does not answer within the timeout (lastError says timeout), and the next one delivers', async (t) => {
    const { admin, key, rx, hook } = await integrated(t, ['session.created']);
    rx.answer((a) => (a.n === 1 ? 'hang' : 'ok'));
    const started = Date.now();
    await serverSession(srv.server, key.key, { customerId: uniqueId('c') });
    const timedOut = await ADMIN_DELIVERY(admin.socket, hook.id, (x) => x.attempts === 1);
    assertDelivery(timedOut.delivery, { status: 'pending', lastStatusCode: null });
    assert.match(timedOut.delivery.lastError ?? '', /time/i, `lastError: ${timedOut.delivery.lastError}`);
    const [event] = await rx.waitForEvents(1, {}, DELIVERY);
    assert.equal(rx.attemptsOf(event.id).length, 2);
    assert.equal(rx.attemptsOf(event.id)[0].status, null, 'the first attempt was never answered');
    const elapsed = rx.attemptsOf(event.id)[1].receivedAt - started;
    assert.ok(elapsed >= 1900 && elapsed < 10_000, `timeout 1 s + retry after 1 s: the second attempt came after ${elapsed} ms`);
    assertDelivery(await deliveryOf(srv.server, admin.user, hook.id, event.id, (x) => x.status === 'delivered'), { attempts: 2 });
  });

  it('marks a delivery failed once the schedule is exhausted; a retry by hand delivers it (same webhook-id); only failed ones may be retried', async (t) => {
    const { admin, key, rx, hook } = await integrated(t, ['session.created']);
    rx.answer('fail');
    const session = await serverSession(srv.server, key.key, { customerId: uniqueId('c') });
    const failed = (await ADMIN_DELIVERY(admin.socket, hook.id, (x) => x.status === 'failed', { timeout: 20_000 })).delivery;
    assertDelivery(failed, { status: 'failed', attempts: ATTEMPTS, lastStatusCode: 500, nextAttemptAt: null, deliveredAt: null });
    const [first] = await rx.waitForAttempts(1, { session: session.id });
    assert.equal(failed.eventId, first.id);
    assert.equal(rx.attemptsOf(first.id).length, ATTEMPTS);
    assert.deepEqual(await deliveryOf(srv.server, admin.user, hook.id, first.id), failed);

    rx.answer('ok');
    const retried = await expectStatus(retryDeliveryRaw(srv.server, admin.user, hook.id, failed.id), 200, 'retry:');
    assertDelivery(retried, { id: failed.id, eventId: first.id, status: 'pending' });
    const [event] = await rx.waitForEvents(1, { id: first.id }, DELIVERY);
    assert.equal(event.n, ATTEMPTS + 1, 'the same webhook-id, once more');
    const delivered = await deliveryOf(srv.server, admin.user, hook.id, first.id, (x) => x.status === 'delivered');
    assertDelivery(delivered, { id: failed.id, status: 'delivered' });
    await ADMIN_DELIVERY(admin.socket, hook.id, (x) => x.id === failed.id && x.status === 'delivered');

    await expectRestError(retryDeliveryRaw(srv.server, admin.user, hook.id, failed.id), 409, 'conflict', 'retrying a delivered one:');
    await expectRestError(retryDeliveryRaw(srv.server, admin.user, hook.id, UNKNOWN_ID), 404, 'not_found', 'retrying an unknown one:');
    const outsider = makeUser('admin', { tenant: uniqueId('t') });
    await expectRestError(retryDeliveryRaw(srv.server, outsider, hook.id, failed.id), 404, 'not_found', 'another tenant retries:');
    await expectRestError(retryDeliveryRaw(srv.server, makeUser('agent', { tenant: admin.user.tenant }), hook.id, failed.id), 403, 'forbidden', 'an agent retries:');
  });

  it('fails an attempt to a vanished endpoint without a status code, and delivers once it is back', async (t) => {
    const { admin, key, rx, hook } = await integrated(t, ['session.created']);
    await rx.vanish();
    await serverSession(srv.server, key.key, { customerId: uniqueId('c') });
    const refused = (await ADMIN_DELIVERY(admin.socket, hook.id, (x) => x.attempts === 1)).delivery;
    assertDelivery(refused, { status: 'pending', lastStatusCode: null });
    assert.ok(refused.lastError && refused.lastError.length > 0, `lastError: ${refused.lastError}`);
    await rx.revive();
    const [event] = await rx.waitForEvents(1, {}, DELIVERY);
    assert.equal(event.id, refused.eventId);
    assert.ok((await deliveryOf(srv.server, admin.user, hook.id, event.id, (x) => x.status === 'delivered')).attempts >= 2);
  });

  it('does not follow a redirect: a 3xx is a failed attempt with its status code', async (t) => {
    const { admin, key, rx, hook } = await integrated(t, ['session.created']);
    const elsewhere = await receiverFor(t, { secret: hook.secret });
    rx.answer((a) => (a.n === 1 ? { answer: 307, headers: { location: elsewhere.url } } : 'ok'));
    await serverSession(srv.server, key.key, { customerId: uniqueId('c') });
    const redirected = (await ADMIN_DELIVERY(admin.socket, hook.id, (x) => x.attempts === 1)).delivery;
    assertDelivery(redirected, { status: 'pending', lastStatusCode: 307 });
    const [event] = await rx.waitForEvents(1, {}, DELIVERY);
    assert.equal(event.n, 2, 'delivered at the second attempt, to the registered URL');
    assert.deepEqual(elsewhere.attempts, [], 'the redirect was not followed');
  });

  it('reports a transfer and a return to the queue as session.updated', async (t) => {
    const { tenant, rx } = await integrated(t, ['session.updated']);
    const customer = makeUser('customer', { tenant });
    const first = makeUser('agent', { tenant, name: 'First' });
    const second = makeUser('agent', { tenant, name: 'Second' });
    await online(srv.server, 'agent', tenant, second); // the server knows the target
    const session = await openSession(srv.server, customer, { message: 'hi' });
    await take(srv.server, first, session.id);
    const transfer = (body) => expectStatus(api(srv.server, first, 'POST', `/api/chat/sessions/${session.id}/transfer`, { body }), 200, 'transfer:');
    await transfer({ toAgentId: second.sub });
    const back = (body) => expectStatus(api(srv.server, second, 'POST', `/api/chat/sessions/${session.id}/transfer`, { body }), 200, 'requeue:');
    await back({});
    const events = await rx.waitForEvents(3, { type: 'session.updated' }, DELIVERY);
    const states = events.map((e) => assertWebhookBody(e, { tenant, sessionId: session.id }).data.session)
      .map((s) => [s.status, s.agent?.id ?? null]).sort();
    assert.deepEqual(states, [['active', first.sub], ['active', second.sub], ['pending', null]].sort());
  });

  it('lists webhooks without secrets and deliveries newest first with a limit; admins of the tenant only', async (t) => {
    const { tenant, admin, key, rx, hook } = await integrated(t, ['session.created'], 'lister');
    assert.deepEqual(await listWebhooks(srv.server, admin.user), [{ id: hook.id, url: rx.url, events: ['session.created'], description: null, createdAt: hook.createdAt }]);
    const sessions = [];
    for (let i = 0; i < 3; i += 1) sessions.push(await serverSession(srv.server, key.key, { customerId: uniqueId('c') }));
    await rx.waitForEvents(3, {}, DELIVERY);
    const items = await until(async () => {
      const list = await deliveries(srv.server, admin.user, hook.id);
      return list.length === 3 && list.every((d) => d.status === 'delivered') && list;
    }, { ...DELIVERY, what: '3 delivered' });
    const eventsInOrder = sessions.map((s) => rx.delivered({ session: s.id })[0].id);
    assert.deepEqual(items.map((d) => d.eventId), [...eventsInOrder].reverse(), 'newest first');
    for (const d of items) {
      assertDelivery(d, { type: 'session.created', status: 'delivered', attempts: 1, lastError: null, nextAttemptAt: null });
      assert.ok(Date.parse(d.deliveredAt) >= Date.parse(d.createdAt));
    }
    assert.deepEqual(await deliveries(srv.server, admin.user, hook.id, 1), [items[0]]);
    for (const limit of ['0', '-1', 'x']) {
      const res = await api(srv.server, admin.user, 'GET', `/api/webhooks/${hook.id}/deliveries?limit=${limit}`);
      assert.ok([200, 400, 422].includes(res.status), `limit=${limit}: ${res.status}`);
    }
    // Who may.
    const agent = makeUser('agent', { tenant });
    await expectRestError(api(srv.server, agent, 'GET', '/api/webhooks'), 403, 'forbidden', 'agent lists:');
    await expectRestError(api(srv.server, agent, 'GET', `/api/webhooks/${hook.id}/deliveries`), 403, 'forbidden', 'agent deliveries:');
    await expectRestError(registerWebhookRaw(srv.server, agent, { url: rx.url, events: ['session.created'] }), 403, 'forbidden', 'agent registers:');
    const outsider = makeUser('admin', { tenant: uniqueId('t') });
    assert.deepEqual(await listWebhooks(srv.server, outsider), []);
    await expectRestError(api(srv.server, outsider, 'GET', `/api/webhooks/${hook.id}/deliveries`), 404, 'not_found', 'another tenant\'s deliveries:');
    await expectRestError(api(srv.server, outsider, 'DELETE', `/api/webhooks/${hook.id}`), 404, 'not_found', 'another tenant deletes:');
    // Events: known ones, at least one.
    for (const events of [[], ['message.sent'], 'session.created', [42], null]) {
      await expectRestError(registerWebhookRaw(srv.server, admin.user, { url: rx.url, events }), INVALID, 'invalid_payload', `events ${JSON.stringify(events)}:`);
    }
    // Deleting: 204, its deliveries go with it, nothing more is sent.
    await expectStatus(api(srv.server, admin.user, 'DELETE', `/api/webhooks/${hook.id}`), 204, 'DELETE webhook:');
    await expectRestError(api(srv.server, admin.user, 'GET', `/api/webhooks/${hook.id}/deliveries`), 404, 'not_found', 'a deleted webhook\'s deliveries:');
    assert.deepEqual(await listWebhooks(srv.server, admin.user), []);
    const before = rx.attempts.length;
    const later = await serverSession(srv.server, key.key, { customerId: uniqueId('c') });
    assertSession(later);
    drain(admin.socket, 'webhook-delivery');
    await expectNo(admin.socket, 'webhook-delivery', 1500, { filter: (p) => p.webhookId === hook.id });
    assert.equal(rx.attempts.length, before, 'a deleted webhook gets nothing');
  });

  it('keeps chat messages and webhooks of other tenants apart', async (t) => {
    const a = await integrated(t, ['message.created']);
    const b = await integrated(t, ['message.created']);
    const sa = await serverSession(srv.server, a.key.key, { customerId: 'same-customer', message: 'from A' });
    const sb = await serverSession(srv.server, b.key.key, { customerId: 'same-customer', message: 'from B' });
    assert.notEqual(sa.id, sb.id);
    const [ea] = await a.rx.waitForEvents(1, {}, DELIVERY);
    const [eb] = await b.rx.waitForEvents(1, {}, DELIVERY);
    assert.equal(ea.body.tenant, a.tenant);
    assert.equal(eb.body.tenant, b.tenant);
    assert.equal(ea.body.data.message.content, 'from A');
    assert.equal(eb.body.data.message.content, 'from B');
    await expectRestError(serverMessageRaw(srv.server, a.key.key, sb.id, { content: 'x', from: 'customer' }), 404, 'not_found', 'A writes to B\'s session:');
    assert.equal(a.rx.attempts.length, 1);
    assert.equal(b.rx.attempts.length, 1);
  });
});

describe('a slow endpoint', () => {
  it('delays neither another endpoint nor the chat', async (t) => {
    // The default 10 s timeout: the hanging endpoint holds its attempts for all of it.
    const server = await spawnServerFor(t, { args: ARGS, env: { ...DELIVERING_ENV, WEBHOOK_TIMEOUT_SECONDS: '10' } });
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const slow = await receiverFor(t, { answer: 'hang' });
    const fast = await receiverFor(t);
    await hookReceiver(server, admin, slow, ['message.created']);
    await hookReceiver(server, admin, fast, ['message.created']);
    const customer = await online(server, 'customer', tenant);
    const agent = await online(server, 'agent', tenant);
    const session = await openSession(server, customer.user, { message: 'first' });
    await ok(customer.socket, 'join-session', { sessionId: session.id });
    await ok(agent.socket, 'join-session', { sessionId: session.id });
    await slow.waitForAttempts(1, {}, DELIVERY);

    const started = Date.now();
    const sent = [];
    for (let i = 0; i < 5; i += 1) {
      const t0 = Date.now();
      sent.push(await ok(customer.socket, 'send-message', { sessionId: session.id, content: `while the endpoint hangs ${i}` }));
      assert.ok(Date.now() - t0 < 2000, `send-message ${i} took ${Date.now() - t0} ms`);
      await waitFor(agent.socket, 'new-message', { filter: (m) => m.id === sent[i].id, timeout: 2000 });
    }
    await fast.waitForEvents(6, {}, { timeout: 8000 });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 8000, `the fast endpoint had every event after ${elapsed} ms`);
    // Meanwhile the slow endpoint has answered nothing, and its first attempt is still waiting for its 10 s.
    assert.ok(slow.attempts.every((a) => a.status === null), 'the slow endpoint answered nothing');
    await slow.until((rx) => rx.maxInFlight >= 4, { timeout: 5000, what: '4 requests in flight' });
    assert.equal(slow.maxInFlight, 4, 'a slow endpoint holds --webhook-per-endpoint (4) requests, no more');
    assert.ok(Date.now() - slow.attempts[0].receivedAt < 10_000, 'all this happened within the slow endpoint\'s first timeout');
    assert.deepEqual(fast.unverified(), []);
  });
});
