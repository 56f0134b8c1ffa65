// End to end, routing (PROTOCOL §7): the built client (dist/) served by the
// real server, customers, agents and an admin in browser contexts of
// Debian's Chromium. One server for the file; each test has its own tenant
// (pages opened with ?token= minted for it), so their queues and agents
// never meet. Screenshots go to ../test-artifacts/. Every wait is for a
// selector or a text, with a timeout; nothing sleeps.
//
// Run: npm run e2e   (builds dist/ first; needs the v1.3 server binary
// (../target/debug/switchboard or SWITCHBOARD_BIN) and `chromium` on PATH)

import assert from 'node:assert/strict';
import { browserSuite } from '../test-support/browserSuite.js';

const T = 15_000;

/** @type {Awaited<ReturnType<typeof import('../test-support/switchboardServer.js').startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
const suite = browserSuite({
  label: 'routing',
  checkCsp: false,
  ready: (started, launched) => {
    server = started;
    browser = launched;
  },
});

/**
 * @typedef {{ tenant: string, role: 'customer' | 'agent' | 'admin', name: string, pathname: string, viewport?: { width: number, height: number } }} Who
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
const newTenant = (label) => `routing-${label}-${++tenantCounter}-${Math.random().toString(36).slice(2, 7)}`;

/**
 * A user of `tenant`: a token, and a page in a context of its own opened on
 * `pathname` with it (`?token=`).
 * @param {import('playwright-core').BrowserContext[]} contexts
 * @param {Who} who
 */
async function openAs(contexts, { tenant, role, name, pathname, viewport = { width: 1280, height: 820 } }) {
  const sub = `${role}-${name.toLowerCase().replace(/\W+/g, '-')}-${Math.random().toString(36).slice(2, 8)}`;
  const token = await server.token({ sub, role, name, tenant });
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  suite.watch(page, name.split(' ')[0].toLowerCase());
  await page.goto(`${server.url}${pathname}?token=${encodeURIComponent(token)}`);
  return { page, token, id: sub };
}

/** @param {import('playwright-core').Page} page @param {string} name */
const shot = suite.shot;

/** @param {import('playwright-core').Page} page */
const connected = (page) => page.locator('[data-testid="connection-status"][data-status="connected"]').first().waitFor({ timeout: T });

/**
 * The customer starts a chat from the widget (the token names them).
 * @param {import('playwright-core').Page} page @param {string} text
 */
async function startChat(page, text) {
  await page.getByLabel('How can we help?').fill(text);
  await page.getByRole('button', { name: 'Start chat' }).click();
  await page.getByTestId('queue-banner').or(page.getByTestId('agent-banner')).first().waitFor({ timeout: T });
  await connected(page);
}

/** @param {import('playwright-core').Page} page @param {string} text */
async function send(page, text) {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

/** Waits until a message with exactly this text is shown, stored (not pending). */
const seeMessage = (/** @type {import('playwright-core').Page} */ page, /** @type {string} */ text) =>
  page
    .locator('[data-testid="message"]:not([data-state="pending"]) .msg__bubble')
    .filter({ hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) })
    .waitFor({ timeout: T });

