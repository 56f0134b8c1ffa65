// End to end, ratings and reports (PROTOCOL §10): the built client (dist/)
// served by the real server, customers and agents in browser contexts of
// Debian's Chromium. One server for the file; each test has its own tenant
// (pages opened with ?token= minted for it), so their figures never meet.
// Screenshots go to ../test-artifacts/. Every wait is for a selector or a
// text, with a timeout; nothing sleeps.
//
// Run: npm run e2e   (builds dist/ first; needs the v1.3 server binary
// (../target/debug/switchboard or SWITCHBOARD_BIN) and `chromium` on PATH)

import assert from 'node:assert/strict';
import path from 'node:path';
import { artifacts, browserSuite } from '../test-support/browserSuite.js';

const T = 15_000;

/** @type {Awaited<ReturnType<typeof import('../test-support/switchboardServer.js').startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
const suite = browserSuite({
  label: 'ratings',
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
const newTenant = (label) => `ratings-${label}-${++tenantCounter}-${Math.random().toString(36).slice(2, 7)}`;

/** A user id for a name. @param {string} role @param {string} name */
const subject = (role, name) => `${role}-${name.toLowerCase().replace(/\W+/g, '-')}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * A user of `tenant`: a token, and a page in a context of its own opened on
 * `pathname` with it (`?token=`).
 * @param {import('playwright-core').BrowserContext[]} contexts
 * @param {Who} who
 */
async function openAs(contexts, { tenant, role, name, pathname, viewport = { width: 1280, height: 860 } }) {
  const sub = subject(role, name);
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

/**
 * A customer's chat served and closed through REST: opened, taken by the
 * agent, answered, closed by the agent. Returns the session id.
 * @param {string} tenant @param {string} agentToken @param {string} name
 */
async function servedChat(tenant, agentToken, name) {
  const token = await server.token({ sub: subject('customer', name), role: 'customer', name, tenant });
  const session = await server.rest('POST', '/api/chat/sessions', token, { subject: `${name}'s question`, message: 'Hello, I need help' });
  await server.rest('POST', `/api/chat/sessions/${session.id}/assign`, agentToken, {});
  await server.rest('POST', `/api/chat/sessions/${session.id}/messages`, agentToken, { content: 'Happy to help!' });
  await server.rest('POST', `/api/chat/sessions/${session.id}/close`, agentToken, {});
  return { id: /** @type {string} */ (session.id), token };
}

