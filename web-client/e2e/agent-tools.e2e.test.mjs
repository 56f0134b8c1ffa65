// End to end, agent tools (PROTOCOL §10): the built client (dist/) served
// by the real server, customers, agents and an admin in browser contexts of
// Debian's Chromium. One server for the file; each test has its own tenant
// (pages opened with ?token= minted for it). Private notes never reach the
// widget; canned responses are inserted with their placeholders filled;
// the transcript downloads with the notes; admins manage canned responses
// on the settings page. Screenshots go to ../test-artifacts/. Every wait is
// for a selector, an event or a text, with a timeout; nothing sleeps.
//
// Run: npm run e2e   (builds dist/ first; needs a server binary with agent
// tools (../target/debug/switchboard or SWITCHBOARD_BIN) and `chromium` on PATH)

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { artifacts, browserSuite } from '../test-support/browserSuite.js';

const T = 15_000;

/** @typedef {import('playwright-core').Page} Page */
/** @typedef {import('playwright-core').BrowserContext} Context */

/** @type {Awaited<ReturnType<typeof import('../test-support/switchboardServer.js').startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
const suite = browserSuite({
  label: 'agent-tools',
  checkCsp: true,
  ready: (started, launched) => {
    server = started;
    browser = launched;
  },
});

/**
 * @typedef {{ tenant: string, role: 'customer' | 'agent' | 'admin', name: string, pathname: string, context?: Context }} Who
 * @typedef {{ page: Page, token: string, id: string, context: Context }} Opened
 * @typedef {(who: Who) => Promise<Opened>} Open
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
const newTenant = (label) => `tools-${label}-${++tenantCounter}-${Math.random().toString(36).slice(2, 7)}`;

/**
 * A user of `tenant`: a token, and a page opened on `pathname` with it
 * (`?token=`), in a context of its own unless one is given (two tabs of
 * one browser share a BroadcastChannel).
 * @param {Context[]} contexts
 * @param {Who} who
 * @returns {Promise<Opened>}
 */
async function openAs(contexts, { tenant, role, name, pathname, context: shared }) {
  const id = `${role}-${name.toLowerCase().replace(/\W+/g, '-')}-${Math.random().toString(36).slice(2, 8)}`;
  const token = await server.token({ sub: id, role, name, tenant });
  let context = shared;
  if (!context) {
    const viewport = role === 'customer' ? { width: 390, height: 780 } : { width: 1280, height: 820 };
    context = await browser.newContext({ viewport, acceptDownloads: true });
    contexts.push(context);
  }
  const page = await context.newPage();
  suite.watch(page, name.split(' ')[0].toLowerCase());
  await page.goto(`${server.url}${pathname}?token=${encodeURIComponent(token)}`);
  return { page, token, id, context };
}

/** @param {Page} page @param {string} name */
const shot = suite.shot;

/** @param {Page} page */
const connected = (page) => page.locator('[data-testid="connection-status"][data-status="connected"]').first().waitFor({ timeout: T });

