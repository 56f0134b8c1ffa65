// End to end, integrations (PROTOCOL §9): the built client (dist/) served by
// the real server, admins and agents in browser contexts of Debian's
// Chromium, and a webhook receiver on 127.0.0.1 in this process. The server
// runs with WEBHOOK_ALLOW_PRIVATE_NETWORKS=true (the receiver is on
// loopback) and WEBHOOK_RETRY_SCHEDULE=1,1 (three attempts a second apart,
// then `failed`). Each test has its own tenant. Screenshots go to
// ../test-artifacts/. Every wait is for a selector, a text or a request,
// with a timeout; nothing sleeps.
//
// Run: npm run e2e   (builds dist/ first; needs the v1.3 server binary
// (../target/debug/switchboard or SWITCHBOARD_BIN) and `chromium` on PATH)

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import { browserSuite } from '../test-support/browserSuite.js';

const T = 15_000;

/** @type {Awaited<ReturnType<typeof import('../test-support/switchboardServer.js').startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
const suite = browserSuite({
  label: 'integrations',
  checkCsp: false,
  serverOptions: { env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_RETRY_SCHEDULE: '1,1' } },
  ready: (started, launched) => {
    server = started;
    browser = launched;
  },
});

/**
 * @typedef {{ tenant: string, role: 'customer' | 'agent' | 'admin', name: string, pathname: string }} Who
 * @typedef {(who: Who) => Promise<{ page: import('playwright-core').Page, token: string, id: string }>} Open
 */

/**
 * Runs a scenario with its own browser contexts (closed after it); on
 * failure, a screenshot of each page.
 * @param {string} name
 * @param {(open: Open) => Promise<void>} scenario
 */
function scenarioTest(name, scenario) {
  suite.scenarioTest(name, (contexts) => scenario((who) => openAs(contexts, who)));
}

let tenantCounter = 0;
/** A tenant of its own for each test. @param {string} label */
const newTenant = (label) => `integrations-${label}-${++tenantCounter}-${Math.random().toString(36).slice(2, 7)}`;

/** A user id for a name. @param {string} role @param {string} name */
const subject = (role, name) => `${role}-${name.toLowerCase().replace(/\W+/g, '-')}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * A user of `tenant`: a token, and a page in a context of its own (allowed
 * to use the clipboard) opened on `pathname` with it (`?token=`).
 * @param {import('playwright-core').BrowserContext[]} contexts
 * @param {Who} who
 */
async function openAs(contexts, { tenant, role, name, pathname }) {
  const sub = subject(role, name);
  const token = await server.token({ sub, role, name, tenant });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] });
  contexts.push(context);
  const page = await context.newPage();
  suite.watch(page, name.split(' ')[0].toLowerCase());
  await page.goto(`${server.url}${pathname}?token=${encodeURIComponent(token)}`);
  return { page, token, id: sub };
}

const shot = suite.shot;

/** @param {import('playwright-core').Page} page */
const connected = (page) => page.locator('[data-testid="connection-status"][data-status="connected"]').first().waitFor({ timeout: T });

/**
 * @typedef {{ headers: import('node:http').IncomingHttpHeaders, body: string, answered: number }} Received
 */

/**
 * A webhook receiver on 127.0.0.1: records every request and answers with
 * the status of the moment (`answer`), so a test can make it fail and
 * recover.
 */
async function startReceiver() {
  /** @type {Received[]} */
  const received = [];
  const events = new EventEmitter();
  let status = 204;
  const httpServer = http.createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const answered = status;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered });
      res.writeHead(answered, { 'Content-Type': 'text/plain' });
      res.end(answered >= 300 ? 'failing on purpose' : '');
      events.emit('request');
    });
  });
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const address = /** @type {import('node:net').AddressInfo} */ (httpServer.address());
  return {
    url: `http://127.0.0.1:${address.port}/hooks`,
    received,
    /** @param {number} code */
    answer(code) {
      status = code;
    },
    /**
     * Resolves once `predicate(received)` holds (checked on every request).
     * @param {(all: Received[]) => boolean} predicate @param {string} what
     */
    async until(predicate, what) {
      const deadline = Date.now() + T;
      while (!predicate(received)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`receiver: timed out waiting for ${what}; got ${received.length} request(s)`);
        let timer;
        await Promise.race([once(events, 'request'), new Promise((r) => (timer = setTimeout(r, left)))]);
        clearTimeout(timer);
      }
    },
    async close() {
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
    },
  };
}