scenarioTest('a customer rates a closed chat with stars and a comment, and the dashboard counts it', async (open) => {
  const tenant = newTenant('rate');
  const { page: bo, token: boToken } = await open({ tenant, role: 'agent', name: 'Bo Agent', pathname: '/dashboard' });
  await connected(bo);
  // Nobody rated today yet.
  await bo.getByTestId('stat-ratings').filter({ hasText: '— (0 today)' }).waitFor({ timeout: T });
  assert.equal(await bo.getByRole('link', { name: 'Reports' }).getAttribute('href'), '/reports');

  // Ana chats with Bo, who closes the chat.
  const { page: ana, token: anaToken } = await open({ tenant, role: 'customer', name: 'Ana Customer', pathname: '/widget', viewport: { width: 390, height: 800 } });
  await startChat(ana, 'My parcel is late');
  await bo.getByRole('button', { name: 'Take chat from Ana Customer' }).click();
  await bo.locator('[data-testid="chat-panel"] [data-testid="panel-status"]').filter({ hasText: 'active' }).waitFor({ timeout: T });
  await send(bo, 'It arrives tomorrow morning.');
  await ana.locator('[data-testid="message"] .msg__bubble').filter({ hasText: 'It arrives tomorrow morning.' }).waitFor({ timeout: T });
  // No prompt while the chat is open.
  assert.equal(await ana.getByTestId('rating-prompt').count(), 0);
  await bo.getByRole('button', { name: 'Close chat' }).click();
  await ana.getByTestId('closed-banner').waitFor({ timeout: T });

  // The prompt: five stars, none chosen; Submit waits for a score.
  const prompt = ana.getByTestId('rating-prompt');
  await prompt.waitFor({ timeout: T });
  await prompt.getByText('How was your chat?').waitFor({ timeout: T });
  const submit = prompt.getByRole('button', { name: 'Submit' });
  assert.equal(await submit.isDisabled(), true);
  assert.equal(await prompt.getByRole('radio').count(), 5);
  const word = prompt.getByTestId('rating-word');
  assert.equal(await word.innerText(), 'Choose a score');

  // Hovering previews: the fifth star lights all five.
  await prompt.getByTestId('rating-star').nth(4).hover();
  await word.filter({ hasText: 'Excellent' }).waitFor({ timeout: T });
  assert.equal(await prompt.locator('.rating-input__star--on').count(), 5);
  await shot(ana, '01-widget-hover-preview');

  // Chosen with the pointer (3), then with the keyboard (→ 4).
  await prompt.getByRole('radio', { name: /^3 out of 5 stars/ }).check();
  await ana.mouse.move(1, 1);
  await word.filter({ hasText: 'Okay' }).waitFor({ timeout: T });
  await prompt.getByRole('radio', { name: /^3 out of 5 stars/ }).press('ArrowRight');
  await word.filter({ hasText: 'Good' }).waitFor({ timeout: T });
  assert.equal(await prompt.getByRole('radio', { name: /^4 out of 5 stars/ }).isChecked(), true);
  assert.equal(await prompt.locator('.rating-input__star--on').count(), 4);

  // The comment: a counter, and no sending past 1000 characters.
  const comment = prompt.getByLabel(/Comment/);
  const count = prompt.getByTestId('rating-count');
  await comment.fill('x'.repeat(1001));
  await count.filter({ hasText: '1 character too long' }).waitFor({ timeout: T });
  assert.equal(await submit.isDisabled(), true);
  const text = 'Quick and kind, thanks Bo!';
  await comment.fill(text);
  await count.filter({ hasText: `${text.length}/1000` }).waitFor({ timeout: T });
  assert.equal(await submit.isDisabled(), false);
  await shot(ana, '02-widget-rating-filled');

  await submit.click();
  const thanks = ana.getByTestId('rating-thanks');
  await thanks.filter({ hasText: 'Thanks for your feedback' }).waitFor({ timeout: T });
  await thanks.locator('[data-testid="rating-stars"][data-score="4"]').filter({ hasText: text }).waitFor({ timeout: T });
  assert.equal(await ana.getByTestId('rating-prompt').count(), 0);
  await shot(ana, '03-widget-thanks');

  // Stored as given.
  const sessions = await server.rest('GET', '/api/chat/sessions?limit=5', anaToken);
  const rated = sessions.items[0];
  assert.equal(rated.rating.score, 4);
  assert.equal(rated.rating.comment, text);

  // The dashboard: today's count and average (stats-update), and the chat's stars (session-updated).
  await bo.getByTestId('stat-ratings').filter({ hasText: '4.0 ★ (1 today)' }).waitFor({ timeout: T });
  await bo.locator(`[data-testid="session-item"][data-session-id="${rated.id}"] [data-testid="rating-stars"][data-score="4"]`).waitFor({ timeout: T });
  await bo.locator('[data-testid="chat-panel"] [data-testid="rating-stars"][data-score="4"]').filter({ hasText: text }).waitFor({ timeout: T });

  // Another customer rates 5 (REST): the average moves, live.
  const other = await servedChat(tenant, boToken, 'Cy Customer');
  await server.rest('POST', `/api/chat/sessions/${other.id}/rating`, other.token, { score: 5 });
  await bo.getByTestId('stat-ratings').filter({ hasText: '4.5 ★ (2 today)' }).waitFor({ timeout: T });
  const stats = await server.rest('GET', '/api/chat/stats', boToken);
  assert.equal(stats.ratingsToday, 2);
  assert.equal(stats.avgRatingToday, 4.5);
  await shot(bo, '04-dashboard-ratings');
});

scenarioTest('a chat rated in another tab shows the thanks with the stored rating', async (open) => {
  const tenant = newTenant('elsewhere');
  const agentToken = await server.token({ sub: subject('agent', 'Bo'), role: 'agent', name: 'Bo Agent', tenant });
  const { page: ana, token: anaToken } = await open({ tenant, role: 'customer', name: 'Ana Customer', pathname: '/widget', viewport: { width: 390, height: 800 } });
  await startChat(ana, 'Where is my order?');
  const { items } = await server.rest('GET', '/api/chat/sessions', anaToken);
  const id = items[0].id;
  await server.rest('POST', `/api/chat/sessions/${id}/assign`, agentToken, {});
  await server.rest('POST', `/api/chat/sessions/${id}/close`, agentToken, {});
  await ana.getByTestId('rating-prompt').waitFor({ timeout: T });

  // The same customer rates elsewhere (another tab, REST): the prompt gives way to the thanks, with that rating.
  await server.rest('POST', `/api/chat/sessions/${id}/rating`, anaToken, { score: 2, comment: 'Too slow' });
  const thanks = ana.getByTestId('rating-thanks');
  await thanks.locator('[data-testid="rating-stars"][data-score="2"]').filter({ hasText: 'Too slow' }).waitFor({ timeout: T });
  assert.equal(await ana.getByTestId('rating-prompt').count(), 0);
});