const escape = (/** @type {string} */ text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Waits until a message with exactly this text is shown, stored (not pending). @param {Page} page @param {string} text */
const seeMessage = (page, text) =>
  page
    .locator('[data-testid="message"]:not([data-state="pending"]) .msg__bubble')
    .filter({ hasText: new RegExp(`^${escape(text)}$`) })
    .waitFor({ timeout: T });

/** The agent's message box. @param {Page} page */
const messageBox = (page) => page.getByRole('textbox', { name: 'Message' });

/**
 * A customer's chat (widget) taken by an agent (dashboard), both pages open on it.
 * @param {Open} open @param {string} tenant @param {string} firstMessage
 */
async function chatBetween(open, tenant, firstMessage) {
  const customer = await open({ tenant, role: 'customer', name: 'Ana Customer', pathname: '/widget' });
  await customer.page.getByLabel('How can we help?').fill(firstMessage);
  await customer.page.getByRole('button', { name: 'Start chat' }).click();
  await customer.page.getByTestId('queue-banner').waitFor({ timeout: T });
  await connected(customer.page);
  const agent = await open({ tenant, role: 'agent', name: 'Bo Agent', pathname: '/dashboard' });
  await connected(agent.page);
  await agent.page.getByRole('button', { name: 'Take chat from Ana Customer' }).click();
  const panel = agent.page.getByTestId('chat-panel');
  await panel.getByTestId('panel-status').filter({ hasText: 'active' }).waitFor({ timeout: T });
  await customer.page.locator('[data-testid="session-state"][data-session-status="active"]').waitFor({ timeout: T });
  await seeMessage(agent.page, firstMessage);
  const sessionId = await panel.getAttribute('data-session-id');
  assert.ok(sessionId);
  return { customer, agent, sessionId };
}

/** Writes a private note from the agent's composer. @param {Page} page @param {string} text */
async function writeNote(page, text) {
  await page.getByRole('radio', { name: 'Note' }).check();
  await page.getByTestId('note-mode-label').filter({ hasText: 'Note — only agents see this' }).waitFor({ timeout: T });
  const box = messageBox(page);
  await box.click();
  await box.pressSequentially(text, { delay: 10 });
  await box.press('Enter');
  await page.getByTestId('note').filter({ hasText: text }).waitFor({ timeout: T });
}

/** The rows of the agent's thread, in order: messages as their text, notes as `note: text`. @param {Page} page */
const threadRows = (page) =>
  page.getByTestId('message-list').evaluate((list) =>
    [...list.querySelectorAll('[data-testid="message"], [data-testid="note"]')].map((el) =>
      el.getAttribute('data-testid') === 'note'
        ? `note: ${el.querySelector('.note__content')?.textContent}`
        : (el.querySelector('.msg__bubble')?.textContent ?? ''),
    ),
  );

scenarioTest('an agent writes a note the customer never sees, while a reply reaches them', async (open) => {
  const tenant = newTenant('note');
  const { customer, agent } = await chatBetween(open, tenant, 'I was charged twice');
  const ana = customer.page;
  const bo = agent.page;

  // From now on, everything the widget's typing indicator ever says.
  await ana.evaluate(() => {
    const seen = /** @type {string[]} */ ([]);
    Object.assign(window, { typingSeen: seen });
    const indicator = document.querySelector('[data-testid="typing-indicator"]');
    if (!indicator) throw new Error('no typing indicator on the widget');
    new MutationObserver(() => seen.push(indicator.textContent ?? '')).observe(indicator, { subtree: true, childList: true, characterData: true });
  });

  // The switch is a radio group: the arrow keys move from Reply to Note.
  await bo.getByRole('radio', { name: 'Reply' }).focus();
  await bo.keyboard.press('ArrowRight');
  assert.equal(await bo.getByRole('radio', { name: 'Note' }).isChecked(), true);
  await bo.getByTestId('composer-mode').and(bo.locator('[data-mode="note"]')).waitFor({ timeout: T });

  // Note mode: the yellow composer, labelled; the note shows in the thread, labelled, with author and time.
  await writeNote(bo, 'Refund approved by finance');
  assert.equal(await bo.locator('form.composer').evaluate((f) => f.classList.contains('composer--note')), true);
  const note = bo.getByTestId('note').filter({ hasText: 'Refund approved by finance' });
  await note.filter({ hasText: 'Note · only agents see this' }).filter({ hasText: 'Bo Agent' }).waitFor({ timeout: T });
  assert.match(await note.locator('time').innerText(), /\d/);
  await shot(bo, '01-dashboard-note');

  // The customer's side has moved on without it: a message from Ana, read by Bo (his
  // socket's events after the note reach her before that receipt).
  const ping = ana.getByRole('textbox', { name: 'Message' });
  await ping.fill('Any news?');
  await ping.press('Enter');
  await seeMessage(bo, 'Any news?');
  await ana.locator('[data-testid="message"]').filter({ hasText: 'Any news?' }).getByTestId('message-status').filter({ hasText: 'Read' }).waitFor({ timeout: T });
  const typingSeen = /** @type {string[]} */ (await ana.evaluate(() => /** @type {any} */ (window).typingSeen));
  assert.deepEqual(typingSeen.filter((t) => /typing/i.test(t)), [], 'writing a note shows no "typing…" to the customer');

  // Back to Reply: a normal reply reaches the customer.
  await bo.getByRole('radio', { name: 'Reply' }).check();
  assert.equal(await bo.locator('form.composer').evaluate((f) => f.classList.contains('composer--note')), false);
  const box = messageBox(bo);
  await box.fill('Your refund is on its way.');
  await box.press('Enter');
  await seeMessage(ana, 'Your refund is on its way.');
  assert.deepEqual(await threadRows(bo), ['I was charged twice', 'note: Refund approved by finance', 'Any news?', 'Your refund is on its way.']);

  // The widget shows neither the note nor any note UI, live or opened again (a fresh join).
  /** @param {Page} page */
  const noNoteOn = async (page) => {
    assert.ok(!(await page.locator('body').innerText()).includes('Refund approved by finance'));
    assert.equal(await page.getByTestId('note').count(), 0);
    assert.equal(await page.getByRole('radio', { name: 'Note' }).count(), 0);
  };
  await noNoteOn(ana);
  await shot(ana, '02-widget-no-note');
  // (The widget takes ?token= out of the address, so a reload would sign out: a new tab with it.)
  const again = await customer.context.newPage();
  suite.watch(again, 'ana-again');
  await again.goto(`${server.url}/widget?token=${encodeURIComponent(customer.token)}`);
  await connected(again);
  await seeMessage(again, 'Your refund is on its way.');
  await seeMessage(again, 'Any news?');
  await noNoteOn(again);

  // The agent's dashboard opened again: the note comes back with the join, at its place.
  await bo.close();
  const bo2 = await agent.context.newPage();
  suite.watch(bo2, 'bo-again');
  await bo2.goto(`${server.url}/dashboard?token=${encodeURIComponent(agent.token)}`);
  await connected(bo2);
  await bo2.getByTestId('session-item').filter({ hasText: 'Ana Customer' }).click();
  await bo2.getByTestId('note').filter({ hasText: 'Refund approved by finance' }).waitFor({ timeout: T });
  await seeMessage(bo2, 'Your refund is on its way.');
  assert.deepEqual(await threadRows(bo2), ['I was charged twice', 'note: Refund approved by finance', 'Any news?', 'Your refund is on its way.']);
});

scenarioTest('an agent inserts a canned response with /ref and Enter; the customer gets it with the names filled in', async (open) => {
  const tenant = newTenant('canned');
  const adminToken = await server.token({ sub: 'admin-canned', role: 'admin', name: 'Ada Admin', tenant });
  await server.rest('POST', '/api/canned-responses', adminToken, {
    shortcut: 'refund',
    title: 'Refund on its way',
    content: 'Hi {{customer.name}}, your refund is on its way. — {{agent.name}}',
  });
  await server.rest('POST', '/api/canned-responses', adminToken, { shortcut: 'thanks', title: 'Thanks', content: 'Thank you for waiting!' });

  const { customer, agent } = await chatBetween(open, tenant, 'Where is my money?');
  const bo = agent.page;
  const box = messageBox(bo);
  await box.click();
  await box.pressSequentially('/ref', { delay: 20 });
  const picker = bo.getByTestId('canned-picker');
  const option = picker.getByRole('option').filter({ hasText: '/refund' });
  await option.filter({ hasText: 'Refund on its way' }).filter({ hasText: 'your refund is on its way' }).waitFor({ timeout: T });
  assert.equal(await picker.getByRole('option').count(), 1, '/thanks does not match /ref');
  assert.equal(await option.getAttribute('aria-selected'), 'true');
  await shot(bo, '03-dashboard-canned-picker');

  await box.press('Enter');
  await picker.waitFor({ state: 'detached', timeout: T });
  const filled = 'Hi Ana Customer, your refund is on its way. — Bo Agent';
  assert.equal(await box.inputValue(), filled);
  await shot(bo, '04-dashboard-canned-inserted');
  await box.press('Enter');
  await seeMessage(customer.page, filled);
  await seeMessage(bo, filled);

  // Escape closes the list; Enter then sends the text as typed.
  await box.pressSequentially('/th', { delay: 20 });
  await picker.getByRole('option').filter({ hasText: '/thanks' }).waitFor({ timeout: T });
  await box.press('Escape');
  await picker.waitFor({ state: 'detached', timeout: T });
  assert.equal(await box.inputValue(), '/th');
  await box.fill('');
  // A click inserts too.
  await box.pressSequentially('/', { delay: 20 });
  await picker.getByRole('option').filter({ hasText: '/thanks' }).click();
  assert.equal(await box.inputValue(), 'Thank you for waiting!');
});

scenarioTest('the transcript button downloads session-{id}.txt with the messages and the note', async (open) => {
  const tenant = newTenant('transcript');
  const { customer, agent, sessionId } = await chatBetween(open, tenant, 'My parcel is late');
  const bo = agent.page;
  const box = messageBox(bo);
  await box.fill('Let me check with the courier.');
  await box.press('Enter');
  await seeMessage(customer.page, 'Let me check with the courier.');
  await writeNote(bo, 'Courier says Tuesday');

  const [download] = await Promise.all([bo.waitForEvent('download', { timeout: T }), bo.getByRole('button', { name: 'Download transcript' }).click()]);
  assert.equal(download.suggestedFilename(), `session-${sessionId}.txt`);
  const saved = await download.path();
  assert.ok(saved, `download failed: ${await download.failure()}`);
  const text = readFileSync(saved, 'utf8');
  assert.match(text, /^Customer: Ana Customer$/m);
  assert.match(text, /^Agent: Bo Agent$/m);
  assert.match(text, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\] Ana Customer \(customer\): My parcel is late$/m);
  assert.match(text, /^\[[^\]]+\] Bo Agent \(agent\): Let me check with the courier\.$/m);
  assert.match(text, /^\[[^\]]+\] \[note\] Bo Agent: Courier says Tuesday$/m);
  assert.ok(text.indexOf('Let me check with the courier.') < text.indexOf('Courier says Tuesday'), 'the note after the message it followed');
  writeFileSync(path.join(artifacts, 'e2e-agent-tools-transcript.txt'), text);
});

