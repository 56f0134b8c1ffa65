// What every browser test file shares: one server serving the built client
// (dist/) and one headless Chromium for the file, started before its tests
// and stopped after them (the server's log kept in ../test-artifacts/);
// scenarios run in browser contexts of their own, closed after each, with a
// screenshot of every page when one fails; pages report their errors, and
// optionally what their Content-Security-Policy refused.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { chromiumPath } from './chromium.js';
import { startServer, webClientDir } from './switchboardServer.js';

export const artifacts = path.resolve(webClientDir, '../test-artifacts');
export const distDir = path.join(webClientDir, 'dist');

/**
 * @typedef {Awaited<ReturnType<typeof startServer>>} Server
 * @typedef {import('playwright-core').Browser} Browser
 * @typedef {import('playwright-core').BrowserContext} Context
 * @typedef {import('playwright-core').Page} Page
 */

/**
 * Registers the file's before/after and returns what its tests use.
 * @param {{ label: string, checkCsp?: boolean, serverOptions?: import('./switchboardServer.js').StartOptions, ready: (server: Server, browser: Browser) => void }} options
 *   `label` names the artifacts (`e2e-<label>-…`); `serverOptions` are added
 *   to the server's start (flags, environment); `ready` hands the started
 *   server and browser to the file.
 */
export function browserSuite({ label, checkCsp = false, serverOptions = {}, ready }) {
  /** @type {Server | undefined} */
  let server;
  /** @type {Browser | undefined} */
  let browser;
  /** Every page of the running scenario, for screenshots when it fails. */
  let pages = /** @type {Map<string, Page>} */ (new Map());
  /** What the pages' Content-Security-Policy refused: the client must need nothing it forbids. */
  let cspViolations = /** @type {string[]} */ ([]);

  before(async () => {
    assert.ok(existsSync(path.join(distDir, 'index.html')), 'dist/ is missing: run npm run build');
    mkdirSync(artifacts, { recursive: true });
    server = await startServer({ ...serverOptions, staticDir: distDir });
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
    });
    ready(server, browser);
  });

  after(async () => {
    await browser?.close();
    if (server) {
      writeFileSync(path.join(artifacts, `e2e-${label}-server.log`), server.log);
      await server.stop();
    }
  });

  return {
    /**
     * A test running `scenario` with browser contexts of its own (closed
     * after it); on failure, a screenshot of each page.
     * @param {string} name
     * @param {(contexts: Context[]) => Promise<void>} scenario
     */
    scenarioTest(name, scenario) {
      test(name, { timeout: 180_000 }, async (t) => {
        pages = new Map();
        cspViolations = [];
        const contexts = /** @type {Context[]} */ ([]);
        t.after(async () => {
          for (const context of contexts) await context.close().catch(() => {});
        });
        try {
          await scenario(contexts);
          if (checkCsp) assert.deepEqual(cspViolations, []);
        } catch (err) {
          const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 40);
          for (const [who, page] of pages) {
            await page.screenshot({ path: path.join(artifacts, `e2e-${label}-failure-${slug}-${who}.png`), fullPage: true }).catch(() => {});
          }
          throw err;
        }
      });
    },

    /**
     * Keeps `page` for the failure screenshots under a name of its own (a
     * quote added when `who` is taken) and logs its errors.
     * @param {Page} page @param {string} who
     */
    watch(page, who) {
      let name = who;
      while (pages.has(name)) name += "'";
      pages.set(name, page);
      page.on('pageerror', (err) => console.error(`[${name}] page error:`, err));
      page.on('console', (msg) => {
        if (msg.type() === 'error') console.error(`[${name}] console error: ${msg.text()}`);
        if (/Content Security Policy/i.test(msg.text())) cspViolations.push(`[${name}] ${msg.text()}`);
      });
      return page;
    },

    /** @param {Page} page @param {string} name */
    shot: (page, name) => page.screenshot({ path: path.join(artifacts, `e2e-${label}-${name}.png`), fullPage: true }),
  };
}