scenarioTest('with ratings turned off, the widget offers no rating', async (open) => {
  const tenant = newTenant('off');
  const adminToken = await server.token({ sub: subject('admin', 'Ada'), role: 'admin', name: 'Ada Admin', tenant });
  const settings = await server.rest('PATCH', '/api/settings', adminToken, { ratingsEnabled: false });
  assert.equal(settings.ratingsEnabled, false);
  const agentToken = await server.token({ sub: subject('agent', 'Bo'), role: 'agent', name: 'Bo Agent', tenant });

  const { page: ana, token: anaToken } = await open({ tenant, role: 'customer', name: 'Ana Customer', pathname: '/widget', viewport: { width: 390, height: 800 } });
  await startChat(ana, 'Just a quick question');
  const { items } = await server.rest('GET', '/api/chat/sessions', anaToken);
  await server.rest('POST', `/api/chat/sessions/${items[0].id}/assign`, agentToken, {});
  await server.rest('POST', `/api/chat/sessions/${items[0].id}/close`, agentToken, {});

  await ana.getByTestId('closed-banner').waitFor({ timeout: T });
  // The server said no (forbidden): no prompt.
  await ana.getByTestId('rating-unavailable').waitFor({ state: 'attached', timeout: T });
  assert.equal(await ana.getByTestId('rating-prompt').count(), 0);
  assert.equal(await ana.getByTestId('rating-thanks').count(), 0);
  const session = await server.rest('GET', `/api/chat/sessions/${items[0].id}`, anaToken);
  assert.equal(session.rating, null, 'asking changed nothing');
  await shot(ana, '05-widget-ratings-off');
});

/**
 * What the page plots, read in one go: the range, each chart's series
 * (`data-plotted`) and the table's figures.
 * @param {import('playwright-core').Page} page
 */
function readReport(page) {
  return page.evaluate(() => {
    const report = /** @type {HTMLElement} */ (document.querySelector('[data-testid="report"]'));
    return {
      bucket: report.dataset.bucket,
      from: report.dataset.from ?? '',
      to: report.dataset.to ?? '',
      charts: [...report.querySelectorAll('[data-testid="report-chart"]')].map((el) => {
        const figure = /** @type {HTMLElement} */ (el);
        return {
          id: figure.dataset.chart,
          plotted: JSON.parse(figure.dataset.plotted ?? '{}'),
          canvases: figure.querySelectorAll('canvas').length,
          legend: [...figure.querySelectorAll('.u-legend .u-series')].map((s) => /** @type {HTMLElement} */ (s).innerText.trim()).filter(Boolean),
          axes: figure.querySelector('[data-testid="chart-axes"]')?.textContent ?? '',
        };
      }),
      rows: [...report.querySelectorAll('[data-testid="report-table"] tbody tr')].map((el) => {
        const tr = /** @type {HTMLElement} */ (el);
        return {
          start: tr.dataset.start,
          cells: Object.fromEntries(
            [...tr.querySelectorAll('td')].map((td) => [td.dataset.field, td.dataset.value === 'null' ? null : Number(td.dataset.value)]),
          ),
          text: [...tr.querySelectorAll('td')].map((td) => td.textContent),
        };
      }),
    };
  });
}

const FIELDS = ['opened', 'assigned', 'closed', 'messages', 'avgWaitSeconds', 'avgFirstResponseSeconds', 'ratings', 'avgRating'];
const CHART_FIELDS = {
  sessions: ['opened', 'assigned'],
  times: ['avgWaitSeconds', 'avgFirstResponseSeconds'],
  messages: ['messages'],
  ratings: ['ratings', 'avgRating'],
};
const AXES = {
  sessions: 'Vertical axis: Chats.',
  times: 'Vertical axis: Time.',
  messages: 'Vertical axis: Messages.',
  ratings: 'Vertical axis: Ratings. Right axis: Average (★ out of 5).',
};
const LEGENDS = {
  sessions: ['Opened', 'Assigned'],
  times: ['Average wait', 'Average first response'],
  messages: ['Messages'],
  ratings: ['Ratings', 'Average rating'],
};

/**
 * The page's figures are the REST figures for the same range, exactly.
 * @param {import('playwright-core').Page} page @param {string} token @param {'hour' | 'day'} bucket
 */