scenarioTest('an admin manages canned responses on the settings page; an open dashboard follows; agents only read them', async (open) => {
  const tenant = newTenant('settings');
  const customerToken = await server.token({ sub: 'customer-cid', role: 'customer', name: 'Cid Customer', tenant });
  await server.rest('POST', '/api/chat/sessions', customerToken, { message: 'Hello' });
  const admin = await open({ tenant, role: 'admin', name: 'Ada Admin', pathname: '/settings' });
  const settings = admin.page;
  const section = settings.getByTestId('canned-settings');
  await section.getByText('No canned responses yet.').waitFor({ timeout: T });

  // The admin's dashboard in another tab of the same browser, a chat open: the picker's list is loaded, empty.
  const dashboard = await open({ tenant, role: 'admin', name: 'Ada Admin', pathname: '/dashboard', context: admin.context });
  await connected(dashboard.page);
  await dashboard.page.getByRole('button', { name: 'Take chat from Cid Customer' }).click();
  await seeMessage(dashboard.page, 'Hello');
  const box = messageBox(dashboard.page);
  await box.click();
  await box.pressSequentially('/', { delay: 20 });
  const picker = dashboard.page.getByTestId('canned-picker');
  await picker.getByText('No canned responses yet').waitFor({ timeout: T });
  await box.press('Escape');
  await box.fill('');

  // Create: a bad shortcut is refused with the rule; a good one is listed.
  await section.getByRole('button', { name: 'New canned response' }).click();
  const form = section.getByTestId('canned-form');
  await form.getByLabel('Shortcut').fill('Late Delivery');
  await form.getByLabel('Text', { exact: true }).fill('Sorry {{customer.name}}, it is on its way.');
  await form.getByRole('button', { name: 'Add canned response' }).click();
  await form.getByTestId('canned-shortcut-error').filter({ hasText: 'Lowercase letters, digits, _ and -' }).waitFor({ timeout: T });
  await form.getByLabel('Shortcut').fill('late');
  await form.getByLabel(/Title/).fill('Late delivery');
  await form.getByRole('button', { name: 'Add canned response' }).click();
  await form.waitFor({ state: 'detached', timeout: T });
  const lateRow = section.locator('[data-testid="canned-row"][data-shortcut="late"]');
  await lateRow.filter({ hasText: 'Late delivery' }).filter({ hasText: 'Sorry {{customer.name}}, it is on its way.' }).waitFor({ timeout: T });

  // A second one with the same shortcut: the server's conflict, in words.
  await section.getByRole('button', { name: 'New canned response' }).click();
  await form.getByLabel('Shortcut').fill('late');
  await form.getByLabel('Text', { exact: true }).fill('Another text');
  await form.getByRole('button', { name: 'Add canned response' }).click();
  await form.getByTestId('canned-shortcut-error').filter({ hasText: 'That shortcut is taken.' }).waitFor({ timeout: T });
  await shot(settings, '05-settings-canned-conflict');
  await form.getByRole('button', { name: 'Cancel' }).click();

  // Edit.
  await lateRow.getByRole('button', { name: 'Edit /late' }).click();
  await section.getByTestId('canned-form').getByLabel('Text', { exact: true }).fill('Sorry {{customer.name}}, your parcel arrives tomorrow.');
  await section.getByRole('button', { name: 'Save /late' }).click();
  await lateRow.filter({ hasText: 'your parcel arrives tomorrow' }).waitFor({ timeout: T });
  const stored = await server.rest('GET', '/api/canned-responses', admin.token);
  assert.deepEqual(stored.items.map((/** @type {any} */ r) => [r.shortcut, r.title, r.content]), [['late', 'Late delivery', 'Sorry {{customer.name}}, your parcel arrives tomorrow.']]);
  await shot(settings, '06-settings-canned-list');

  // The dashboard tab was told: its picker offers the new response without a reload.
  await box.pressSequentially('/la', { delay: 20 });
  await picker.getByRole('option').filter({ hasText: '/late' }).waitFor({ timeout: T });
  await box.press('Enter');
  assert.equal(await box.inputValue(), 'Sorry Cid Customer, your parcel arrives tomorrow.');
  await shot(dashboard.page, '07-dashboard-followed-settings');

  // An agent sees the list read-only.
  const agent = await open({ tenant, role: 'agent', name: 'Bo Agent', pathname: '/settings' });
  const agentSection = agent.page.getByTestId('canned-settings');
  await agentSection.locator('[data-testid="canned-row"][data-shortcut="late"]').waitFor({ timeout: T });
  assert.equal(await agentSection.getByRole('button', { name: /Edit|Delete|New canned response/ }).count(), 0);
  await agentSection.getByText('Only administrators can change them.').waitFor({ timeout: T });

  // Delete, after confirming (Keep it keeps it).
  await lateRow.getByRole('button', { name: 'Delete /late' }).click();
  const confirm = lateRow.getByTestId('canned-delete-confirm');
  await confirm.getByRole('button', { name: 'Keep it' }).click();
  await confirm.waitFor({ state: 'detached', timeout: T });
  await lateRow.getByRole('button', { name: 'Delete /late' }).click();
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await lateRow.waitFor({ state: 'detached', timeout: T });
  await section.getByText('No canned responses yet.').waitFor({ timeout: T });
  assert.deepEqual((await server.rest('GET', '/api/canned-responses', admin.token)).items, []);
});
