// The two webhook receivers of docs/integrations.md, examples/webhook-receiver.py
// (the PyPI `standardwebhooks`) and examples/webhook-receiver.mjs (the npm one),
// run as real processes against a real server: the worked example of the doc
// (a WhatsApp-style gateway opens a session for a customer and relays their
// message; an agent answers; the receiver gets the answer by webhook) is
// delivered and accepted, and tampered copies of that real delivery are
// rejected.
//
// The server delivers to the test's recording receiver (lib/webhooks.mjs),
// which passes each delivery on, byte for byte, to the example and answers
// what the example answered: so the test holds the real signed request to
// tamper with. Needs the examples' libraries: `npm ci` in examples/, and a
// Python with standardwebhooks (TEST_WEBHOOK_PYTHON, else the venv that
// scripts/test makes under target/test-tools/); skipped, visibly, without them.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { makeUser, ok, uniqueId, until } from '../lib/clients.mjs';
import { useServer } from '../lib/server.mjs';
import { online, take } from '../lib/tools.mjs';
import { startReceiver } from '../lib/webhooks.mjs';
import { DELIVERING_ENV, createKey, deliveries, hookReceiver, serverMessage, serverSession } from '../lib/integrations.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const examples = path.join(root, 'examples');
/** The PyPI package's version scripts/test installs (keep the two in step). */
const PY_STANDARDWEBHOOKS = '1.1.0';

function python() {
  const candidates = [process.env.TEST_WEBHOOK_PYTHON, path.join(root, `target/test-tools/standardwebhooks-${PY_STANDARDWEBHOOKS}/bin/python3`), 'python3'];
  for (const candidate of candidates.filter(Boolean)) {
    try {
      execFileSync(candidate, ['-c', 'import standardwebhooks'], { stdio: 'ignore' });
      return candidate;
    } catch { /* next */ }
  }
  return null;
}

const pythonBin = python();
const RECEIVERS = [
  {
    name: 'examples/webhook-receiver.py',
    command: pythonBin,
    args: [path.join(examples, 'webhook-receiver.py')],
    skip: !pythonBin && 'no python3 with standardwebhooks (scripts/test installs it in target/test-tools/; or set TEST_WEBHOOK_PYTHON)',
  },
  {
    name: 'examples/webhook-receiver.mjs',
    command: process.execPath,
    args: [path.join(examples, 'webhook-receiver.mjs')],
    skip: !existsSync(path.join(examples, 'node_modules/standardwebhooks')) && 'examples/node_modules has no standardwebhooks: run `npm ci` in examples/',
  },
];

/**
 * Starts an example receiver on a free port with `secret`; resolves once it
 * printed its address. Its stdout lines (JSON) are kept in `lines`; waitLine()
 * waits for one passing a filter. Stopped in t.after; its output is printed if
 * the test fails.
 */
async function startExample(t, { command, args, name }, secret) {
  const child = spawn(command, args, { env: { ...process.env, WEBHOOK_SECRET: secret, PORT: '0', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const example = { lines: [], output: '', url: null, listeners: new Set() };
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    if (t.passed === false || process.env.TEST_LOG) process.stderr.write(`\n--- output of ${name} ---\n${example.output}\n--- end ---\n`);
  });
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { example.output += chunk; });
  child.stdout.on('data', (chunk) => {
    example.output += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) {
      const address = line.match(/^listening on (http:\/\/[0-9.]+:\d+)$/);
      if (address) example.url = `${address[1]}/webhooks`;
      else if (line.trim()) example.lines.push(JSON.parse(line));
      for (const listener of example.listeners) listener();
    }
  });
  example.waitLine = (filter, timeout = 10_000) => new Promise((resolve, reject) => {
    const check = () => {
      const found = example.lines.find(filter);
      if (found) { done(); resolve(found); }
    };
    const timer = setTimeout(() => { done(); reject(new Error(`${name} printed no matching line within ${timeout} ms: ${example.output.slice(-2000)}`)); }, timeout);
    const done = () => { clearTimeout(timer); example.listeners.delete(check); };
    example.listeners.add(check);
    check();
  });
  await Promise.race([
    until(() => example.url, { timeout: 10_000, what: `${name} listening` }),
    exited.then(({ code }) => { throw new Error(`${name} exited with ${code} before listening: ${example.output}`); }),
  ]);
  return example;
}

