// End to end, attachments (PROTOCOL §8): the built client (dist/) served
// by the real server, a customer and an agent in browser contexts of
// Debian's Chromium, real files made in the test (a PNG, a PDF). One
// server for the file, each test in a tenant of its own; the size-limit
// test starts a server of its own with a small --attachment-max-bytes.
// Screenshots go to ../test-artifacts/. Every wait is for a selector, an
// event or a state, with a timeout; nothing sleeps.
//
// Run: npm run e2e   (builds dist/ first; needs a server binary with
// attachments (../target/debug/switchboard or SWITCHBOARD_BIN) and
// `chromium` on PATH)

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { artifacts, browserSuite, distDir } from '../test-support/browserSuite.js';
import { makePdf, makePng } from '../test-support/files.js';
import { startServer } from '../test-support/switchboardServer.js';

const T = 15_000;

/** @typedef {Awaited<ReturnType<typeof startServer>>} Server */
/** @typedef {import('playwright-core').Page} Page */

/** @type {Awaited<ReturnType<typeof import('../test-support/switchboardServer.js').startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
const suite = browserSuite({
  label: 'attachments',
  checkCsp: true,
  ready: (started, launched) => {
    server = started;
    browser = launched;
  },
});

/**
 * @typedef {{ server: Server, tenant: string }} Where
 * @typedef {{ page: Page, token: string, id: string }} Opened
 * @typedef {(where: Where, role: 'customer' | 'agent', name: string, pathname: string) => Promise<Opened>} Open
 */

/**
 * Runs a scenario with its own browser contexts (closed after it); on
 * failure, a screenshot of each page.
 * @param {string} name
 * @param {(open: Open) => Promise<void>} scenario
 */
function scenarioTest(name, scenario) {
  suite.scenarioTest(name, (contexts) => scenario((where, role, name, pathname) => openAs(contexts, where, role, name, pathname)));
}

let tenantCounter = 0;
/** @param {string} label */
const newTenant = (label) => `attach-${label}-${++tenantCounter}-${Math.random().toString(36).slice(2, 7)}`;

/**
 * A user of the tenant: a token, and a page of its own opened on `pathname` with it.
 * @param {import('playwright-core').BrowserContext[]} contexts
 * @param {Where} where @param {'customer' | 'agent'} role @param {string} name @param {string} pathname
 * @returns {Promise<Opened>}
 */
async function openAs(contexts, { server: on, tenant }, role, name, pathname) {
  const id = `${role}-${name.toLowerCase().replace(/\W+/g, '-')}-${Math.random().toString(36).slice(2, 8)}`;
  const token = await on.token({ sub: id, role, name, tenant });
  const viewport = role === 'customer' ? { width: 390, height: 780 } : { width: 1280, height: 820 };
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  contexts.push(context);
  const page = await context.newPage();
  suite.watch(page, name.split(' ')[0].toLowerCase());
  await page.goto(`${on.url}${pathname}?token=${encodeURIComponent(token)}`);
  return { page, token, id };
}

/** @param {Page} page @param {string} name */
const shot = suite.shot;

/** @param {Page} page */
const connected = (page) => page.locator('[data-testid="connection-status"][data-status="connected"]').first().waitFor({ timeout: T });

/**
 * A customer's chat taken by an agent, both pages open on it.
 * @param {Open} open @param {Where} where
 */
async function chatBetween(open, where) {
  const customer = await open(where, 'customer', 'Ana Customer', '/widget');
  await customer.page.getByLabel('How can we help?').fill('The app shows an error');
  await customer.page.getByRole('button', { name: 'Start chat' }).click();
  await customer.page.getByTestId('queue-banner').waitFor({ timeout: T });
  await connected(customer.page);
  const agent = await open(where, 'agent', 'Bo Agent', '/dashboard');
  await connected(agent.page);
  await agent.page.getByRole('button', { name: 'Take chat from Ana Customer' }).click();
  await agent.page.locator('[data-testid="chat-panel"] [data-testid="panel-status"]').filter({ hasText: 'active' }).waitFor({ timeout: T });
  await customer.page.locator('[data-testid="session-state"][data-session-status="active"]').waitFor({ timeout: T });
  return { customer, agent };
}

/**
 * Chooses files through the paperclip (the browser's file chooser).
 * @param {Page} page @param {{ name: string, mimeType: string, buffer: Buffer }[]} files
 */
async function attachWithPaperclip(page, files) {
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser', { timeout: T }),
    page.getByRole('button', { name: 'Attach files' }).click(),
  ]);
  assert.equal(chooser.isMultiple(), true, 'the picker takes several files');
  await chooser.setFiles(files);
}

/** The draft's file of that name. @param {Page} page @param {string} name */
const upload = (page, name) => page.getByTestId('upload').filter({ hasText: name });