async function assertPlotsMatchRest(page, token, bucket) {
  const shown = await readReport(page);
  assert.equal(shown.bucket, bucket);
  const rest = await server.rest('GET', `/api/chat/reports?bucket=${bucket}&from=${encodeURIComponent(shown.from)}&to=${encodeURIComponent(shown.to)}`, token);
  assert.equal(rest.bucket, bucket);
  assert.equal(rest.buckets.length, bucket === 'hour' ? 24 : 30);
  const starts = rest.buckets.map((/** @type {{ start: string }} */ b) => Date.parse(b.start) / 1000);
  assert.deepEqual(shown.charts.map((c) => c.id), Object.keys(CHART_FIELDS));
  for (const chart of shown.charts) {
    const id = /** @type {keyof typeof CHART_FIELDS} */ (chart.id);
    assert.equal(chart.canvases, 1, `${id}: drawn`);
    assert.deepEqual(chart.plotted.x, starts, `${id}: one point per bucket`);
    for (const field of CHART_FIELDS[id]) {
      assert.deepEqual(chart.plotted.series[field], rest.buckets.map((/** @type {Record<string, unknown>} */ b) => b[field]), `${id}: ${field}`);
    }
    assert.equal(chart.axes, `Horizontal axis: ${bucket === 'hour' ? 'Hour (UTC)' : 'Day (UTC)'}. ${AXES[id]}`, `${id}: axis titles`);
    for (const label of LEGENDS[id]) assert.ok(chart.legend.some((l) => l.includes(label)), `${id}: legend has ${label}`);
  }
  assert.equal(shown.rows.length, rest.buckets.length);
  shown.rows.forEach((row, i) => {
    const b = rest.buckets[i];
    assert.equal(Date.parse(row.start ?? ''), Date.parse(b.start));
    for (const field of FIELDS) assert.equal(row.cells[field], b[field], `table ${b.start} ${field}`);
  });
  return { rest, shown };
}

/**
 * Hovers bucket `index` of a chart and reads the tooltip.
 * @param {import('playwright-core').Page} page @param {string} chartId @param {number} index @param {number} count
 */
async function hoverBucket(page, chartId, index, count) {
  const over = page.locator(`[data-chart="${chartId}"] .u-over`);
  const box = await over.boundingBox();
  assert.ok(box, `${chartId}: plot area`);
  // The x range is half a bucket wider than the data on each side: bucket i is centred at (i + 0.5) / count.
  await page.mouse.move(box.x + (box.width * (index + 0.5)) / count, box.y + box.height / 2);
  return readTooltip(page, chartId, index);
}

/** @param {import('playwright-core').Page} page @param {string} chartId @param {number} index */
async function readTooltip(page, chartId, index) {
  const tip = page.locator(`[data-chart="${chartId}"] [data-testid="chart-tooltip"][data-index="${index}"]:not([hidden])`);
  await tip.waitFor({ timeout: T });
  return tip.evaluate((el) => ({
    start: /** @type {HTMLElement} */ (el).dataset.start ?? '',
    head: /** @type {HTMLElement} */ (el.querySelector('.report-tooltip__head')).innerText,
    rows: [...el.querySelectorAll('.report-tooltip__row')].map((r) => ({
      series: /** @type {HTMLElement} */ (r).dataset.series ?? '',
      value: /** @type {HTMLElement} */ (r).dataset.value === 'null' ? null : Number(/** @type {HTMLElement} */ (r).dataset.value),
      text: r.querySelector('.report-tooltip__value')?.textContent ?? '',
    })),
  }));
}

/**
 * The tooltip's numbers are the bucket's REST figures.
 * @param {Awaited<ReturnType<typeof readTooltip>>} tip @param {Record<string, any>[]} buckets @param {string} chartId
 */
function assertTooltip(tip, buckets, chartId) {
  const bucket = buckets.find((b) => Date.parse(b.start) === Date.parse(tip.start));
  assert.ok(bucket, `tooltip bucket ${tip.start} is in the report`);
  assert.deepEqual(tip.rows.map((r) => r.series), CHART_FIELDS[/** @type {keyof typeof CHART_FIELDS} */ (chartId)]);
  for (const row of tip.rows) {
    assert.equal(row.value, bucket[row.series], `tooltip ${chartId} ${row.series}`);
    if (row.value === null) assert.match(row.text, /—/);
    else if (row.series === 'avgRating') assert.match(row.text, new RegExp(`${row.value} ★`));
    else if (!row.series.endsWith('Seconds')) assert.equal(row.text, String(row.value));
    else assert.match(row.text, /\d+(\.\d)? (s|min|h)/);
  }
  return bucket;
}

/** @param {Record<string, number>[]} buckets @param {string} field */
const sum = (buckets, field) => buckets.reduce((n, b) => n + b[field], 0);

