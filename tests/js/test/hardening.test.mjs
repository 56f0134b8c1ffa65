// Issue 12 (hardening): each attack of the security review, tried again
// through real clients and raw sockets, and refused. One describe per item.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { JWT_SECRET, freshDatabase, serverBinary, spawnServer, spawnServerFor, useServer } from '../lib/server.mjs';
import { connect, connectError, hmacToken, makeUser, uniqueId, until } from '../lib/clients.mjs';
import { httpRequest, rawEngineSocket } from '../lib/attack.mjs';
import { api, expectRestError, expectStatus } from '../lib/rest.mjs';

const now = () => Math.floor(Date.now() / 1000);

/** A raw TCP connection; `ended` resolves with the bytes received once the server closes it. */
function tcp(server) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => { received += chunk; });
    const ended = new Promise((res) => socket.on('close', () => res(received)));
    socket.once('error', () => {});
    socket.once('connect', () => resolve({ socket, ended, write: (b) => socket.write(b) }));
    socket.once('error', reject);
  });
}

/** Resolves with `promise`, or rejects after `ms` saying `what`. */
function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms); }),
  ]);
}

/** Starts the server with `env`/`args` and expects it to exit with an error that matches `pattern`. */
async function expectRefusedStart({ env = {}, args = [], jwtSecret = null }, pattern) {
  await assert.rejects(spawnServer({ env, args, jwtSecret }), (err) => {
    assert.match(err.message, /server exited before it was ready \(code [1-9]/);
    assert.match(err.message, pattern);
    return true;
  });
}

/**
 * Runs the binary as is, with none of the harness's flags (no --host), until
 * it prints its listening line; resolves with { host, port, output, stop }.
 */
function spawnBare(t, { args = [], env = {} } = {}) {
  return freshDatabase().then((database) => new Promise((resolve, reject) => {
    const childEnv = { ...process.env, NO_COLOR: '1', ...env };
    for (const key of ['HOST', 'PORT', 'JWT_SECRET', 'JWT_PUBLIC_KEY_FILE', 'CORS_ORIGINS', 'SWITCHBOARD_DEV']) {
      if (!(key in env)) delete childEnv[key];
    }
    const child = spawn(serverBinary(), ['--port', '0', '--database-url', database.url, ...args], {
      env: childEnv, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise((res) => child.on('exit', res));
    t.after(async () => {
      child.kill('SIGTERM');
      await exited;
      await database.drop();
    });
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 20_000);
    const onData = (chunk) => {
      output += chunk;
      const m = output.match(/listening on http:\/\/([0-9a-fA-F.:[\]]+):(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ host: m[1], port: Number(m[2]), output: () => output });
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    exited.then((code) => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${output}`)); });
  }));
}

describe('1. a short HS256 secret stops the server', () => {
  for (const [label, secret] of [['empty', ''], ['whitespace', ' '.repeat(40)], ['one byte', 'a'], ['31 bytes', 'x'.repeat(31)]]) {
    it(`refuses to start with a ${label} JWT_SECRET and says how to make one`, async () => {
      await expectRefusedStart({ env: { JWT_SECRET: secret } }, /openssl rand -base64 48/);
    });
  }

  it('refuses a short secret even with --dev', async () => {
    await expectRefusedStart({ env: { JWT_SECRET: 'short' }, args: ['--dev'] }, /at least 32 bytes/);
  });

  it('refuses JWT_PUBLIC_KEY_FILE with JWT_ALGORITHM=HS256 at start', async () => {
    await expectRefusedStart(
      { env: { JWT_PUBLIC_KEY_FILE: '/dev/null', JWT_ALGORITHM: 'HS256' } },
      /JWT_PUBLIC_KEY_FILE is set with JWT_ALGORITHM=HS256/,
    );
  });

  it('with REQUIRE_JWT_KEY (the container image), refuses to start without a key unless --dev', async (t) => {
    await expectRefusedStart({ env: { REQUIRE_JWT_KEY: '1' } }, /requires one[\s\S]*--dev/);
    const server = await spawnServerFor(t, { jwtSecret: null, env: { REQUIRE_JWT_KEY: '1' }, args: ['--dev'] });
    await expectStatus(api(server, null, 'POST', '/api/dev/token', { body: { sub: 'a', role: 'agent' } }), 200);
  });
});

describe('2. development mode stays on loopback', () => {
  it('binds 127.0.0.1 without HOST, and says loudly what it is', async (t) => {
    const bare = await spawnBare(t);
    assert.equal(bare.host, '127.0.0.1');
    assert.match(bare.output(), /DEVELOPMENT MODE/);
    assert.match(bare.output(), /anyone who can reach 127\.0\.0\.1:\d+ can mint any token/);
  });

  it('binds where HOST says when it is set explicitly', async (t) => {
    const bare = await spawnBare(t, { env: { HOST: '0.0.0.0' } });
    assert.equal(bare.host, '0.0.0.0');
  });

  describe('CORS without CORS_ORIGINS', () => {
    const srv = useServer({ jwtSecret: null });

    it('allows loopback origins and no other, for preflight and polling', async () => {
      const preflight = (origin) => httpRequest(`${srv.server.url}/api/dev/token`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      for (const origin of ['http://localhost:5173', 'http://127.0.0.1:3001', 'http://[::1]:8080']) {
        const res = await preflight(origin);
        assert.equal(res.headers['access-control-allow-origin'], origin, origin);
      }
      for (const origin of ['https://evil.example', 'http://localhost.evil.example', 'null']) {
        const res = await preflight(origin);
        assert.equal(res.headers['access-control-allow-origin'], undefined, origin);
        const polling = await httpRequest(`${srv.server.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });
        assert.equal(polling.headers['access-control-allow-origin'], undefined, `polling from ${origin}`);
      }
    });
  });
});