/** A stored (not pending) message holding `selector`. @param {Page} page @param {string} selector */
const storedMessageWith = (page, selector) => page.locator(`[data-testid="message"]:not([data-state="pending"]):has(${selector})`);

scenarioTest('a customer drops a screenshot on the chat; the agent sees its thumbnail and opens the full image', async (open) => {
  const where = { server, tenant: newTenant('image') };
  const { customer, agent } = await chatBetween(open, where);
  const png = makePng(640, 400);

  // Dragged from the desktop onto the conversation: the drop zone shows, the file uploads.
  const thread = customer.page.getByTestId('thread');
  const dataTransfer = await customer.page.evaluateHandle((bytes) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], 'screenshot.png', { type: 'image/png' }));
    return dt;
  }, [...png]);
  await thread.dispatchEvent('dragenter', { dataTransfer });
  await thread.dispatchEvent('dragover', { dataTransfer });
  await customer.page.getByTestId('drop-zone').filter({ hasText: 'Drop files' }).waitFor({ timeout: T });
  await shot(customer.page, '01-widget-drop-zone');
  await thread.dispatchEvent('drop', { dataTransfer });
  await customer.page.getByTestId('drop-zone').waitFor({ state: 'detached', timeout: T });
  await upload(customer.page, 'screenshot.png').and(customer.page.locator('[data-status="done"]')).waitFor({ timeout: T });
  await shot(customer.page, '02-widget-uploaded');

  // Sent with a line of text.
  const box = customer.page.getByRole('textbox', { name: 'Message' });
  await box.fill('This is what I see');
  await box.press('Enter');
  await customer.page.getByTestId('uploads').waitFor({ state: 'detached', timeout: T });
  const sent = storedMessageWith(customer.page, '[data-testid="attachment-image"]');
  await sent.filter({ hasText: 'This is what I see' }).waitFor({ timeout: T });

  // The agent's copy: a thumbnail whose room is kept (240 x 150 for 640 x 400), loaded from the server.
  const received = storedMessageWith(agent.page, '[data-testid="attachment-image"]');
  await received.filter({ hasText: 'This is what I see' }).waitFor({ timeout: T });
  const thumb = received.locator('[data-testid="attachment-image"] img');
  assert.equal(await thumb.getAttribute('width'), '240');
  assert.equal(await thumb.getAttribute('height'), '150');
  assert.equal(await thumb.getAttribute('alt'), 'screenshot.png');
  await agent.page.waitForFunction((img) => img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0, await thumb.elementHandle(), { timeout: T });
  // The thumbnail, not the full image: at most 320 px on the long side.
  assert.equal(await thumb.evaluate((img) => /** @type {HTMLImageElement} */ (img).naturalWidth), 320);
  await shot(agent.page, '03-dashboard-thumbnail');

  // Opened in the lightbox: the full image, loaded.
  const opener = received.getByRole('button', { name: 'Open image screenshot.png' });
  await opener.click();
  const lightbox = agent.page.getByRole('dialog', { name: 'screenshot.png' });
  await lightbox.waitFor({ timeout: T });
  const full = lightbox.getByTestId('lightbox-image');
  await agent.page.waitForFunction((img) => img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0, await full.elementHandle(), { timeout: T });
  assert.equal(await full.evaluate((img) => /** @type {HTMLImageElement} */ (img).naturalWidth), 640);
  assert.equal(await full.evaluate((img) => /** @type {HTMLImageElement} */ (img).naturalHeight), 400);
  // Keyboard: the focus is in the dialog; Escape closes it and gives the focus back.
  assert.equal(await lightbox.getByRole('button', { name: 'Close image' }).evaluate((b) => b === document.activeElement), true);
  await shot(agent.page, '04-dashboard-lightbox');
  await agent.page.keyboard.press('Escape');
  await lightbox.waitFor({ state: 'detached', timeout: T });
  assert.equal(await opener.evaluate((b) => b === document.activeElement), true);
  // Enter on the thumbnail opens it again; a click on the backdrop closes it.
  await agent.page.keyboard.press('Enter');
  await lightbox.waitFor({ timeout: T });
  await lightbox.click({ position: { x: 5, y: 5 } });
  await lightbox.waitFor({ state: 'detached', timeout: T });
});