/**
 * The Standard Webhooks signature of a request, checked with the secret.
 * @param {Received} request @param {string} secret
 */
function assertSigned(request, secret) {
  const id = String(request.headers['webhook-id']);
  const timestamp = String(request.headers['webhook-timestamp']);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${request.body}`).digest('base64');
  const signatures = String(request.headers['webhook-signature']).split(' ');
  assert.ok(signatures.includes(`v1,${expected}`), `signed with the endpoint's secret: ${request.headers['webhook-signature']}`);
}

/**
 * A server API call with an API key.
 * @param {string} key @param {string} pathname @param {unknown} body
 */
async function serverApi(key, pathname, body) {
  const response = await fetch(`${server.url}${pathname}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.text() };
}

scenarioTest('an admin creates an API key and a webhook endpoint; deliveries show live, a failed one is retried', async (open) => {
  const tenant = newTenant('webhooks');
  const receiver = await startReceiver();
  try {
    const { page } = await open({ tenant, role: 'admin', name: 'Ada Admin', pathname: '/integrations' });
    /** Every request for a delivery log: fetched once, then live. */
    const logFetches = /** @type {string[]} */ ([]);
    page.on('request', (request) => {
      if (/\/api\/webhooks\/[^/]+\/deliveries(\?|$)/.test(request.url()) && request.method() === 'GET') logFetches.push(request.url());
    });
    await page.getByRole('heading', { name: 'Integrations', level: 1 }).waitFor({ timeout: T });
    await connected(page);
    const keys = page.getByTestId('api-keys');
    await keys.getByText('No API keys yet.').waitFor({ timeout: T });

    // A key, named; shown once in a dialog, with a copy button.
    await keys.getByLabel('New key name').fill('CRM sync');
    await keys.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByTestId('api-key-dialog');
    await dialog.waitFor({ timeout: T });
    await dialog.getByText('you will not see it again').waitFor({ timeout: T });
    const key = await dialog.getByTestId('secret-value').inputValue();
    assert.match(key, /^sbk_[A-Za-z0-9_-]{43,}$/);
    await dialog.getByRole('button', { name: 'Copy' }).click();
    await dialog.getByTestId('secret-copied').filter({ hasText: 'Copied' }).waitFor({ timeout: T });
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
    await shot(page, '01-api-key-shown-once');
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached', timeout: T });

    // Listed without the key: name, created, never used.
    const row = keys.getByTestId('api-key-row').filter({ hasText: 'CRM sync' });
    await row.waitFor({ timeout: T });
    assert.equal(await row.getByTestId('api-key-last-used').innerText(), 'never');
    assert.equal((await page.content()).includes(key), false, 'the key is not on the page any more');

    // A refusal shows by the URL (the server's 400 for a private address, staged: this server allows them).
    const hooks = page.getByTestId('webhooks');
    await hooks.getByText('No endpoints yet.').waitFor({ timeout: T });
    await hooks.getByRole('button', { name: 'Register endpoint' }).click();
    const form = hooks.getByTestId('webhook-form');
    await form.getByLabel('Endpoint URL').fill('http://10.0.0.7/hooks');
    await form.getByRole('checkbox', { name: /session\.created/ }).check();
    await form.getByRole('checkbox', { name: /message\.created/ }).check();
    await form.getByLabel(/Description/).fill('CRM receiver');
    const refusal = 'url resolves to a private address (10.0.0.7), which this server does not call';
    await page.route(`${server.url}/api/webhooks`, (route) =>
      route.request().method() === 'POST'
        ? route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ error: { code: 'invalid_payload', message: refusal } }) })
        : route.continue(),
    );
    await form.getByRole('button', { name: 'Register endpoint' }).click();
    await form.getByTestId('webhook-url-error').filter({ hasText: refusal }).waitFor({ timeout: T });
    const urlBox = form.getByLabel('Endpoint URL');
    assert.equal(await urlBox.getAttribute('aria-invalid'), 'true');
    assert.equal(await urlBox.evaluate((el) => el === document.activeElement), true, 'the focus is on the URL');
    await shot(page, '02-webhook-url-refused');
    await page.unroute(`${server.url}/api/webhooks`);

    // Registered for real (the loopback receiver): the secret shown once.
    await urlBox.fill(receiver.url);
    await form.getByRole('button', { name: 'Register endpoint' }).click();
    const secretDialog = page.getByTestId('webhook-secret-dialog');
    await secretDialog.waitFor({ timeout: T });
    await secretDialog.getByText('you will not see it again').waitFor({ timeout: T });
    const secret = await secretDialog.getByTestId('secret-value').inputValue();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    await secretDialog.getByRole('button', { name: 'Done' }).click();
    await secretDialog.waitFor({ state: 'detached', timeout: T });
    const endpoint = hooks.getByTestId('webhook-row').filter({ hasText: receiver.url });
    await endpoint.waitFor({ timeout: T });
    assert.deepEqual((await endpoint.getByTestId('webhook-events').locator('code').allInnerTexts()).sort(), ['message.created', 'session.created']);
    assert.equal(await endpoint.getByTestId('webhook-description').innerText(), 'CRM receiver');
    const log = endpoint.getByTestId('delivery-log');
    await log.getByTestId('delivery-empty').waitFor({ timeout: T });
    const rows = log.getByTestId('delivery-row');

    // A customer opens a chat with a first message: two deliveries, delivered, live.
    const customerToken = await server.token({ sub: subject('customer', 'Cy'), role: 'customer', name: 'Cy Customer', tenant });
    const session = await server.rest('POST', '/api/chat/sessions', customerToken, { subject: 'Order 1042', message: 'Where is my parcel?' });
    await log.locator('[data-testid="delivery-row"][data-status="delivered"]').nth(1).waitFor({ timeout: T });
    assert.deepEqual((await rows.evaluateAll((els) => els.map((el) => /** @type {HTMLElement} */ (el).dataset.type))).sort(), ['message.created', 'session.created']);
    await receiver.until((all) => all.length >= 2, 'the two first deliveries');
    for (const request of receiver.received) assertSigned(request, secret);

    // The receiver fails: the next delivery is tried three times (1 + 2 retries), then failed, all live.
    receiver.answer(500);
    await server.rest('POST', `/api/chat/sessions/${session.id}/messages`, customerToken, { content: 'Hello?' });
    const newest = rows.first();
    await log.locator('[data-testid="delivery-row"][data-type="message.created"][data-status="pending"][data-attempts="1"]').waitFor({ timeout: T });
    await log.locator('[data-testid="delivery-row"][data-status="failed"]').waitFor({ timeout: T });
    assert.equal(await rows.count(), 3);
    assert.equal(await newest.getAttribute('data-status'), 'failed', 'newest first');
    assert.equal(await newest.getAttribute('data-attempts'), '3');
    assert.match(await newest.getByTestId('delivery-outcome').innerText(), /HTTP 500/);
    const failedId = await newest.getAttribute('data-delivery-id');
    await receiver.until((all) => all.filter((r) => r.answered === 500).length === 3, 'three failed attempts');
    const attempts = receiver.received.filter((r) => r.answered === 500);
    assert.equal(new Set(attempts.map((r) => r.headers['webhook-id'])).size, 1, 'one event id on every attempt');
    await shot(page, '03-delivery-failed');

    // The receiver recovers; Retry sends it again, and it is delivered.
    receiver.answer(204);
    await newest.getByRole('button', { name: 'Retry message.created delivery' }).click();
    await log.locator(`[data-testid="delivery-row"][data-delivery-id="${failedId}"][data-status="delivered"]`).waitFor({ timeout: T });
    assert.equal(await log.locator(`[data-delivery-id="${failedId}"]`).getByRole('button', { name: /Retry/ }).count(), 0);
    await receiver.until((all) => all.some((r) => r.answered === 204 && r.headers['webhook-id'] === attempts[0].headers['webhook-id']), 'the retried delivery');
    assert.equal(await rows.count(), 3);
    await shot(page, '04-delivery-retried');
    assert.equal(logFetches.length, 1, `the log was fetched once, then kept live: ${logFetches.join(', ')}`);

    // Removing the endpoint asks first.
    await endpoint.getByRole('button', { name: `Remove ${receiver.url}` }).click();
    const confirm = endpoint.getByTestId('webhook-remove-confirm');
    await confirm.getByRole('button', { name: 'Keep it' }).click();
    await confirm.waitFor({ state: 'detached', timeout: T });
    await endpoint.getByRole('button', { name: `Remove ${receiver.url}` }).click();
    await confirm.getByRole('button', { name: 'Remove' }).click();
    await hooks.getByText('No endpoints yet.').waitFor({ timeout: T });

    // Revoking the key asks first, and the key stops working at once.
    await row.getByRole('button', { name: 'Revoke CRM sync' }).click();
    await keys.getByTestId('api-key-revoke-confirm').getByRole('button', { name: 'Revoke' }).click();
    await keys.getByText('No API keys yet.').waitFor({ timeout: T });
    const refused = await serverApi(key, '/api/server/publish', { event: 'notify.crm', data: {}, to: { agents: true } });
    assert.equal(refused.status, 401, refused.body);
  } finally {
    await receiver.close();
  }
});

scenarioTest('a notify. event published with an API key shows as a toast on the agents\' dashboards', async (open) => {
  const tenant = newTenant('notify');
  const adminToken = await server.token({ sub: subject('admin', 'Ada'), role: 'admin', name: 'Ada Admin', tenant });
  const created = await server.rest('POST', '/api/api-keys', adminToken, { name: 'CRM' });
  const key = /** @type {string} */ (created.key);

  const { page: bo } = await open({ tenant, role: 'agent', name: 'Bo Agent', pathname: '/dashboard' });
  await connected(bo);
  // Integrations are in the nav of admins only.
  assert.equal(await bo.getByRole('link', { name: 'Integrations' }).count(), 0);

  const published = await serverApi(key, '/api/server/publish', {
    event: 'notify.crm',
    data: { title: 'New contact', message: 'Ada' },
    to: { agents: true },
  });
  assert.equal(published.status, 202, published.body);
  const toasts = bo.getByTestId('toast');
  const contact = toasts.filter({ hasText: 'New contact' });
  await contact.waitFor({ timeout: T });
  assert.match(await contact.innerText(), /Ada/);
  assert.equal(await contact.getAttribute('data-level'), 'info');
  // In a polite status region, for screen readers.
  assert.equal(await bo.locator('.toasts [role="status"][aria-live="polite"]').getByTestId('toast').count(), 1);

  // Other data: the event's name and the JSON; a level colours it. A non-notify event is no toast.
  for (const body of [
    { event: 'crm.sync', data: { title: 'Not a toast' }, to: { agents: true } },
    { event: 'notify.bulk', data: { sent: 120, total: 500 }, to: { agents: true } },
    { event: 'notify.whatsapp', data: { message: 'Line 2 is down', level: 'error' }, to: { agents: true } },
  ]) {
    const answer = await serverApi(key, '/api/server/publish', body);
    assert.equal(answer.status, 202, answer.body);
  }
  await toasts.filter({ hasText: 'Line 2 is down' }).waitFor({ timeout: T });
  const bulk = toasts.filter({ hasText: 'notify.bulk' });
  assert.match(await bulk.innerText(), /\{"sent":120,"total":500\}/);
  assert.equal(await toasts.filter({ hasText: 'Line 2 is down' }).getAttribute('data-level'), 'error');
  assert.equal(await toasts.filter({ hasText: 'Not a toast' }).count(), 0);
  assert.equal(await toasts.count(), 3, 'stacked');
  await shot(bo, '05-notify-toasts');

  // Closed by hand.
  await contact.getByRole('button', { name: 'Dismiss notification' }).click();
  await contact.waitFor({ state: 'detached', timeout: T });
  assert.equal(await toasts.count(), 2);

  // The admin's nav has the page; the key shows it was used.
  const { page: ada } = await open({ tenant, role: 'admin', name: 'Ada Admin', pathname: '/dashboard' });
  await connected(ada);
  assert.equal(await ada.getByRole('link', { name: 'Integrations' }).getAttribute('href'), '/integrations');
  const { page: settings } = await open({ tenant, role: 'admin', name: 'Ada Admin', pathname: '/integrations' });
  const used = settings.getByTestId('api-key-row').filter({ hasText: 'CRM' }).getByTestId('api-key-last-used');
  await used.waitFor({ timeout: T });
  assert.notEqual(await used.innerText(), 'never');
});