/** POSTs `body` with `headers` to the example directly; resolves with the status. */
async function post(url, body, headers) {
  const res = await fetch(url, { method: 'POST', headers, body });
  await res.arrayBuffer();
  return res.status;
}

describe('the example webhook receivers', () => {
  const srv = useServer({ env: DELIVERING_ENV });

  for (const receiver of RECEIVERS) {
    it(`${receiver.name} accepts a real delivery (the doc's WhatsApp relay) and rejects tampered copies of it`, { skip: receiver.skip }, async (t) => {
      const tenant = uniqueId('t');
      const admin = makeUser('admin', { tenant });
      const recorder = await startReceiver();
      t.after(() => recorder.close());
      const hook = await hookReceiver(srv.server, admin, recorder, ['message.created']);
      const example = await startExample(t, receiver, hook.secret);
      recorder.forwardTo(example.url);

      // The gateway: a WhatsApp message from +34 600 000 000 opens a session.
      const { key } = await createKey(srv.server, admin, 'whatsapp');
      const customerId = `wa:+34600${uniqueId('').replace(/\D/g, '').slice(-6)}`;
      const session = await serverSession(srv.server, key, { customerId, customerName: 'Cleo', message: 'Hola, ¿dónde está mi pedido?' });
      const inbound = await example.waitLine((l) => l.type === 'message.created' && l.session === session.id);
      assert.equal(inbound.reply, undefined, 'a customer message is no reply');
      await serverMessage(srv.server, key, session.id, { content: 'Order 1234, if that helps', from: 'customer' });

      // An agent answers in the dashboard; the receiver gets it and would send it to the phone.
      const agent = await online(srv.server, 'agent', tenant);
      await take(srv.server, agent.user, session.id);
      await ok(agent.socket, 'join-session', { sessionId: session.id });
      const reply = await ok(agent.socket, 'send-message', { sessionId: session.id, content: 'Sale hoy: llega el jueves.' });
      const out = await example.waitLine((l) => l.reply !== undefined);
      assert.deepEqual(out, { id: out.id, type: 'message.created', session: session.id, reply: { to: customerId, text: reply.content } });
      // The recorder notes the example's 2xx once the example's answer came back through it.
      const real = await recorder.waitForEvent({ id: out.id });
      assert.equal(real.body.data.message.id, reply.id);
      await until(async () => (await deliveries(srv.server, admin, hook.id)).every((d) => d.status === 'delivered'), { what: 'all delivered' });

      // The same bytes again (a retry): accepted, handled once.
      const { raw, headers } = real;
      const signed = { 'content-type': 'application/json', 'webhook-id': headers['webhook-id'], 'webhook-timestamp': headers['webhook-timestamp'], 'webhook-signature': headers['webhook-signature'] };
      assert.ok([200, 204].includes(await post(example.url, raw, signed)), 'a replay of the real delivery is accepted');
      const other = `whsec_${randomBytes(32).toString('base64')}`;
      const tampered = [
        ['the body changed', raw.replace('Sale hoy', 'Sale mañana'), signed],
        ['the webhook-id changed', raw, { ...signed, 'webhook-id': `${headers['webhook-id']}x` }],
        ['the timestamp changed', raw, { ...signed, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) + 1) }],
        ['signed with another secret', raw, { ...signed, 'webhook-signature': new Webhook(other).sign(headers['webhook-id'], new Date(Number(headers['webhook-timestamp']) * 1000), raw) }],
        ['no signature', raw, { ...signed, 'webhook-signature': undefined }],
        ['a stale timestamp', raw, { ...signed, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 3600) }],
      ];
      for (const [what, body, hdrs] of tampered) {
        const clean = Object.fromEntries(Object.entries(hdrs).filter(([, v]) => v !== undefined));
        assert.equal(await post(example.url, body, clean), 400, `${receiver.name}: ${what}`);
      }
      await until(() => example.lines.filter((l) => l.rejected).length === tampered.length, { what: 'a rejected line per tampered request' });
      assert.equal(example.lines.filter((l) => l.id === out.id).length, 1, 'the replay was handled once');
      assert.deepEqual(recorder.unverified(), []);
    });
  }
});