/** The index of the bucket with the most of `field`. @param {Record<string, number>[]} buckets @param {string} field */
const busiest = (buckets, field) => buckets.reduce((best, b, i) => (b[field] > buckets[best][field] ? i : best), 0);

scenarioTest('the reports page charts the REST figures by hour and by day, with their numbers on hover', async (open) => {
  const tenant = newTenant('reports');
  const agentToken = await server.token({ sub: subject('agent', 'Bo'), role: 'agent', name: 'Bo Agent', tenant });
  // Some activity now: two chats served and rated, one waiting.
  const first = await servedChat(tenant, agentToken, 'Ana Customer');
  await server.rest('POST', `/api/chat/sessions/${first.id}/rating`, first.token, { score: 5, comment: 'Great' });
  const second = await servedChat(tenant, agentToken, 'Cy Customer');
  await server.rest('POST', `/api/chat/sessions/${second.id}/rating`, second.token, { score: 2 });
  const waitingToken = await server.token({ sub: subject('customer', 'Dee'), role: 'customer', name: 'Dee Customer', tenant });
  await server.rest('POST', '/api/chat/sessions', waitingToken, { message: 'Anyone there?' });

  // A customer may not read reports.
  await assert.rejects(server.rest('GET', '/api/chat/reports', waitingToken), /HTTP 403/);

  const { page, token } = await open({ tenant, role: 'agent', name: 'Eve Agent', pathname: '/reports' });
  await page.getByRole('heading', { name: 'Reports' }).waitFor({ timeout: T });

  // By hour: the last 24 hours.
  await page.locator('[data-testid="report"][data-bucket="hour"]').waitFor({ timeout: T });
  await page.locator('[data-testid="report-chart"] canvas').first().waitFor({ timeout: T });
  const hourly = await assertPlotsMatchRest(page, token, 'hour');
  assert.equal(sum(hourly.rest.buckets, 'opened'), 3, 'the activity is in the report');
  assert.equal(sum(hourly.rest.buckets, 'ratings'), 2);
  // The busiest hour (the activity may straddle two, at an hour's turn).
  const now = busiest(hourly.rest.buckets, 'opened');
  await shot(page, '06-reports-hourly');

  // Hover the hour with the activity: the tooltip has its numbers.
  const tip = await hoverBucket(page, 'sessions', now, 24);
  const bucket = assertTooltip(tip, hourly.rest.buckets, 'sessions');
  assert.equal(Date.parse(bucket.start), Date.parse(hourly.rest.buckets[now].start));
  assert.match(tip.head, /UTC$/);
  await page.locator('[data-chart="sessions"]').screenshot({ path: path.join(artifacts, 'e2e-ratings-07-tooltip-sessions.png') });
  assertTooltip(await hoverBucket(page, 'ratings', now, 24), hourly.rest.buckets, 'ratings');
  assertTooltip(await hoverBucket(page, 'times', now, 24), hourly.rest.buckets, 'times');
  // An empty hour: zeros, and gaps for the averages.
  const quiet = now === 0 ? 1 : 0;
  const empty = await hoverBucket(page, 'times', quiet, 24);
  assertTooltip(empty, hourly.rest.buckets, 'times');
  assert.deepEqual(empty.rows.map((r) => r.value), [null, null]);

  // The keyboard reads the same numbers: End is the last bucket, ← the one before.
  await page.mouse.move(1, 1);
  const plot = page.locator('[data-chart="messages"] .report-chart__plot');
  await plot.focus();
  await plot.press('End');
  assertTooltip(await readTooltip(page, 'messages', 23), hourly.rest.buckets, 'messages');
  await plot.press('ArrowLeft');
  assertTooltip(await readTooltip(page, 'messages', 22), hourly.rest.buckets, 'messages');

  // By day: the last 30 days.
  await page.getByRole('radio', { name: 'Last 30 days' }).check();
  await page.locator('[data-testid="report"][data-bucket="day"]').waitFor({ timeout: T });
  const daily = await assertPlotsMatchRest(page, token, 'day');
  assert.equal(sum(daily.rest.buckets, 'opened'), 3);
  assert.equal(sum(daily.rest.buckets, 'messages'), 5);
  const today = busiest(daily.rest.buckets, 'messages');
  await page.getByText('Show the figures as a table').click();
  await shot(page, '08-reports-daily');
  assertTooltip(await hoverBucket(page, 'messages', today, 30), daily.rest.buckets, 'messages');
  assertTooltip(await hoverBucket(page, 'ratings', today, 30), daily.rest.buckets, 'ratings');
});