describe('11. JWT details', () => {
  const srv = useServer();

  it('refuses a token with a crit header on the socket and on REST', async () => {
    const user = makeUser('agent');
    const token = hmacToken({ sub: user.sub, role: 'agent', exp: now() + 600 }, JWT_SECRET);
    const [, body, ] = token.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', crit: ['x-unknown'], 'x-unknown': 1 })).toString('base64url');
    const { createHmac } = await import('node:crypto');
    const signature = createHmac('sha256', JWT_SECRET).update(`${header}.${body}`).digest('base64url');
    const critical = `${header}.${body}.${signature}`;
    const err = await connectError(srv.server, critical, { transports: ['websocket'] });
    assert.equal(err.message, 'unauthorized: invalid_token');
    await expectRestError(api(srv.server, null, 'GET', '/api/chat/stats', { headers: { authorization: `Bearer ${critical}` } }),
      401, 'unauthorized');
    // The same token without crit is fine: the refusal is for crit alone.
    await expectStatus(api(srv.server, null, 'GET', '/api/chat/stats', { headers: { authorization: `Bearer ${token}` } }), 200);
  });

  it('reads "bearer x" with a lower-case scheme on REST and on the socket alike', async () => {
    const user = makeUser('agent');
    await expectStatus(api(srv.server, null, 'GET', '/api/chat/stats', { headers: { authorization: `bearer ${user.token}` } }), 200);
    const socket = await connect(srv.server, undefined, { auth: {}, extraHeaders: { authorization: `bearer ${user.token}` }, transports: ['websocket'] });
    assert.ok(socket.connected);
  });

  it('refuses a bare token without a scheme on REST and on the socket alike', async () => {
    const user = makeUser('agent');
    await expectRestError(api(srv.server, null, 'GET', '/api/chat/stats', { headers: { authorization: user.token } }),
      401, 'unauthorized');
    const err = await connectError(srv.server, undefined, { auth: {}, extraHeaders: { authorization: user.token }, transports: ['websocket'] });
    assert.equal(err.message, 'unauthorized: invalid_token');
  });

  it('still strips a leading "Bearer " from auth.token (docs/protocol.md §2)', async () => {
    const user = makeUser('customer', { tenant: uniqueId('t') });
    const socket = await connect(srv.server, `Bearer ${user.token}`, { transports: ['websocket'] });
    assert.ok(socket.connected);
  });
});