scenarioTest('a waiting customer sees their place in line move up, and the offline message while nobody is available', async (open) => {
  const tenant = newTenant('queue');
  const adminToken = await server.token({ sub: 'admin-queue', role: 'admin', name: 'Ada Admin', tenant });
  await server.rest('PATCH', '/api/settings', adminToken, { offlineMessage: 'Our team answers from 9:00 to 17:00.' });

  // Someone is ahead in the queue.
  const firstToken = await server.token({ sub: 'customer-first', role: 'customer', name: 'Fay First', tenant });
  const first = await server.rest('POST', '/api/chat/sessions', firstToken, { subject: 'First', message: 'I was here first' });
  assert.equal(first.status, 'pending');

  // Nobody is online: the widget says so, with the tenant's message, before and after starting.
  const { page: ana } = await open({ tenant, role: 'customer', name: 'Ana Second', pathname: '/widget', viewport: { width: 390, height: 780 } });
  await ana.locator('.signed-in').filter({ hasText: 'Chatting as Ana Second' }).waitFor({ timeout: T });
  await ana.locator('[data-testid="service-notice"][data-kind="unstaffed"]').waitFor({ timeout: T });
  await startChat(ana, 'Where is my refund?');
  const position = ana.getByTestId('queue-position');
  await position.filter({ hasText: 'You are number 2 in line' }).waitFor({ timeout: T });
  assert.equal(await position.getAttribute('data-position'), '2');
  await ana.getByTestId('offline-message').filter({ hasText: 'Our team answers from 9:00 to 17:00.' }).waitFor({ timeout: T });
  await shot(ana, '01-widget-number-2-unstaffed');

  // An agent comes online (available by default): the notice goes, live (service-status).
  const { page: bo } = await open({ tenant, role: 'agent', name: 'Bo Agent', pathname: '/dashboard' });
  await connected(bo);
  await ana.getByTestId('service-notice').waitFor({ state: 'detached', timeout: T });
  await bo.getByTestId('queue-count').filter({ hasText: /^2$/ }).waitFor({ timeout: T });
  const available = bo.getByTestId('stat-available');
  await available.filter({ hasText: /^1$/ }).waitFor({ timeout: T });

  // The first customer is served: Ana is next.
  await bo.getByRole('button', { name: 'Take chat from Fay First' }).click();
  await bo.locator('[data-testid="chat-panel"] [data-testid="panel-status"]').filter({ hasText: 'active' }).waitFor({ timeout: T });
  await position.filter({ hasText: 'You are next in line' }).waitFor({ timeout: T });
  assert.equal(await position.getAttribute('data-position'), '1');
  await shot(ana, '02-widget-next');

  // And when Bo takes Ana's chat the queue banner gives way to the agent.
  await bo.getByRole('button', { name: 'Take chat from Ana Second' }).click();
  await ana.locator('[data-testid="session-state"][data-session-status="active"]').filter({ hasText: 'Chatting with Bo Agent' }).waitFor({ timeout: T });
  await ana.getByTestId('queue-banner').waitFor({ state: 'detached', timeout: T });
  await bo.getByTestId('my-load').filter({ hasText: '2 of 5 chats' }).waitFor({ timeout: T });
});