scenarioTest('an agent sends a PDF with no text; the customer downloads the same bytes', async (open) => {
  const where = { server, tenant: newTenant('pdf') };
  const { customer, agent } = await chatBetween(open, where);
  const pdf = makePdf('Invoice 2026-0042');
  const send = agent.page.locator('.composer').getByRole('button', { name: 'Send' });

  // A slow upload first: its progress bar moves, Send waits, and × cancels it.
  const cdp = await agent.page.context().newCDPSession(agent.page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 64 * 1024 });
  await attachWithPaperclip(agent.page, [{ name: 'big-log.txt', mimeType: 'text/plain', buffer: Buffer.alloc(2 * 1024 * 1024, 'log line\n') }]);
  const slow = upload(agent.page, 'big-log.txt');
  const progress = slow.getByRole('progressbar', { name: 'Uploading big-log.txt' });
  await progress.waitFor({ timeout: T });
  assert.equal(await progress.getAttribute('aria-valuemin'), '0');
  assert.equal(await progress.getAttribute('aria-valuemax'), '100');
  await agent.page.waitForFunction(
    (el) => Number(el?.getAttribute('aria-valuenow')) > 0,
    await progress.elementHandle(),
    { timeout: T },
  );
  assert.equal(await send.isDisabled(), true, 'Send waits for the upload');
  await shot(agent.page, '05-dashboard-uploading');
  await slow.getByRole('button', { name: 'Cancel upload of big-log.txt' }).click();
  await slow.waitFor({ state: 'detached', timeout: T });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

  // The PDF through the paperclip, sent alone.
  await attachWithPaperclip(agent.page, [{ name: 'invoice.pdf', mimeType: 'application/pdf', buffer: pdf }]);
  await upload(agent.page, 'invoice.pdf').and(agent.page.locator('[data-status="done"]')).waitFor({ timeout: T });
  assert.equal(await send.isEnabled(), true, 'attachments alone can be sent');
  await send.click();
  await storedMessageWith(agent.page, '[data-testid="attachment-file"]').waitFor({ timeout: T });

  // The customer gets a chip (icon, name, size) and downloads it.
  const chip = storedMessageWith(customer.page, '[data-testid="attachment-file"]').getByTestId('attachment-file');
  await chip.waitFor({ timeout: T });
  assert.match(await chip.innerText(), /invoice\.pdf/);
  assert.match(await chip.innerText(), new RegExp(`${pdf.length} bytes|\\d(\\.\\d)? KB`));
  assert.match(String(await chip.getAttribute('aria-label')), /^Download invoice\.pdf, PDF, /);
  await shot(customer.page, '06-widget-file-chip');
  const [download] = await Promise.all([customer.page.waitForEvent('download', { timeout: T }), chip.click()]);
  assert.equal(download.suggestedFilename(), 'invoice.pdf');
  const saved = await download.path();
  assert.ok(saved, `download failed: ${await download.failure()}`);
  assert.ok(readFileSync(saved).equals(pdf), 'the downloaded bytes are the uploaded PDF');
  // No bubble for the empty text.
  assert.equal(await storedMessageWith(customer.page, '[data-testid="attachment-file"]').locator('.msg__bubble').count(), 0);
});

scenarioTest('a file over the server’s limit, and one of a type it refuses, are refused with their reasons', async (open) => {
  const small = await startServer({ staticDir: distDir, extraArgs: ['--attachment-max-bytes', String(16 * 1024)] });
  try {
    const where = { server: small, tenant: newTenant('limit') };
    const { customer } = await chatBetween(open, where);
    const page = customer.page;
    await attachWithPaperclip(page, [
      { name: 'photo.png', mimeType: 'image/png', buffer: makePng(400, 400) },
      { name: 'page.html', mimeType: 'text/html', buffer: Buffer.from('<!doctype html><p>hello</p>') },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('order 1234\n') },
    ]);
    const errors = page.getByTestId('upload-error');
    await errors.filter({ hasText: 'photo.png is too large for this server' }).waitFor({ timeout: T });
    await errors.filter({ hasText: 'page.html is not a supported file type' }).waitFor({ timeout: T });
    await upload(page, 'notes.txt').and(page.locator('[data-status="done"]')).waitFor({ timeout: T });
    assert.equal(await errors.count(), 2);
    await shot(page, '07-widget-refused');

    // The refusals hold nothing back: the accepted file goes out.
    await page.locator('.composer').getByRole('button', { name: 'Send' }).click();
    await storedMessageWith(page, '[data-testid="attachment-file"]').filter({ hasText: 'notes.txt' }).waitFor({ timeout: T });
    // Each message is dismissed on its own.
    await errors.filter({ hasText: 'photo.png' }).locator('..').getByRole('button', { name: 'Dismiss' }).click();
    await errors.filter({ hasText: 'photo.png' }).waitFor({ state: 'detached', timeout: T });
    await errors.filter({ hasText: 'page.html' }).locator('..').getByRole('button', { name: 'Dismiss' }).click();
    await page.getByTestId('uploads').waitFor({ state: 'detached', timeout: T });
  } finally {
    writeFileSync(path.join(artifacts, 'e2e-attachments-limit-server.log'), small.log);
    await small.stop();
  }
});