describe('3. slow clients and connection floods', () => {
  it('closes a connection whose request head is not complete within the header read timeout', async (t) => {
    const server = await spawnServerFor(t, { args: ['--header-read-timeout-seconds', '1'] });
    const slow = await tcp(server);
    slow.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a');
    await within(slow.ended, 5000, 'the server did not close the slow head');
    // A prompt client is served as usual.
    assert.equal((await httpRequest(`${server.url}/health`)).status, 200);
  });

  it('gives up on a request body that does not arrive in time', async (t) => {
    const server = await spawnServerFor(t, { args: ['--body-read-timeout-seconds', '1'] });
    const customer = makeUser('customer');
    const slow = await tcp(server);
    slow.write(`POST /api/chat/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${customer.token}\r\n`
      + 'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"subject":');
    const answer = await within(slow.ended, 5000, 'the server did not give up on the slow body');
    assert.doesNotMatch(answer, /^HTTP\/1\.1 201/);
  });

  it('caps open connections per address, websockets included, and frees the slot on close', async (t) => {
    const server = await spawnServerFor(t, { args: ['--max-connections-per-ip', '3'] });
    const sockets = [];
    for (let i = 0; i < 3; i++) {
      // X-Forwarded-For is not believed without --trusted-proxies.
      sockets.push(await connect(server, makeUser('customer').token, {
        transports: ['websocket'], extraHeaders: { 'x-forwarded-for': `10.0.0.${i}` },
      }));
    }
    const refused = await tcp(server);
    await within(refused.ended, 3000, 'a fourth connection was not closed');
    await assert.rejects(httpRequest(`${server.url}/health`), /ECONNRESET|socket hang up|EPIPE/);
    sockets[0].disconnect();
    await until(async () => (await httpRequest(`${server.url}/health`)).status === 200,
      { timeout: 5000, message: 'a freed slot' });
  });

  it('behind a trusted proxy, counts the client named by X-Forwarded-For', async (t) => {
    const server = await spawnServerFor(t, { args: ['--max-connections-per-ip', '2', '--trusted-proxies', '127.0.0.1'] });
    const from = (ip) => ({ transports: ['websocket'], extraHeaders: { 'x-forwarded-for': `203.0.113.7, ${ip}` } });
    await connect(server, makeUser('customer').token, from('198.51.100.1'));
    await connect(server, makeUser('customer').token, from('198.51.100.1'));
    const err = await connectError(server, makeUser('customer').token, from('198.51.100.1'));
    assert.match(String(err.description?.message ?? err.message), /429|websocket error|Unexpected server response/);
    await connect(server, makeUser('customer').token, from('198.51.100.2'));
    const busy = await httpRequest(`${server.url}/health`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
    assert.equal(busy.status, 429);
  });

  it('lists the limits in --help with their environment variables', async () => {
    const help = await new Promise((resolve) => {
      const child = spawn(serverBinary(), ['--help']);
      let out = '';
      child.stdout.on('data', (c) => { out += c; });
      child.on('exit', () => resolve(out));
    });
    for (const env of ['HEADER_READ_TIMEOUT_SECONDS', 'BODY_READ_TIMEOUT_SECONDS', 'MAX_CONNECTIONS_PER_IP', 'TRUSTED_PROXIES',
      'SOCKET_HEADER_MAX_BYTES', 'CONNECT_TIMEOUT_SECONDS', 'HSTS', 'METRICS_ADDR', 'REQUIRE_JWT_KEY']) {
      assert.match(help, new RegExp(`\\[env: ${env}`), env);
    }
  });
});

describe('4. sockets that never join /chat', () => {
  const srv = useServer({ args: ['--connect-timeout-seconds', '1'] });

  it('refuses a /socket.io/ request head over 16 KiB with 431, and leaves REST alone', async () => {
    const big = { 'x-padding': 'p'.repeat(20 * 1024) };
    const polling = await httpRequest(`${srv.server.url}/socket.io/?EIO=4&transport=polling`, { headers: big });
    assert.equal(polling.status, 431);
    const ws = await httpRequest(`${srv.server.url}/socket.io/?EIO=4&transport=websocket`, {
      headers: { ...big, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    assert.equal(ws.status, 431);
    assert.equal((await httpRequest(`${srv.server.url}/health`, { headers: big })).status, 200);
    const small = await httpRequest(`${srv.server.url}/socket.io/?EIO=4&transport=polling`, { headers: { 'x-padding': 'p'.repeat(8 * 1024) } });
    assert.equal(small.status, 200);
  });

  it('closes an Engine.IO websocket that has not joined a namespace after --connect-timeout-seconds', async () => {
    const raw = await rawEngineSocket(srv.server);
    await within(raw.closed, 5000, 'the idle Engine.IO socket was not closed');
  });

  it('keeps a socket that joined /chat', async () => {
    const socket = await connect(srv.server, makeUser('customer').token, { transports: ['websocket'] });
    const { waitFor } = await import('../lib/clients.mjs');
    // Still connected well past the connect timeout: a ping round trip proves it.
    await assert.rejects(waitFor(socket, 'disconnect', { timeout: 2500 }));
    assert.ok(socket.connected);
  });
});

describe('8. tokens in the query string are never logged', () => {
  const srv = useServer({ env: { RUST_LOG: 'trace,sqlx=warn,sea_orm=warn,sea_orm_migration=warn' } });

  it('logs the path of a request without its query at every level', async () => {
    const user = makeUser('agent');
    const socket = await connect(srv.server, undefined, { auth: {}, query: { token: user.token }, transports: ['polling', 'websocket'] });
    assert.ok(socket.connected);
    await expectStatus(api(srv.server, null, 'GET', `/api/chat/stats?token=${user.token}`, { headers: { authorization: `Bearer ${user.token}` } }), 200);
    socket.disconnect();
    const logs = srv.server.logs();
    assert.match(logs, /path=\/socket\.io\//, 'debug request spans are on');
    const signature = user.token.split('.')[2];
    assert.ok(!logs.includes(signature), 'a token signature is in the server output');
    assert.doesNotMatch(logs, /token=/);
  });
});

describe('9. static files stay inside --static-dir', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-static-'));
  mkdirSync(path.join(dir, '.git'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>client</title>');
  writeFileSync(path.join(dir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(path.join(dir, '.env'), 'JWT_SECRET=leaked');
  writeFileSync(path.join(dir, '.git', 'config'), '[core] leaked');
  symlinkSync('/etc/passwd', path.join(dir, 'passwd-link'));
  symlinkSync('/etc', path.join(dir, 'etc-link'));
  const srv = useServer({ args: ['--static-dir', dir] });

  it('serves the client and refuses dotfiles and symlinks that lead out', async () => {
    const get = (p) => httpRequest(`${srv.server.url}${p}`);
    assert.equal((await get('/assets/app.js')).status, 200);
    const page = await get('/some/client/route');
    assert.equal(page.status, 200);
    assert.match(page.text, /client/);
    for (const p of ['/.env', '/.git/config', '/%2eenv', '/assets/../.env', '/passwd-link', '/etc-link/passwd', '/etc-link/hostname']) {
      const res = await get(p);
      assert.equal(res.status, 404, `${p}: ${res.status} ${res.text.slice(0, 80)}`);
      assert.doesNotMatch(res.text, /leaked|root:/, p);
    }
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('10. security headers and /metrics', () => {
  it('sends a Content-Security-Policy with the web client, and HSTS only with --hsts', async (t) => {
    const plain = await spawnServerFor(t, { args: ['--static-dir', path.resolve('../../web-client/dist')] });
    const page = await httpRequest(`${plain.url}/`);
    assert.equal(page.status, 200);
    const csp = page.headers['content-security-policy'];
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /connect-src 'self' ws: wss:/);
    assert.match(csp, /object-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers['strict-transport-security'], undefined);
    const hsts = await spawnServerFor(t, { args: ['--hsts'] });
    assert.match((await httpRequest(`${hsts.url}/health`)).headers['strict-transport-security'], /max-age=\d+/);
  });

  it('with --metrics-addr, serves /metrics there and not on the public port', async (t) => {
    const server = await spawnServerFor(t, { args: ['--metrics-addr', '127.0.0.1:0'] });
    const [, metricsUrl] = await until(() => server.logs().match(/metrics on (http:\/\/\S+\/metrics)/), { what: 'the metrics address in the log' });
    assert.equal((await httpRequest(`${server.url}/metrics`)).status, 404);
    const metrics = await httpRequest(metricsUrl);
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /# TYPE/);
  });
});