scenarioTest('an admin turns on auto-assignment and a new chat goes to the available agent, with a toast', async (open) => {
  const tenant = newTenant('auto');

  // The admin's settings page: a bad time zone is refused by the server, with its message.
  const { page: admin, token: adminToken } = await open({ tenant, role: 'admin', name: 'Ada Admin', pathname: '/settings' });
  await admin.getByRole('radio', { name: /Manual/ }).waitFor({ timeout: T });
  assert.equal(await admin.getByRole('radio', { name: /Manual/ }).isChecked(), true);
  await admin.getByRole('radio', { name: /Automatic/ }).check();
  await admin.getByRole('checkbox', { name: 'Open only during business hours' }).check();
  await admin.getByLabel('Time zone').fill('Mars/Olympus_Mons');
  await admin.getByRole('button', { name: 'Save settings' }).click();
  const settingsError = admin.getByTestId('settings-error');
  await settingsError.waitFor({ timeout: T });
  assert.ok((await settingsError.innerText()).trim().length > 0, 'the server says what was wrong');
  await shot(admin, '03-settings-invalid');
  const unchanged = await server.rest('GET', '/api/settings', adminToken);
  assert.equal(unchanged.routing, 'manual', 'a refused PATCH changes nothing');
  assert.equal(unchanged.businessHours, null);

  // Without business hours: saved.
  await admin.getByRole('checkbox', { name: 'Open only during business hours' }).uncheck();
  await admin.getByRole('button', { name: 'Save settings' }).click();
  await admin.getByTestId('settings-status').filter({ hasText: 'Settings saved.' }).waitFor({ timeout: T });
  await settingsError.waitFor({ state: 'detached', timeout: T });
  const saved = await server.rest('GET', '/api/settings', adminToken);
  assert.equal(saved.routing, 'auto');
  assert.equal(saved.businessHours, null);
  await shot(admin, '04-settings-saved');

  // The agent arrives, and steps away for now.
  const { page: bo, id: boId } = await open({ tenant, role: 'agent', name: 'Bo Agent', pathname: '/dashboard' });
  await connected(bo);
  await bo.getByTestId('my-load').filter({ hasText: '0 of 5 chats' }).waitFor({ timeout: T });
  // The radio shows the state the server confirmed: click, then wait for it.
  await bo.getByRole('radio', { name: 'Away' }).click();
  await bo.locator('[data-testid="availability"][data-availability="away"]').waitFor({ timeout: T });

  // On the admin's dashboard: Bo is away; the admin gives him a capacity of 3.
  // (A page opened with ?token= forgets it on navigation: open the dashboard with it.)
  await admin.goto(`${server.url}/dashboard?token=${encodeURIComponent(adminToken)}`);
  await connected(admin);
  // The admin is staff too: away, so that the chat below can only go to Bo.
  await admin.getByRole('radio', { name: 'Away' }).click();
  await admin.locator('[data-testid="availability"][data-availability="away"]').waitFor({ timeout: T });
  const boRow = admin.locator(`[data-testid="agent-row"][data-agent-id="${boId}"]`);
  await boRow.getByTestId('agent-presence').filter({ hasText: 'Away' }).waitFor({ timeout: T });
  await boRow.getByRole('spinbutton', { name: 'Max chats for Bo Agent' }).fill('3');
  await boRow.getByRole('button', { name: 'Set max chats for Bo Agent' }).click();
  await boRow.getByTestId('agent-load').filter({ hasText: '0 of 3 chats' }).waitFor({ timeout: T });
  await bo.getByTestId('my-load').filter({ hasText: '0 of 3 chats' }).waitFor({ timeout: T });

  // A customer writes while Bo is away: nobody is routable, the chat waits.
  const { page: ana } = await open({ tenant, role: 'customer', name: 'Ana Customer', pathname: '/widget', viewport: { width: 390, height: 780 } });
  await startChat(ana, 'Can I change my delivery address?');
  await ana.getByTestId('queue-position').filter({ hasText: 'You are next in line' }).waitFor({ timeout: T });
  await ana.locator('[data-testid="service-notice"][data-kind="unstaffed"]').waitFor({ timeout: T });

  // Bo is back: the server assigns him the chat; he did not take it, so he gets a toast.
  await bo.getByRole('radio', { name: 'Available' }).click();
  await bo.locator('[data-testid="availability"][data-availability="available"]').waitFor({ timeout: T });
  const toast = bo.getByTestId('toast').filter({ hasText: 'New chat assigned: Ana Customer' });
  await toast.waitFor({ timeout: T });
  await bo.locator('[data-testid="session-item"]').filter({ hasText: 'Ana Customer' }).waitFor({ timeout: T });
  await shot(bo, '05-dashboard-assigned-toast');
  // The toast opens the chat (before it fades, 8 s after it came).
  await toast.getByRole('button', { name: 'Open' }).click();
  await bo.locator('[data-testid="chat-panel"]').filter({ hasText: 'Ana Customer' }).waitFor({ timeout: T });
  await bo.getByTestId('my-load').filter({ hasText: '1 of 3 chats' }).waitFor({ timeout: T });
  await boRow.getByTestId('agent-load').filter({ hasText: '1 of 3 chats' }).waitFor({ timeout: T });
  await ana.locator('[data-testid="session-state"][data-session-status="active"]').filter({ hasText: 'Chatting with Bo Agent' }).waitFor({ timeout: T });

  // They talk.
  await seeMessage(bo, 'Can I change my delivery address?');
  await send(bo, 'Yes, what is the new address?');
  await seeMessage(ana, 'Yes, what is the new address?');
});

