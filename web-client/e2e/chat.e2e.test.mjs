// End to end: the built client (dist/) served by the real server, a
// customer and an agent in two browser contexts of Debian's Chromium.
// One scenario: start, queue, take, talk both ways with typing and read
// receipts, server killed and restarted mid-conversation, close.
// Screenshots go to ../test-artifacts/. Every wait is for a selector or a
// text, with a timeout; nothing sleeps.
//
// Run: npm run e2e   (builds dist/ first; needs ../target/debug/switchboard
// and `chromium` on PATH: apt-get install -y chromium)

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { chromiumPath } from '../test-support/chromium.js';
import { startServer, webClientDir } from '../test-support/switchboardServer.js';

const artifacts = path.resolve(webClientDir, '../test-artifacts');
const distDir = path.join(webClientDir, 'dist');
const T = 15_000;

/** @param {import('playwright-core').Page} page */
const bubbles = (page) => page.locator('[data-testid="message"] .msg__bubble').allInnerTexts();

/** @param {import('playwright-core').Page} page @param {string} status */
const connection = (page, status) =>
  page.locator(`[data-testid="connection-status"][data-status="${status}"]`).first().waitFor({ timeout: T });

/**
 * Types like a person (one key at a time: that is what sends typing events).
 * @param {import('playwright-core').Page} page @param {string} text
 */
async function typeMessage(page, text) {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.click();
  await box.pressSequentially(text, { delay: 15 });
}

/** Waits until the page shows exactly `expected` messages, in that order. */
async function expectMessages(/** @type {import('playwright-core').Page} */ page, /** @type {string[]} */ expected) {
  await page.waitForFunction(
    (want) => {
      const rows = [...document.querySelectorAll('[data-testid="message"]')];
      const got = rows.map((e) => e.querySelector('.msg__bubble')?.textContent);
      const settled = rows.every((e) => e.getAttribute('data-state') !== 'pending');
      return settled && got.length === want.length && got.every((t, i) => t === want[i]);
    },
    expected,
    { timeout: T },
  ).catch(async (err) => {
    assert.deepEqual(await bubbles(page), expected, `messages on ${page.url()}`);
    throw err;
  });
  // And none is still pending.
  assert.equal(await page.locator('[data-testid="message"][data-state="pending"]').count(), 0);
}

/** Every page of the test, for screenshots when it fails. */
const openPages = /** @type {Map<string, import('playwright-core').Page>} */ (new Map());

test('a customer and an agent chat through a server restart', { timeout: 240_000 }, async (t) => {
  try {
    await scenario(t);
  } catch (err) {
    for (const [name, page] of openPages) {
      await page.screenshot({ path: path.join(artifacts, `e2e-failure-${name}.png`) }).catch(() => {});
    }
    throw err;
  }
});