scenarioTest('an agent transfers a chat to a colleague through the dialog, and the customer keeps talking', async (open) => {
  const tenant = newTenant('transfer');
  const { page: bo } = await open({ tenant, role: 'agent', name: 'Bo Agent', pathname: '/dashboard' });
  const { page: cy } = await open({ tenant, role: 'agent', name: 'Cy Agent', pathname: '/dashboard' });
  await connected(bo);
  await connected(cy);
  const { page: ana } = await open({ tenant, role: 'customer', name: 'Ana Customer', pathname: '/widget', viewport: { width: 390, height: 780 } });
  await startChat(ana, 'My invoice is wrong');

  // Bo takes it (manual routing) and answers.
  await bo.getByRole('button', { name: 'Take chat from Ana Customer' }).click();
  await bo.locator('[data-testid="chat-panel"] [data-testid="panel-status"]').filter({ hasText: 'active' }).waitFor({ timeout: T });
  await ana.locator('[data-testid="session-state"]').filter({ hasText: 'Chatting with Bo Agent' }).waitFor({ timeout: T });
  await send(bo, 'Let me get our billing expert.');
  await seeMessage(ana, 'Let me get our billing expert.');

  // The dialog lists Cy with his state and load; Bo transfers to him.
  await bo.locator('.chat-panel__actions').getByRole('button', { name: 'Transfer' }).click();
  const dialog = bo.getByTestId('transfer-dialog');
  await dialog.waitFor({ timeout: T });
  const cyTarget = dialog.getByTestId('transfer-target').filter({ hasText: 'Cy Agent' });
  await cyTarget.filter({ hasText: 'Available · 0 of 5 chats' }).waitFor({ timeout: T });
  await shot(bo, '06-transfer-dialog');
  await dialog.getByRole('radio', { name: /Cy Agent/ }).check();
  await dialog.getByLabel(/Reason/).fill('Billing question');
  await dialog.getByRole('button', { name: 'Transfer', exact: true }).click();
  await dialog.waitFor({ state: 'detached', timeout: T });
  await bo.getByTestId('toast').filter({ hasText: 'Chat transferred to Cy Agent' }).waitFor({ timeout: T });

  // Cy gets it, with a toast saying who handed it over, and the whole history.
  const toast = cy.getByTestId('toast').filter({ hasText: 'New chat assigned: Ana Customer' });
  await toast.filter({ hasText: 'Transferred by Bo Agent' }).waitFor({ timeout: T });
  await shot(cy, '07-transferred-toast');
  await toast.getByRole('button', { name: 'Open' }).click();
  await cy.getByTestId('my-load').filter({ hasText: '1 of 5 chats' }).waitFor({ timeout: T });
  await bo.getByTestId('my-load').filter({ hasText: '0 of 5 chats' }).waitFor({ timeout: T });
  await seeMessage(cy, 'My invoice is wrong');
  await seeMessage(cy, 'Let me get our billing expert.');
  await ana.locator('[data-testid="session-state"][data-session-status="active"]').filter({ hasText: 'Chatting with Cy Agent' }).waitFor({ timeout: T });

  // The customer keeps talking, now with Cy.
  await send(ana, 'It charges me twice.');
  await seeMessage(cy, 'It charges me twice.');
  await send(cy, 'I see it, refunding the second charge now.');
  await seeMessage(ana, 'I see it, refunding the second charge now.');
  await shot(ana, '08-widget-after-transfer');

  // Back to the queue: the customer waits again (first in line); Bo takes it back.
  await cy.locator('.chat-panel__actions').getByRole('button', { name: 'Transfer' }).click();
  await cy.getByTestId('transfer-dialog').getByRole('button', { name: 'Back to queue' }).click();
  await cy.getByTestId('toast').filter({ hasText: 'Chat sent back to the queue' }).waitFor({ timeout: T });
  await ana.getByTestId('queue-position').filter({ hasText: 'You are next in line' }).waitFor({ timeout: T });
  await bo.getByRole('button', { name: 'Take chat from Ana Customer' }).click();
  await ana.locator('[data-testid="session-state"][data-session-status="active"]').filter({ hasText: 'Chatting with Bo Agent' }).waitFor({ timeout: T });
  await seeMessage(bo, 'It charges me twice.');

  // A transfer the server refuses shows its reason: the chat closed meanwhile.
  await bo.locator('.chat-panel__actions').getByRole('button', { name: 'Transfer' }).click();
  const again = bo.getByTestId('transfer-dialog');
  await again.getByTestId('transfer-target').filter({ hasText: 'Cy Agent' }).waitFor({ timeout: T });
  await again.getByRole('radio', { name: /Cy Agent/ }).check();
  await ana.getByRole('button', { name: 'End chat' }).click();
  await ana.getByTestId('closed-banner').waitFor({ timeout: T });
  await again.getByRole('button', { name: 'Transfer', exact: true }).click();
  await again.getByTestId('transfer-error').waitFor({ timeout: T });
  assert.ok((await again.getByTestId('transfer-error').innerText()).trim().length > 0);
  await shot(bo, '09-transfer-refused');
  await again.getByRole('button', { name: 'Cancel' }).click();
  await again.waitFor({ state: 'detached', timeout: T });
});