/** @param {import('node:test').TestContext} t */
async function scenario(t) {
  assert.ok(existsSync(path.join(distDir, 'index.html')), 'dist/ is missing: run npm run build');
  mkdirSync(artifacts, { recursive: true });
  const shot = (/** @type {import('playwright-core').Page} */ page, /** @type {string} */ name, fullPage = false) =>
    page.screenshot({ path: path.join(artifacts, `e2e-${name}.png`), fullPage });

  const server = await startServer({ staticDir: distDir });
  t.after(async () => {
    // The server's output, for the report when something went wrong.
    writeFileSync(path.join(artifacts, 'e2e-server.log'), server.log);
    await server.stop();
  });
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
  });
  t.after(() => browser.close());

  const agentContext = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const customerContext = await browser.newContext({ viewport: { width: 390, height: 780 }, isMobile: false });
  const agent = await agentContext.newPage();
  const customer = await customerContext.newPage();
  openPages.set('agent', agent);
  openPages.set('customer', customer);
  agent.on('pageerror', (err) => console.error('[agent] page error:', err));
  customer.on('pageerror', (err) => console.error('[customer] page error:', err));
  /** Whatever the server's Content-Security-Policy refused: the client must need nothing it forbids. */
  const cspViolations = /** @type {string[]} */ ([]);
  for (const [who, page] of /** @type {const} */ ([['agent', agent], ['customer', customer]])) {
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') console.error(`[${who}] console ${msg.type()}: ${msg.text()}`);
      if (/Content Security Policy/i.test(msg.text())) cspViolations.push(`[${who}] ${msg.text()}`);
    });
  }

  // -- the front page -------------------------------------------------------
  await agent.goto(server.url + '/');
  await agent.getByRole('link', { name: /Agent dashboard/ }).waitFor({ timeout: T });
  await shot(agent, '01-home');

  // -- the agent signs in -----------------------------------------------------
  await agent.getByRole('link', { name: /Agent dashboard/ }).click();
  await agent.getByLabel('Your name').fill('Bo Agent');
  await agent.getByRole('button', { name: 'Open dashboard' }).click();
  await connection(agent, 'connected');
  await agent.getByTestId('stat-agents').filter({ hasText: '1' }).waitFor({ timeout: T });
  await agent.getByTestId('queue-count').filter({ hasText: /^0$/ }).waitFor({ timeout: T });
  await shot(agent, '02-dashboard-empty');

  // -- the customer starts a chat and waits in the queue ----------------------
  await customer.goto(server.url + '/widget');
  await customer.getByLabel('Your name').fill('Ana Customer');
  await customer.getByLabel(/Subject/).fill('Order #1234');
  await customer.getByLabel('How can we help?').fill('My parcel never arrived');
  await shot(customer, '03-widget-start');
  await customer.getByRole('button', { name: 'Start chat' }).click();
  await customer.getByTestId('queue-banner').waitFor({ timeout: T });
  await customer.locator('[data-testid="session-state"][data-session-status="pending"]').waitFor({ timeout: T });
  await connection(customer, 'connected');
  await expectMessages(customer, ['My parcel never arrived']);
  await shot(customer, '04-widget-queue');

  // -- the agent sees the toast and the queue grow, and takes the chat --------
  await agent.getByTestId('toast').filter({ hasText: 'New chat from Ana Customer' }).waitFor({ timeout: T });
  await agent.getByTestId('queue-count').filter({ hasText: /^1$/ }).waitFor({ timeout: T });
  await agent.getByTestId('stat-pending').filter({ hasText: /^1$/ }).waitFor({ timeout: T });
  await shot(agent, '05-dashboard-toast');
  await agent.getByRole('button', { name: 'Take chat from Ana Customer' }).click();
  await agent.locator('[data-testid="chat-panel"] [data-testid="panel-status"]').filter({ hasText: 'active' }).waitFor({ timeout: T });
  await agent.getByTestId('queue-count').filter({ hasText: /^0$/ }).waitFor({ timeout: T });
  await agent.getByTestId('stat-active').filter({ hasText: /^1$/ }).waitFor({ timeout: T });
  await customer.locator('[data-testid="session-state"][data-session-status="active"]').filter({ hasText: 'Chatting with Bo Agent' }).waitFor({ timeout: T });
  await customer.getByTestId('agent-banner').waitFor({ timeout: T });
  await expectMessages(agent, ['My parcel never arrived']);

  // The agent has the customer's message on screen: the customer sees "Read".
  await customer.locator('[data-testid="message"][data-state="read"] [data-testid="message-status"]').filter({ hasText: 'Read' }).waitFor({ timeout: T });

  // -- talking both ways, with typing indicators -----------------------------
  await typeMessage(agent, 'Hello Ana, let me check that for you.');
  await customer.getByTestId('typing-indicator').filter({ hasText: 'Bo Agent is typing' }).waitFor({ timeout: T });
  await shot(customer, '06-widget-agent-typing');
  await agent.keyboard.press('Enter');
  await expectMessages(customer, ['My parcel never arrived', 'Hello Ana, let me check that for you.']);
  await customer.getByTestId('typing-indicator').filter({ hasText: /^$/ }).waitFor({ timeout: T });

  await typeMessage(customer, 'Thanks! It was due on Monday.');
  await agent.getByTestId('typing-indicator').filter({ hasText: 'Ana Customer is typing' }).waitFor({ timeout: T });
  await customer.keyboard.press('Enter');
  const beforeRestart = ['My parcel never arrived', 'Hello Ana, let me check that for you.', 'Thanks! It was due on Monday.'];
  await expectMessages(agent, beforeRestart);
  await expectMessages(customer, beforeRestart);
  // Read receipts both ways: each side has the other's newest message on screen.
  await agent.locator('[data-testid="message"][data-state="read"] [data-testid="message-status"]').filter({ hasText: 'Read' }).waitFor({ timeout: T });
  await customer
    .locator('[data-testid="message"]')
    .last()
    .locator('[data-testid="message-status"]')
    .filter({ hasText: 'Read' })
    .waitFor({ timeout: T });
  await shot(agent, '07-dashboard-chat');
  await shot(customer, '08-widget-chat');

  // -- the server dies (SIGKILL) and comes back on the same port and db -------
  await server.kill('SIGKILL');
  await connection(customer, 'connecting');
  await connection(agent, 'connecting');
  // Written during the outage: shown as pending, delivered after the restart.
  await typeMessage(customer, 'Hello? Are you still there?');
  await customer.keyboard.press('Enter');
  await customer.locator('[data-testid="message"][data-state="pending"]').waitFor({ timeout: T });
  await shot(customer, '09-widget-offline');
  await server.restart();
  await connection(customer, 'connected');
  await connection(agent, 'connected');
  const afterOutage = [...beforeRestart, 'Hello? Are you still there?'];
  await expectMessages(customer, afterOutage);
  await expectMessages(agent, afterOutage);

  await typeMessage(agent, 'Still here. Your parcel ships again today.');
  await agent.keyboard.press('Enter');
  await typeMessage(customer, 'Great, thank you!');
  await customer.keyboard.press('Enter');
  const all = [...afterOutage, 'Still here. Your parcel ships again today.', 'Great, thank you!'];
  await expectMessages(agent, all);
  await expectMessages(customer, all);
  // Exactly once each, in seq order, on both pages.
  for (const page of [agent, customer]) {
    const seqs = await page.locator('[data-testid="message"]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
    assert.deepEqual(seqs, all.map((_, i) => i + 1), `seq on ${page.url()}`);
  }

  // -- a reload keeps the tab's identity and finds the open chat ---------------
  await customer.reload();
  await connection(customer, 'connected');
  await expectMessages(customer, all);

  // -- a second chat: taken from the toast, unread count while elsewhere ------
  const deeContext = await browser.newContext({ viewport: { width: 390, height: 700 } });
  const dee = await deeContext.newPage();
  openPages.set('dee', dee);
  await dee.goto(server.url + '/widget');
  await dee.getByLabel('Your name').fill('Dee Second');
  await dee.getByLabel('How can we help?').fill('Question about invoices');
  await dee.getByRole('button', { name: 'Start chat' }).click();
  await dee.getByTestId('queue-banner').waitFor({ timeout: T });
  const deeToast = agent.getByTestId('toast').filter({ hasText: 'New chat from Dee Second' });
  await deeToast.getByRole('button', { name: 'Take' }).click();
  await agent.locator('[data-testid="chat-panel"]').filter({ hasText: 'Dee Second' }).locator('[data-testid="panel-status"]').filter({ hasText: 'active' }).waitFor({ timeout: T });
  await dee.locator('[data-testid="session-state"][data-session-status="active"]').waitFor({ timeout: T });
  // Back to Ana; Dee writes meanwhile: her chat shows 1 unread.
  await agent.locator('[data-testid="session-item"]').filter({ hasText: 'Ana Customer' }).click();
  await agent.locator('[data-testid="chat-panel"]').filter({ hasText: 'Ana Customer' }).waitFor({ timeout: T });
  await typeMessage(dee, 'Anyone there?');
  await dee.keyboard.press('Enter');
  const deeItem = agent.locator('[data-testid="session-item"]').filter({ hasText: 'Dee Second' });
  await deeItem.getByTestId('unread-count').filter({ hasText: /^1$/ }).waitFor({ timeout: T });
  await shot(agent, '10-dashboard-two-chats');
  await deeItem.click();
  await expectMessages(agent, ['Question about invoices', 'Anyone there?']);
  await deeItem.getByTestId('unread-count').waitFor({ state: 'detached', timeout: T });
  await dee.locator('[data-testid="message"]').last().locator('[data-testid="message-status"]').filter({ hasText: 'Read' }).waitFor({ timeout: T });
  await agent.locator('[data-testid="session-item"]').filter({ hasText: 'Ana Customer' }).click();
  await agent.locator('[data-testid="chat-panel"]').filter({ hasText: 'Ana Customer' }).waitFor({ timeout: T });
  await expectMessages(agent, all);

  // -- the agent closes the chat; the widget shows it -------------------------
  await agent.getByRole('button', { name: 'Close chat' }).click();
  await customer.getByTestId('closed-banner').filter({ hasText: 'closed by Bo Agent' }).waitFor({ timeout: T });
  await customer.locator('[data-testid="session-state"][data-session-status="closed"]').waitFor({ timeout: T });
  assert.equal(await customer.getByRole('textbox', { name: 'Message' }).isDisabled(), true);
  await agent.locator('[data-testid="chat-panel"] [data-testid="panel-status"]').filter({ hasText: 'closed' }).waitFor({ timeout: T });
  await agent.getByTestId('stat-closed').filter({ hasText: /^1$/ }).waitFor({ timeout: T });
  await agent.getByTestId('stat-active').filter({ hasText: /^1$/ }).waitFor({ timeout: T });
  await shot(customer, '11-widget-closed');
  await shot(agent, '12-dashboard-closed');

  // -- small screens ------------------------------------------------------------
  await agent.setViewportSize({ width: 360, height: 780 });
  await shot(agent, '13-dashboard-360px', true);
  await customer.setViewportSize({ width: 360, height: 700 });
  await shot(customer, '14-widget-360px');
  // After a closed chat, a new one can start (same identity, no name asked).
  await customer.getByRole('button', { name: 'Start a new chat' }).click();
  await customer.locator('.signed-in').filter({ hasText: 'Chatting as Ana Customer' }).waitFor({ timeout: T });

  // -- outside development mode pages take ?token= ----------------------------
  const urlToken = await server.token({ sub: 'customer-cy-url', role: 'customer', name: 'Cy Token' });
  const cyContext = await browser.newContext({ viewport: { width: 390, height: 700 } });
  const cy = await cyContext.newPage();
  await cy.goto(`${server.url}/widget?token=${encodeURIComponent(urlToken)}`);
  await cy.locator('.signed-in').filter({ hasText: 'Chatting as Cy Token' }).waitFor({ timeout: T });
  assert.equal(await cy.getByLabel('Your name').count(), 0);
  // The token is used, and gone from the address bar (history, bookmarks).
  assert.equal(new URL(cy.url()).pathname, '/widget');
  assert.ok(!cy.url().includes(urlToken) && !new URL(cy.url()).searchParams.has('token'), `token left in ${cy.url()}`);

  const overflow = await agent.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `dashboard overflows horizontally at 360 px by ${overflow}px`);
  const csp = await cy.evaluate(() => fetch('/').then((r) => r.headers.get('content-security-policy')));
  assert.match(String(csp), /default-src 'self'/, 'the page is served with a Content-Security-Policy');
  assert.deepEqual(cspViolations, []);
}
