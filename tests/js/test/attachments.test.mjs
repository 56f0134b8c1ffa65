// docs/protocol.md §8 attachments (v1.3), with the server's decisions where
// the protocol is silent: upload (multipart, one `file` part), the type from
// the bytes only, the size limit (the server stops reading there), images
// (width, height, thumbnails, no decompression bombs), filename cleaning and
// Content-Disposition, signed expiring URLs and Bearer access, sending
// (send-message and REST, limits, idempotent retries, history and catch-up
// with fresh URLs), the sweep of unsent uploads, and three nodes sharing one
// store.
//
// The whole file runs twice: on the file store (`file://<temp dir>`) and on
// S3 (`s3://<fresh bucket>/attachments` on the moto server of
// TEST_S3_ENDPOINT, which scripts/services.sh starts). Without
// TEST_S3_ENDPOINT the S3 half is skipped, visibly. After every refusal the
// store is listed (the directory, or the bucket's objects and in-progress
// multipart uploads): nothing is left behind.
//
// Every test has a tenant of its own, so one server serves each block.

import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  closeAllClients, connect, drain, expectError, expectNo, makeUser, ok, uniqueId, until, waitFor,
} from '../lib/clients.mjs';
import {
  api, assertAttachment, assertMessage, expectRestError, expectStatus, listMessages, openSession, parseAttachmentUrl,
} from '../lib/rest.mjs';
import { activeSession, pendingSession } from '../lib/scenario.mjs';
import { spawnServer } from '../lib/server.mjs';
import { clusterSkip, freshTenant, spawnCluster } from '../lib/cluster.mjs';
import * as files from '../lib/files.mjs';

const ws = { transports: ['websocket'] };
const MAX_BYTES = 65_536;
// A known URL key, so the tests can check the signature scheme and forge URLs.
const URL_KEY = 'attachment-url-key-of-the-protocol-tests-0123456789';
const BASE_ARGS = ['--attachment-url-key', URL_KEY, '--send-rate-per-second', '1000', '--send-burst', '1000'];
// A short lifetime, for expiry. 2 s rather than 1: a URL signed near the end
// of a second is then still usable for the request that follows at once.
const SHORT_TTL = 2;
const PUBLIC_URL = 'http://chat.example.test';
const SEND_PATH = (sessionId) => `/api/chat/sessions/${sessionId}/messages`;
const UPLOAD_PATH = (sessionId) => `/api/chat/sessions/${sessionId}/attachments`;
const FILE_PATH = (id, variant = 'file') => `/api/attachments/${id}${variant === 'thumbnail' ? '/thumbnail' : ''}`;
const UNKNOWN_ID = '0190a0f4-1c2b-7d3e-8f40-123456789abc';

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

// ================================================================ stores

const S3_ENDPOINT = process.env.TEST_S3_ENDPOINT?.replace(/\/+$/, '');
const s3Skip = S3_ENDPOINT ? false
  : 'TEST_S3_ENDPOINT is not set: the S3 half needs an S3-compatible server (`source scripts/services.sh` starts moto; scripts/test does)';

/** Every file under `dir`, as sorted "relative/path (size)" lines. */
function walk(dir, base = dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full, base));
    else out.push(`${path.relative(base, full)} (${statSync(full).size})`);
  }
  return out.sort();
}

/** A file store: a fresh temp dir. */
function fileStore() {
  const store = {
    kind: 'file',
    dir: null,
    async create() { store.dir = mkdtempSync(path.join(tmpdir(), 'switchboard-attachments-')); },
    args: () => ['--attachments-store', `file://${store.dir}`],
    env: () => ({}),
    /** What the store holds: "path (size)" lines. */
    async list() { return walk(store.dir); },
    async dispose() { if (store.dir) rmSync(store.dir, { recursive: true, force: true }); },
  };
  return store;
}

const xmlText = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
const xmlAll = (xml, tag) => [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => xmlText(m[1]));

/** An S3 store: a fresh bucket on moto, objects under `attachments/`. */
function s3Store() {
  const bucket = `sb-att-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const store = {
    kind: 's3',
    bucket,
    prefix: 'attachments',
    async create() {
      // moto accepts unsigned requests: a plain PUT /bucket creates it.
      const res = await fetch(`${S3_ENDPOINT}/${bucket}`, { method: 'PUT' });
      assert.equal(res.status, 200, `creating bucket ${bucket} on ${S3_ENDPOINT}: ${res.status} ${await res.text()}`);
    },
    args: () => ['--attachments-store', `s3://${bucket}/${store.prefix}`],
    env: () => ({
      AWS_ENDPOINT_URL: S3_ENDPOINT, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1',
    }),
    /** The bucket's objects ("key (size)", ListObjectsV2) and its in-progress multipart uploads. */
    async list() {
      const out = [];
      let token = null;
      for (let page = 0; page < 100; page += 1) {
        const query = `list-type=2&max-keys=1000${token ? `&continuation-token=${encodeURIComponent(token)}` : ''}`;
        const res = await fetch(`${S3_ENDPOINT}/${bucket}?${query}`);
        const xml = await res.text();
        assert.equal(res.status, 200, `ListObjectsV2 ${bucket}: ${res.status} ${xml.slice(0, 300)}`);
        for (const contents of xmlAll(xml, 'Contents')) {
          out.push(`${xmlAll(contents, 'Key')[0]} (${xmlAll(contents, 'Size')[0]})`);
        }
        token = xmlAll(xml, 'NextContinuationToken')[0];
        if (xmlAll(xml, 'IsTruncated')[0] !== 'true' || !token) break;
      }
      const res = await fetch(`${S3_ENDPOINT}/${bucket}?uploads`);
      const xml = await res.text();
      assert.equal(res.status, 200, `ListMultipartUploads ${bucket}: ${res.status} ${xml.slice(0, 300)}`);
      for (const upload of xmlAll(xml, 'Upload')) out.push(`in-progress multipart upload of ${xmlAll(upload, 'Key')[0]}`);
      return out.sort();
    },
    async dispose() {},
  };
  return store;
}

const KINDS = [
  { label: 'file store', make: fileStore, skip: false },
  { label: 'S3 store (moto)', make: s3Store, skip: s3Skip },
];

/** Entries of `now` that are not in `before`. */
const added = (before, now) => now.filter((line) => !before.includes(line));
const keyOf = (line) => line.replace(/ \(\d+\)$/, '');

/**
 * Asserts the store holds what it held before (`before`, from store.list()):
 * a refusal leaves nothing behind. Polled for a short, bounded time, as a
 * store's delete may complete just after the answer went out.
 */
async function expectStoreUnchanged(store, before, what) {
  let now = before;
  try {
    await until(async () => { now = await store.list(); return JSON.stringify(now) === JSON.stringify(before); },
      { timeout: 3000, every: 100, what });
  } catch {
    assert.deepEqual({ added: added(before, now), removed: added(now, before) }, { added: [], removed: [] },
      `${what}: the store changed`);
  }
}

/**
 * One server on a fresh store of `kind` for a describe block (like
 * useServer): started in before() (nothing when the kind is skipped), disposed
 * in after(); clients closed after each test, the server's output printed for
 * a failing test (or with TEST_LOG).
 */
function useStoreServer(kind, { args = [] } = {}) {
  const holder = { server: null, store: kind.make() };
  let mark = 0;
  before(async () => {
    if (kind.skip) return;
    await holder.store.create();
    holder.server = await spawnServer({ args: [...holder.store.args(), ...BASE_ARGS, ...args], env: holder.store.env() });
  });
  afterEach(async (t) => {
    closeAllClients();
    if (holder.server && (t.passed === false || process.env.TEST_LOG)) {
      process.stderr.write(`\n--- server output during "${t.name}" ---\n${holder.server.logs().slice(mark)}\n--- end ---\n`);
    }
    mark = holder.server ? holder.server.logs().length : 0;
  });
  after(async () => {
    if (holder.server) await holder.server.dispose();
    await holder.store.dispose();
  });
  return holder;
}

// ================================================================ HTTP helpers

const tokenOf = (user) => (typeof user === 'string' ? user : user?.token);
const tryJson = (text) => { try { return text ? JSON.parse(text) : undefined; } catch { return undefined; } };

/** A request with a raw body (FormData, Buffer…): { status, body, text, headers }. */
async function request(server, user, method, urlPath, { body, headers = {} } = {}) {
  const h = { ...headers };
  if (tokenOf(user)) h.authorization = `Bearer ${tokenOf(user)}`;
  const res = await fetch(`${server.url}${urlPath}`, { method, headers: h, body });
  const text = await res.text();
  return { status: res.status, body: tryJson(text), text, headers: res.headers };
}

/** Uploads `bytes` as the `file` part (FormData + Blob, as a browser does). */
function upload(server, user, sessionId, bytes, name, { type = 'application/octet-stream' } = {}) {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), name);
  return request(server, user, 'POST', UPLOAD_PATH(sessionId), { body: form });
}

/** Uploads a multipart body written byte by byte (files.multipart parts). */
function uploadParts(server, user, sessionId, parts) {
  const { body, contentType } = files.multipart(parts);
  return request(server, user, 'POST', UPLOAD_PATH(sessionId), { body, headers: { 'content-type': contentType } });
}

/** Uploads and asserts 201 and the Attachment (size = the bytes' length, plus `expected`). */
async function uploadOk(server, user, sessionId, bytes, name, expected = {}, options = {}) {
  const res = await upload(server, user, sessionId, bytes, name, options);
  assert.equal(res.status, 201, `upload of ${JSON.stringify(name)} (${bytes.length} bytes): HTTP ${res.status} ${res.text.slice(0, 500)}`);
  assertAttachment(res.body, { size: bytes.length, ...expected });
  return res.body;
}

/** A REST error body check for any response of `request`/`download`. */
function assertError(res, status, code, what) {
  assert.equal(res.status, status, `${what}: expected HTTP ${status} ${code}, got ${res.status} ${res.text?.slice(0, 300)}`);
  assert.equal(typeof res.body?.error, 'object', `${what}: error body should be { error: { code, message } }: ${res.text?.slice(0, 300)}`);
  assert.equal(res.body.error.code, code, `${what}: ${JSON.stringify(res.body.error)}`);
  assert.equal(typeof res.body.error.message, 'string', `${what}: error.message`);
}

/**
 * GET of an attachment URL (a signed url, possibly absolute on --public-url,
 * or a bare path) on `server`, with an optional Bearer. The body as a Buffer.
 */
async function download(server, target, { user } = {}) {
  const parsed = new URL(target, server.url);
  const headers = {};
  if (tokenOf(user)) headers.authorization = `Bearer ${tokenOf(user)}`;
  const res = await fetch(`${server.url}${parsed.pathname}${parsed.search}`, { headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString('utf8');
  return { status: res.status, headers: res.headers, bytes, text, body: tryJson(text) };
}

/** The signature of {id}\n{variant}\n{expires} with the test key (base64url, HMAC-SHA256). */
const sign = (id, variant, expires) => createHmac('sha256', URL_KEY).update(`${id}\n${variant}\n${expires}`).digest('base64url');
const signedPath = (id, variant, expires, signature = sign(id, variant, expires)) => `${FILE_PATH(id, variant)}?expires=${expires}&signature=${signature}`;

// RFC 5987 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
const EXT_VALUE = /^(?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-Fa-f]{2})*$/;
/** The RFC 6266 ASCII fallback: non-ASCII characters, `"` and `\` become `_`. */
const asciiFallback = (name) => [...name].map((c) => (c.codePointAt(0) < 0x80 && c !== '"' && c !== '\\' ? c : '_')).join('');

/**
 * Asserts `Content-Disposition: {type}; filename="{fallback}"; filename*=UTF-8''{pct}`
 * where the fallback and the percent-encoded UTF-8 are both of `name`.
 */
function assertDisposition(header, type, name) {
  const m = /^(inline|attachment); filename="([^"\\]*)"; filename\*=UTF-8''(\S*)$/.exec(header ?? '');
  assert.ok(m, `Content-Disposition should be '${type}; filename="…"; filename*=UTF-8''…', got ${JSON.stringify(header)}`);
  assert.equal(m[1], type, `Content-Disposition type in ${JSON.stringify(header)}`);
  if (name === undefined) {
    assert.ok(EXT_VALUE.test(m[3]), `filename* should be RFC 5987 percent-encoding: ${JSON.stringify(header)}`);
    assert.equal(m[2], asciiFallback(decodeURIComponent(m[3])), `filename is the ASCII fallback of filename*: ${JSON.stringify(header)}`);
    return;
  }
  assert.equal(m[2], asciiFallback(name), `filename (the ASCII fallback) in ${JSON.stringify(header)}`);
  assert.ok(EXT_VALUE.test(m[3]), `filename* should hold attr-chars and %XX only: ${JSON.stringify(header)}`);
  assert.equal(decodeURIComponent(m[3]), name, `filename* should be the name, percent-encoded UTF-8: ${JSON.stringify(header)}`);
}

/**
 * Asserts a 200 download of the attachment's file: the bytes, and every
 * header exactly: Content-Type (text with charset), Content-Length,
 * nosniff, CSP sandbox, Cache-Control private, Content-Disposition.
 */
function assertFile(res, attachment, bytes, what = 'download') {
  assert.equal(res.status, 200, `${what}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  assert.ok(res.bytes.equals(bytes), `${what}: the body is not the uploaded bytes (${res.bytes.length} bytes vs ${bytes.length})`);
  const text = attachment.contentType.startsWith('text/');
  assert.equal(res.headers.get('content-type'), text ? `${attachment.contentType}; charset=utf-8` : attachment.contentType, `${what}: Content-Type`);
  assert.equal(res.headers.get('content-length'), String(bytes.length), `${what}: Content-Length`);
  assertSafetyHeaders(res, what);
  const image = attachment.contentType.startsWith('image/');
  assertDisposition(res.headers.get('content-disposition'), image ? 'inline' : 'attachment', attachment.name);
}

function assertSafetyHeaders(res, what) {
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${what}: X-Content-Type-Options`);
  assert.equal(res.headers.get('content-security-policy'), 'sandbox', `${what}: Content-Security-Policy`);
  assert.equal(res.headers.get('cache-control'), 'private', `${what}: Cache-Control`);
}

/**
 * Asserts a 200 thumbnail of an image `width` x `height`: PNG (JPEG for a
 * JPEG source), at most 320 px on the long side, never larger than the
 * source, the same aspect (to a pixel); the headers as for the file.
 * Returns its { width, height }.
 */
function assertThumbnail(res, attachment, what = 'thumbnail') {
  assert.equal(res.status, 200, `${what}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  const jpeg = attachment.contentType === 'image/jpeg';
  assert.equal(res.headers.get('content-type'), jpeg ? 'image/jpeg' : 'image/png', `${what}: Content-Type`);
  assert.equal(res.headers.get('content-length'), String(res.bytes.length), `${what}: Content-Length`);
  assertSafetyHeaders(res, what);
  assertDisposition(res.headers.get('content-disposition'), 'inline');
  const size = jpeg ? files.jpegSize(res.bytes) : files.pngSize(res.bytes);
  const { width, height } = attachment;
  assert.ok(Math.max(size.width, size.height) <= 320, `${what}: ${size.width}x${size.height} is over 320 px on the long side`);
  assert.ok(size.width <= width && size.height <= height, `${what}: ${size.width}x${size.height} is larger than the ${width}x${height} source (upscaled)`);
  assert.ok(size.width >= 1 && size.height >= 1, `${what}: empty thumbnail`);
  assert.ok(Math.abs((size.width * height) / width - size.height) <= 1,
    `${what}: ${size.width}x${size.height} does not keep the aspect of ${width}x${height}`);
  return size;
}

/** An Attachment without its URLs (they are signed afresh whenever sent out). */
const plain = ({ url, thumbnailUrl, ...rest }) => rest;
const plainMessage = (message) => ({ ...message, attachments: message.attachments.map(plain) });

// ---------------------------------------------------------------- bodies the harness cannot send with fetch

/**
 * Uploads a multipart body of `total` bytes of file content, written lazily in
 * 256 KiB chunks with backpressure (chunked, or with a truthful Content-Length
 * when `declareLength`), and stops writing as soon as an answer arrives.
 * Resolves with { status, body, text, writtenAtAnswer, sentAllAtAnswer }, or
 * with { reset: code, writtenAtReset, sentAllAtReset } when the connection
 * failed (EPIPE, ECONNRESET) before Node read any answer: a server that
 * answers early and closes with unread bytes makes the kernel reset the
 * connection, and Node's client, once a write fails, drops the answer the
 * kernel still holds (a client that reads after the failed write gets it).
 */
function streamUpload(server, user, sessionId, { total, declareLength = false }) {
  const boundary = `stream-${randomBytes(8).toString('hex')}`;
  const pre = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n`);
  const post = Buffer.from(`\r\n--${boundary}--\r\n`);
  const headers = { authorization: `Bearer ${user.token}`, 'content-type': `multipart/form-data; boundary=${boundary}` };
  if (declareLength) headers['content-length'] = String(pre.length + total + post.length);
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${UPLOAD_PATH(sessionId)}`, { method: 'POST', headers, agent: false });
    let written = 0;
    let sentAll = false;
    let answered = false;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within 30 s; ${written} bytes written, all sent: ${sentAll}`));
    }, 30_000);
    req.on('response', (res) => {
      answered = true;
      const writtenAtAnswer = written;
      const sentAllAtAnswer = sentAll;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, text, body: tryJson(text), writtenAtAnswer, sentAllAtAnswer });
      });
      res.on('error', (err) => { clearTimeout(timer); reject(new Error(`the answer was cut: ${err.message}`)); });
    });
    req.on('error', (err) => {
      // Once answered, the server may close while we still write: expected.
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (['EPIPE', 'ECONNRESET'].includes(err.code)) resolve({ reset: err.code, writtenAtReset: written, sentAllAtReset: sentAll });
      else reject(new Error(`the connection failed before any answer (${written} bytes written): ${err.message}`));
    });
    const chunk = Buffer.alloc(256 * 1024, 'a');
    const end = pre.length + total;
    req.write(pre);
    written += pre.length;
    const pump = () => {
      while (!answered && written < end) {
        const n = Math.min(chunk.length, end - written);
        const flushed = req.write(n === chunk.length ? chunk : chunk.subarray(0, n));
        written += n;
        // Back to the event loop between writes: a write the kernel takes at
        // once completes in process.nextTick, and a pump that went on from
        // 'drain' there would never let Node read the answer while the
        // server reads on (it drains a refused body, up to 32 MiB).
        if (!flushed) { req.once('drain', () => setImmediate(pump)); return; }
      }
      if (!answered && !sentAll) { sentAll = true; req.end(post); }
    };
    pump();
  });
}

/** The first HTTP/1.1 response in `buf`, once complete: { status, headers, text, body } or null. */
function parseResponse(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = buf.toString('latin1', 0, end).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const status = Number(statusLine.split(' ')[1]);
  let body;
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (buf.length < end + 4 + length) return null;
    body = buf.subarray(end + 4, end + 4 + length);
  } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts = [];
    let i = end + 4;
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', i);
      if (lineEnd < 0) return null;
      const size = parseInt(buf.toString('latin1', i, lineEnd), 16);
      if (size === 0) break;
      if (buf.length < lineEnd + 2 + size + 2) return null;
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      i = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else {
    body = Buffer.alloc(0);
  }
  const text = body.toString('utf8');
  return { status, headers, text, body: tryJson(text) };
}

/** Writes `head` and `body` on a raw TCP connection; resolves with the first response. */
function rawExchange(server, head, body) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (fn, value) => { if (done) return; done = true; clearTimeout(timer); socket.destroy(); fn(value); };
    const timer = setTimeout(() => finish(reject, new Error(`no complete response within 10 s: ${data.toString('latin1').slice(0, 300)}`)), 10_000);
    socket.on('connect', () => { socket.write(head); socket.write(body); });
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      const res = parseResponse(data);
      if (res) finish(resolve, res);
    });
    socket.on('error', (err) => finish(reject, new Error(`connection error before a complete response (${data.length} bytes read): ${err.message}`)));
    socket.on('end', () => finish(reject, new Error(`connection closed before a complete response: ${data.toString('latin1').slice(0, 300)}`)));
  });
}

// ================================================================ scenarios

/** A tenant with an active session (customer and agent connected, in the room). */
const active = (server) => activeSession(server, { tenant: uniqueId('t') });

/** Asserts that `user` may still send `ids` (unsent, usable) in the session: sends them and returns the Message. */
async function sendsFine(socket, sessionId, ids, what) {
  const message = await ok(socket, 'send-message', { sessionId, content: `${what}: still usable`, attachments: ids });
  assert.deepEqual(message.attachments.map((a) => a.id), ids, `${what}: the attachments of the message`);
  return message;
}

// ================================================================ the tests, once per store

for (const kind of KINDS) {
  describe(`attachments on the ${kind.label}`, () => {
    const test = (name, fn) => it(name, { skip: kind.skip }, fn);
    const srv = useStoreServer(kind, { args: ['--attachment-max-bytes', String(MAX_BYTES)] });
    const server = () => srv.server;
    const store = () => srv.store;

    // ------------------------------------------------------------ upload and download

    describe('upload and download', () => {
      test('uploads an image as the customer: 201, the Attachment, the bytes back through the signed url and through Bearer, every header', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const bytes = files.png(640, 480);
        const before = await store().list();
        const attachment = await uploadOk(server(), customer, session.id, bytes, 'photo.png', {
          name: 'photo.png', contentType: 'image/png', width: 640, height: 480,
        });
        const now = Math.floor(Date.now() / 1000);
        const url = parseAttachmentUrl(attachment.url);
        assert.equal(url.origin, '', `without --public-url the url is a path: ${attachment.url}`);
        assert.ok(Math.abs(url.expires - (now + 3600)) <= 5, `url expires in 1 h (default): ${url.expires} vs now ${now}`);

        assertFile(await download(server(), attachment.url), attachment, bytes, 'signed url');
        assertFile(await download(server(), FILE_PATH(attachment.id), { user: customer }), attachment, bytes, 'Bearer');
        const thumb = assertThumbnail(await download(server(), attachment.thumbnailUrl), attachment, 'signed thumbnailUrl');
        const thumbByBearer = assertThumbnail(await download(server(), FILE_PATH(attachment.id, 'thumbnail'), { user: customer }), attachment, 'thumbnail by Bearer');
        assert.deepEqual(thumbByBearer, thumb);

        // The bytes are in the store (and, on S3, under the configured prefix).
        const stored = added(before, await store().list());
        assert.ok(stored.length >= 1, 'the upload added nothing to the store');
        if (store().kind === 's3') {
          for (const line of stored) assert.ok(line.startsWith(`${store().prefix}/`), `S3 key outside the prefix: ${line}`);
        }
      });

      test('uploads as the assigned agent and as an admin who does not hold the session; both download it', async () => {
        const { session, agent, customer } = await active(server());
        const bytes = files.pdf();
        const attachment = await uploadOk(server(), agent, session.id, bytes, 'terms.pdf', {
          name: 'terms.pdf', contentType: 'application/pdf', width: null, height: null, thumbnailUrl: null,
        });
        assertFile(await download(server(), attachment.url), attachment, bytes);
        assertFile(await download(server(), FILE_PATH(attachment.id), { user: agent }), attachment, bytes, 'Bearer of the uploader');

        const admin = makeUser('admin', { tenant: customer.tenant });
        const bytes2 = Buffer.from('notes from the admin\n');
        const byAdmin = await uploadOk(server(), admin, session.id, bytes2, 'admin.txt', { contentType: 'text/plain' });
        assertFile(await download(server(), byAdmin.url), byAdmin, bytes2);
      });

      test('makes a thumbnail of every image type: at most 320 px on the long side, never upscaled, same aspect', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const cases = [
          ['wide.png', files.png(640, 480), 'image/png', 640, 480],
          ['tall.png', files.png(200, 900), 'image/png', 200, 900],
          ['small.png', files.png(100, 50), 'image/png', 100, 50],
          ['photo.jpg', files.jpeg(640, 480), 'image/jpeg', 640, 480],
          ['odd.jpg', files.jpeg(333, 101), 'image/jpeg', 333, 101],
          ['banner.gif', files.gif(400, 30), 'image/gif', 400, 30],
          ['sticker.webp', files.webp(500, 250), 'image/webp', 500, 250],
        ];
        for (const [name, bytes, contentType, width, height] of cases) {
          const attachment = await uploadOk(server(), customer, session.id, bytes, name, { name, contentType, width, height });
          assertFile(await download(server(), attachment.url), attachment, bytes, name);
          const size = assertThumbnail(await download(server(), attachment.thumbnailUrl), attachment, `thumbnail of ${name}`);
          if (width <= 320 && height <= 320) {
            assert.deepEqual(size, { width, height }, `${name}: a small image's thumbnail is not upscaled`);
          }
        }
      });

      test('takes exactly one `file` part: none, two, not multipart, or a body cut short is invalid_payload; other parts are ignored', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const before = await store().list();
        const text = (data) => ({ name: 'file', filename: 'a.txt', contentType: 'text/plain', data });
        assertError(await uploadParts(server(), customer, session.id, [{ name: 'note', data: 'no file here' }]), 400, 'invalid_payload', 'no file part');
        assertError(await uploadParts(server(), customer, session.id, [{ name: 'upload', filename: 'a.txt', data: 'wrong name' }]), 400, 'invalid_payload', 'a file part not named file');
        assertError(await uploadParts(server(), customer, session.id, [text('one'), text('two')]), 400, 'invalid_payload', 'two file parts');
        assertError(await request(server(), customer, 'POST', UPLOAD_PATH(session.id), {
          body: JSON.stringify({ file: 'aGVsbG8=' }), headers: { 'content-type': 'application/json' },
        }), 400, 'invalid_payload', 'a JSON body');
        assertError(await request(server(), customer, 'POST', UPLOAD_PATH(session.id), {
          body: 'hello', headers: { 'content-type': 'text/plain' },
        }), 400, 'invalid_payload', 'a text body');
        const { body, contentType } = files.multipart([text('the end is missing')]);
        const cut = body.subarray(0, body.length - 12); // no closing boundary
        assertError(await request(server(), customer, 'POST', UPLOAD_PATH(session.id), {
          body: cut, headers: { 'content-type': contentType },
        }), 400, 'invalid_payload', 'a multipart body cut short');
        await expectStoreUnchanged(store(), before, 'after the refused multipart bodies');

        const res = await uploadParts(server(), customer, session.id, [
          { name: 'caption', data: 'before' }, text('the file'), { name: 'other', filename: 'x.bin', data: 'ignored' },
        ]);
        assert.equal(res.status, 201, `a file part among others: ${res.status} ${res.text}`);
        assertAttachment(res.body, { name: 'a.txt', size: 8, contentType: 'text/plain' });
        assert.equal((await download(server(), res.body.url)).text, 'the file');
      });

      test('refuses uploads without a valid token (401), to another tenant\'s or an unknown session (404); nothing stored', async () => {
        const { session, customer } = await active(server());
        const bytes = Buffer.from('hello\n');
        const before = await store().list();
        assertError(await upload(server(), null, session.id, bytes, 'a.txt'), 401, 'unauthorized', 'no token');
        assertError(await upload(server(), 'not.a.jwt', session.id, bytes, 'a.txt'), 401, 'unauthorized', 'a bad token');
        assertError(await upload(server(), makeUser('agent', { tenant: uniqueId('t') }), session.id, bytes, 'a.txt'), 404, 'not_found', 'another tenant\'s agent');
        assertError(await upload(server(), makeUser('admin', { tenant: uniqueId('t') }), session.id, bytes, 'a.txt'), 404, 'not_found', 'another tenant\'s admin');
        assertError(await upload(server(), customer, UNKNOWN_ID, bytes, 'a.txt'), 404, 'not_found', 'an unknown session');
        await expectStoreUnchanged(store(), before, 'after the refused uploads');
      });

      test('refuses an upload by another customer of the tenant as send-message does (403 forbidden); nothing stored', async () => {
        const { session, customer } = await active(server());
        const before = await store().list();
        assertError(await upload(server(), makeUser('customer', { tenant: customer.tenant }), session.id, Buffer.from('hello\n'), 'a.txt'),
          403, 'forbidden', 'another customer of the tenant');
        await expectStoreUnchanged(store(), before, 'after the refused upload');
      });

      test('refuses an upload by staff who may not send there (403: a watching agent, an agent of a pending session) and to a closed session (409 session_closed); nothing stored', async () => {
        const { session, customer, customerSocket } = await active(server());
        const tenant = customer.tenant;
        const bytes = Buffer.from('hello\n');
        const before = await store().list();
        const watcher = makeUser('agent', { tenant });
        const watcherSocket = await connect(server(), watcher.token, ws);
        await ok(watcherSocket, 'join-session', { sessionId: session.id });
        assertError(await upload(server(), watcher, session.id, bytes, 'a.txt'), 403, 'forbidden', 'a watching agent');
        assertError(await upload(server(), makeUser('agent', { tenant }), session.id, bytes, 'a.txt'), 403, 'forbidden', 'an agent who does not hold the session');
        const pending = await pendingSession(server(), { tenant });
        assertError(await upload(server(), makeUser('agent', { tenant }), pending.session.id, bytes, 'a.txt'), 403, 'forbidden', 'an agent, to a pending session');
        await ok(customerSocket, 'close-session', { sessionId: session.id });
        assertError(await upload(server(), customer, session.id, bytes, 'a.txt'), 409, 'session_closed', 'a closed session');
        await expectStoreUnchanged(store(), before, 'after the refused uploads');
      });
    });

    // ------------------------------------------------------------ types

    describe('the type comes from the bytes', () => {
      test('a PNG named notes.txt and sent as text/plain is image/png, served inline as image/png; text named .png is text/plain', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const bytes = files.png(64, 32);
        const attachment = await uploadOk(server(), customer, session.id, bytes, 'notes.txt', {
          name: 'notes.txt', contentType: 'image/png', width: 64, height: 32,
        }, { type: 'text/plain' });
        assertFile(await download(server(), attachment.url), attachment, bytes);
        const text = Buffer.from('just words\n');
        const fake = await uploadOk(server(), customer, session.id, text, 'picture.png', {
          name: 'picture.png', contentType: 'text/plain', width: null, height: null, thumbnailUrl: null,
        }, { type: 'image/png' });
        assertFile(await download(server(), fake.url), fake, text);
      });

      test('text: valid UTF-8 without NUL is text/plain, text/csv when the name ends in .csv (any case); an empty file is text/plain', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const cases = [
          ['hello.txt', 'Hello, world\n', 'text/plain'],
          ['unicode.txt', 'ünïcödé 😀 — 報告\n', 'text/plain'],
          ['not-markup.txt', 'hello <script>alert(1)</script>', 'text/plain'],
          ['README', '  leading spaces, then words', 'text/plain'],
          ['table.csv', 'a,b\n1,2\n', 'text/csv'],
          ['Report.CSV', 'x;y\n', 'text/csv'],
          ['data.csv.txt', 'a,b\n', 'text/plain'],
          ['empty.txt', '', 'text/plain'],
        ];
        for (const [name, content, contentType] of cases) {
          const bytes = Buffer.from(content, 'utf8');
          const attachment = await uploadOk(server(), customer, session.id, bytes, name, { name, contentType }, { type: 'application/octet-stream' });
          assertFile(await download(server(), attachment.url), attachment, bytes, name);
        }
        // The cleaned name decides: a bidi control after ".csv" is removed first.
        const res = await uploadParts(server(), customer, session.id, [{ name: 'file', filename: 'sheet.csv\u202e', data: 'a,b\n' }]);
        assert.equal(res.status, 201, res.text);
        assertAttachment(res.body, { name: 'sheet.csv', contentType: 'text/csv' });
      });

      test('refuses HTML, SVG and XML whatever their name, text with a NUL byte and invalid UTF-8 with 415; nothing stored', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const before = await store().list();
        const cases = [
          ['page.png', '<!DOCTYPE html><html><body><script>alert(1)</script></body></html>', 'image/png'],
          ['page.txt', '  \n\t<html><body>hi</body></html>', 'text/plain'],
          ['logo.png', '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>', 'image/png'],
          ['logo.svg', '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', 'image/svg+xml'],
          ['data.csv', '<?xml version="1.0"?><rows/>', 'text/csv'],
          ['comment.txt', '<!-- a comment -->', 'text/plain'],
          ['nul.txt', Buffer.from('abc\0def'), 'text/plain'],
          ['latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), 'text/plain'],
        ];
        for (const [name, content, type] of cases) {
          assertError(await upload(server(), customer, session.id, Buffer.from(content), name, { type }), 415, 'unsupported_media_type', name);
        }
        await expectStoreUnchanged(store(), before, 'after the refused markup and binary text');
      });

      test('recognises PDF, ZIP, DOCX and XLSX by their bytes, whatever the name; refuses PPTX, an ELF binary and random bytes with 415', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const cases = [
          ['invoice.txt', files.pdf(), 'application/pdf'],
          ['letter.pdf', files.docx(), DOCX],
          ['sheet.zip', files.xlsx(), XLSX],
          ['archive.docx', files.plainZip(), 'application/zip'],
          ['letter.docx', files.docx(), DOCX],
          ['numbers.xlsx', files.xlsx(), XLSX],
        ];
        for (const [name, bytes, contentType] of cases) {
          const attachment = await uploadOk(server(), customer, session.id, bytes, name, {
            name, contentType, width: null, height: null, thumbnailUrl: null,
          });
          assertFile(await download(server(), attachment.url), attachment, bytes, name);
        }
        const before = await store().list();
        let random = randomBytes(4096);
        random[10] = 0; // a NUL byte: never text, whatever else the bytes are
        random = Buffer.concat([Buffer.from([0x00, 0x01, 0x02, 0x03]), random]);
        for (const [name, bytes] of [['slides.pptx', files.pptx()], ['program.pdf', files.elf()], ['noise.png', random], ['noise.bin', random]]) {
          assertError(await upload(server(), customer, session.id, bytes, name), 415, 'unsupported_media_type', name);
        }
        await expectStoreUnchanged(store(), before, 'after the refused binaries');
      });

      test('refuses an image that does not decode and a decompression bomb (tiny PNG declaring 100000 x 100000) with invalid_payload, fast', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const before = await store().list();
        assertError(await upload(server(), customer, session.id, files.pngBroken(), 'broken.png'), 400, 'invalid_payload', 'a PNG that does not decode');
        const truncated = files.png(300, 200).subarray(0, 60);
        assertError(await upload(server(), customer, session.id, truncated, 'cut.png'), 400, 'invalid_payload', 'a truncated PNG');
        const bomb = files.pngBomb(100_000, 100_000);
        assert.ok(bomb.length < 1024, `the bomb is tiny on the wire (${bomb.length} bytes)`);
        const started = Date.now();
        assertError(await upload(server(), customer, session.id, bomb, 'bomb.png'), 400, 'invalid_payload', 'a PNG declaring 10^10 pixels');
        const elapsed = Date.now() - started;
        assert.ok(elapsed < 2000, `the bomb was refused in ${elapsed} ms: the pixel limit is checked from the header, before decoding`);
        // Just over the default 40 megapixels.
        assertError(await upload(server(), customer, session.id, files.pngBomb(6400, 6400), 'big.png'), 400, 'invalid_payload', '6400 x 6400 = 40.96 MP');
        await expectStoreUnchanged(store(), before, 'after the refused images');
      });
    });

    // ------------------------------------------------------------ size

    describe('the size limit', () => {
      test('accepts exactly --attachment-max-bytes and refuses one byte more with 413 attachment_too_large; nothing stored', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const exact = Buffer.alloc(MAX_BYTES, 'x');
        const attachment = await uploadOk(server(), customer, session.id, exact, 'exact.txt', { size: MAX_BYTES, contentType: 'text/plain' });
        assertFile(await download(server(), attachment.url), attachment, exact);
        const before = await store().list();
        assertError(await upload(server(), customer, session.id, Buffer.alloc(MAX_BYTES + 1, 'x'), 'over.txt'), 413, 'attachment_too_large', 'one byte over');
        assertError(await upload(server(), customer, session.id, Buffer.concat([files.png(64, 64), Buffer.alloc(MAX_BYTES)]), 'over.png'), 413, 'attachment_too_large', 'a PNG over the limit');
        await expectStoreUnchanged(store(), before, 'after the uploads over the limit');
      });

      for (const declareLength of [false, true]) {
        test(`stops reading at the limit: a 50 MiB body sent lazily (${declareLength ? 'Content-Length: 50 MiB' : 'chunked'}) is answered 413 long before it is all sent`, async () => {
          const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
          const before = await store().list();
          const total = 50 * 1024 * 1024;
          const far = 16 * 1024 * 1024;
          const drained = 40 * 1024 * 1024;
          // An attempt whose answer Node's client lost to a reset (see
          // streamUpload) proves the early close, not the 413: up to 5 attempts
          // until one reads its answer. Every attempt must end early.
          const attempts = [];
          for (let i = 0; i < 5 && !attempts.some((a) => !a.reset); i += 1) {
            const res = await streamUpload(server(), customer, session.id, { total, declareLength });
            attempts.push(res);
            if (res.reset) {
              // After its answer the server reads on and throws away at most
              // 32 MiB (twice the limit, at least 32 MiB: docs/protocol.md §9)
              // so a client still sending can read the answer; a reset comes
              // after that, never after the whole body.
              assert.equal(res.sentAllAtReset, false, 'the connection was reset only after the whole body was sent');
              assert.ok(res.writtenAtReset < drained, `the connection ended after ${(res.writtenAtReset / 1048576).toFixed(1)} MiB were written`);
              continue;
            }
            assertError(res, 413, 'attachment_too_large', 'a 50 MiB upload');
            assert.equal(res.sentAllAtAnswer, false, 'the answer came only after the whole body was sent');
            assert.ok(res.writtenAtAnswer < far,
              `the answer came after ${(res.writtenAtAnswer / 1048576).toFixed(1)} MiB were written: the server read far past the ${MAX_BYTES}-byte limit`);
          }
          assert.ok(attempts.some((a) => !a.reset), `no attempt read the answer: ${JSON.stringify(attempts)}`);
          await expectStoreUnchanged(store(), before, 'after the 50 MiB upload');
          await uploadOk(server(), customer, session.id, Buffer.from('still serving\n'), 'after.txt');
        });
      }

      test('a body that lies about its length (Content-Length 1000, 70 KiB sent) is refused; nothing stored; the server keeps serving', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const before = await store().list();
        const { body, contentType } = files.multipart([{ name: 'file', filename: 'liar.txt', contentType: 'text/plain', data: Buffer.alloc(70 * 1024, 'z') }]);
        const head = `POST ${UPLOAD_PATH(session.id)} HTTP/1.1\r\nHost: 127.0.0.1:${server().port}\r\n` +
          `Authorization: Bearer ${customer.token}\r\nContent-Type: ${contentType}\r\nContent-Length: 1000\r\n\r\n`;
        const res = await rawExchange(server(), head, body);
        assertError(res, 400, 'invalid_payload', 'a multipart body shorter than its parts (cut at Content-Length)');
        await expectStoreUnchanged(store(), before, 'after the lying upload');
        // Fresh connections are served as usual.
        const attachment = await uploadOk(server(), customer, session.id, Buffer.from('honest\n'), 'honest.txt');
        assert.equal((await download(server(), attachment.url)).text, 'honest\n');
      });
    });

    // ------------------------------------------------------------ names

    describe('file names', () => {
      test('cleans the filename: path separators, control characters and bidi controls removed, trimmed, cut to 255 characters, "file" when empty', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const emoji = '\u{1F4CE}';
        const cases = [
          ['../../etc/passwd', '....etcpasswd'],
          ['C:\\Users\\me\\report.txt', 'C:Usersmereport.txt'],
          ['invoice\u202etxt.exe', 'invoicetxt.exe'],
          ['\u200eleft\u200f\u202aembed\u202c\u202b\u202d\u2066iso\u2067\u2068\u2069.txt', 'leftembediso.txt'],
          ['tab\there.txt', 'tabhere.txt'],
          ['c1\u0085\u009b\u0080\u009fcontrols.txt', 'c1controls.txt'],
          ['   spaced out.txt  ', 'spaced out.txt'],
          [' \u202e / \\ ', 'file'],
          ['', 'file'],
          ['a'.repeat(300), 'a'.repeat(255)],
          ['é'.repeat(300), 'é'.repeat(255)],
          ['a'.repeat(250) + emoji.repeat(10), 'a'.repeat(250) + emoji.repeat(5)],
        ];
        for (const [sent, expected] of cases) {
          const res = await uploadParts(server(), customer, session.id, [{ name: 'file', filename: sent, contentType: 'text/plain', data: 'x' }]);
          assert.equal(res.status, 201, `filename ${JSON.stringify(sent)}: ${res.status} ${res.text.slice(0, 300)}`);
          assert.equal(res.body.name, expected, `filename ${JSON.stringify(sent)} is stored as ${JSON.stringify(res.body.name)}`);
          const file = await download(server(), res.body.url);
          assertDisposition(file.headers.get('content-disposition'), 'attachment', expected);
        }
      });

      test('raw C0 control characters and DEL in the filename header never reach the stored name', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const res = await uploadParts(server(), customer, session.id, [{ name: 'file', filename: 'a\u0001b\u001fc\u007fd.txt', data: 'x' }]);
        // Such a part header may be refused outright (invalid_payload); if it is
        // taken, the characters are gone.
        if (res.status === 201) {
          assert.equal(res.body.name, 'abcd.txt');
        } else {
          assertError(res, 400, 'invalid_payload', 'control characters in the part header');
        }
      });

      test('Content-Disposition: an ASCII fallback and filename* (RFC 5987) for a non-ASCII name; quotes replaced in the fallback', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const name = 'résumé 報告 \u{1F4CE}.pdf';
        const bytes = files.pdf();
        const attachment = await uploadOk(server(), customer, session.id, bytes, name, { name, contentType: 'application/pdf' });
        const res = await download(server(), attachment.url);
        assertFile(res, attachment, bytes);
        // Exact but for the case of the hex digits.
        assert.equal(res.headers.get('content-disposition').replace(/%[0-9a-f]{2}/gi, (x) => x.toUpperCase()),
          'attachment; filename="r_sum_ __ _.pdf"; filename*=UTF-8\'\'r%C3%A9sum%C3%A9%20%E5%A0%B1%E5%91%8A%20%F0%9F%93%8E.pdf');

        // A quote, escaped in the part header: kept in the name, `_` in the fallback.
        const png = files.png(20, 10);
        const quoted = await uploadParts(server(), customer, session.id, [{ name: 'file', filename: 'say \\"hi\\".png', data: png }]);
        assert.equal(quoted.status, 201, quoted.text);
        assertAttachment(quoted.body, { name: 'say "hi".png', contentType: 'image/png' });
        const image = await download(server(), quoted.body.url);
        assertFile(image, quoted.body, png);
        assert.equal(image.headers.get('content-disposition'), 'inline; filename="say _hi_.png"; filename*=UTF-8\'\'say%20%22hi%22.png');
      });
    });

    // ------------------------------------------------------------ signed URLs and Bearer

    describe('fetching: signed URLs and Bearer', () => {
      test('signs url and thumbnailUrl with HMAC-SHA256 over "{id}\\n{variant}\\n{expires}" (base64url)', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const attachment = await uploadOk(server(), customer, session.id, files.png(50, 50), 'dot.png');
        const url = parseAttachmentUrl(attachment.url);
        const thumb = parseAttachmentUrl(attachment.thumbnailUrl);
        assert.equal(url.signature, sign(attachment.id, 'file', url.expires), `url signature of ${attachment.url}`);
        assert.equal(thumb.signature, sign(attachment.id, 'thumbnail', thumb.expires), `thumbnailUrl signature of ${attachment.thumbnailUrl}`);
        // So a URL signed with the key for a later time works too.
        const later = url.expires + 600;
        assert.equal((await download(server(), signedPath(attachment.id, 'file', later))).status, 200);
        assert.equal((await download(server(), signedPath(attachment.id, 'thumbnail', later))).status, 200);
      });

      test('refuses with 403 an altered signature, an altered expires, another id\'s signature, a variant swap, an expired signature', async () => {
        const { session, customer } = await pendingSession(server(), { tenant: uniqueId('t') });
        const a = await uploadOk(server(), customer, session.id, files.png(40, 30), 'a.png');
        const b = await uploadOk(server(), customer, session.id, files.png(30, 40), 'b.png');
        const fa = parseAttachmentUrl(a.url);
        const ta = parseAttachmentUrl(a.thumbnailUrl);
        const fb = parseAttachmentUrl(b.url);
        const flip = (s) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
        const refused = [
          ['altered signature', `${fa.path}?expires=${fa.expires}&signature=${flip(fa.signature)}`],
          ['truncated signature', `${fa.path}?expires=${fa.expires}&signature=${fa.signature.slice(0, 20)}`],
          ['not base64url', `${fa.path}?expires=${fa.expires}&signature=${'!'.repeat(43)}`],
          ['empty signature', `${fa.path}?expires=${fa.expires}&signature=`],
          ['later expires', `${fa.path}?expires=${fa.expires + 1}&signature=${fa.signature}`],
          ['earlier expires', `${fa.path}?expires=${fa.expires - 1}&signature=${fa.signature}`],
          ['another id\'s signature', `${FILE_PATH(a.id)}?expires=${fb.expires}&signature=${fb.signature}`],
          ['the file signature on the thumbnail', `${FILE_PATH(a.id, 'thumbnail')}?expires=${fa.expires}&signature=${fa.signature}`],
          ['the thumbnail signature on the file', `${FILE_PATH(a.id)}?expires=${ta.expires}&signature=${ta.signature}`],
          ['a genuine signature that expired', signedPath(a.id, 'file', Math.floor(Date.now() / 1000) - 5)],
          ['an expired thumbnail signature', signedPath(a.id, 'thumbnail', Math.floor(Date.now() / 1000) - 5)],
        ];
        for (const [what, target] of refused) {
          assertError(await download(server(), target), 403, 'forbidden', what);
        }
        // The genuine ones still work.
        assert.equal((await download(server(), a.url)).status, 200);
        assert.equal((await download(server(), a.thumbnailUrl)).status, 200);
        // A well-signed URL of an id that does not exist is 404.
        const future = Math.floor(Date.now() / 1000) + 600;
        assertError(await download(server(), signedPath(UNKNOWN_ID, 'file', future)), 404, 'not_found', 'a signed URL of an unknown id');
      });

      test('Bearer: the uploader, the assigned agent, other staff of the tenant and the session\'s customer get it; another customer or tenant 404; no auth 401', async () => {
        const { session, customer, customerSocket, agent, agentSocket } = await active(server());
        const tenant = customer.tenant;
        const bytes = Buffer.from('a,b\n1,2\n');
        const byCustomer = await uploadOk(server(), customer, session.id, bytes, 'c.csv', { contentType: 'text/csv' });
        const imageBytes = files.png(120, 80);
        const byAgent = await uploadOk(server(), agent, session.id, imageBytes, 'agent.png');
        const colleague = makeUser('agent', { tenant });
        const admin = makeUser('admin', { tenant });

        // Not yet in a message: the uploader and staff.
        for (const [who, user] of [['the uploader', customer], ['the assigned agent', agent], ['another agent of the tenant', colleague], ['an admin', admin]]) {
          assertFile(await download(server(), FILE_PATH(byCustomer.id), { user }), byCustomer, bytes, `${who}, before sending`);
        }
        assertFile(await download(server(), FILE_PATH(byAgent.id), { user: colleague }), byAgent, imageBytes, 'staff, an agent\'s upload');
        assertThumbnail(await download(server(), FILE_PATH(byAgent.id, 'thumbnail'), { user: agent }), byAgent);

        // Sent: the session's customer reads the agent's attachment too.
        await ok(agentSocket, 'send-message', { sessionId: session.id, content: 'see attached', attachments: [byAgent.id] });
        assertFile(await download(server(), FILE_PATH(byAgent.id), { user: customer }), byAgent, imageBytes, 'the customer, once sent');
        assertThumbnail(await download(server(), FILE_PATH(byAgent.id, 'thumbnail'), { user: customer }), byAgent);
        await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'mine', attachments: [byCustomer.id] });

        for (const id of [byCustomer.id, byAgent.id]) {
          for (const variant of id === byAgent.id ? ['file', 'thumbnail'] : ['file']) {
            const target = FILE_PATH(id, variant);
            assertError(await download(server(), target, { user: makeUser('customer', { tenant }) }), 404, 'not_found', `${variant}: another customer of the tenant`);
            assertError(await download(server(), target, { user: makeUser('agent', { tenant: uniqueId('t') }) }), 404, 'not_found', `${variant}: another tenant's agent`);
            assertError(await download(server(), target, { user: makeUser('admin', { tenant: uniqueId('t') }) }), 404, 'not_found', `${variant}: another tenant's admin`);
            assertError(await download(server(), target), 401, 'unauthorized', `${variant}: no auth at all`);
            assertError(await download(server(), target, { user: 'not.a.jwt' }), 401, 'unauthorized', `${variant}: a bad token`);
          }
        }
        assertError(await download(server(), FILE_PATH(UNKNOWN_ID), { user: agent }), 404, 'not_found', 'an unknown id');
        assertError(await download(server(), FILE_PATH(byCustomer.id, 'thumbnail'), { user: agent }), 404, 'not_found', 'the thumbnail of a non-image');
      });
    });

    // ------------------------------------------------------------ sending

    describe('sending attachments', () => {
      test('send-message with attachments and empty content: the ack and new-message on both sides carry the full Attachments, in order', async () => {
        const { session, customer, customerSocket, agentSocket } = await active(server());
        const image = files.png(400, 300);
        const doc = files.pdf();
        const a = await uploadOk(server(), customer, session.id, image, 'shot.png');
        const b = await uploadOk(server(), customer, session.id, doc, 'form.pdf');
        drain(customerSocket);
        drain(agentSocket);
        const message = await ok(customerSocket, 'send-message', { sessionId: session.id, content: '', attachments: [b.id, a.id] });
        assertMessage(message, { sessionId: session.id, sender: customer.ref, content: '', clientMessageId: null });
        assert.deepEqual(message.attachments.map(plain), [plain(b), plain(a)]);
        for (const socket of [customerSocket, agentSocket]) {
          const event = await waitFor(socket, 'new-message');
          assertMessage(event);
          assert.deepEqual(plainMessage(event), plainMessage(message));
        }
        await expectNo(agentSocket, 'new-message', 200);
        const [sentB, sentA] = message.attachments;
        assertFile(await download(server(), sentA.url), a, image, 'the sent image');
        assertThumbnail(await download(server(), sentA.thumbnailUrl), a);
        assertFile(await download(server(), sentB.url), b, doc, 'the sent PDF');
      });

      test('content may be absent; REST send takes attachments (201); a message without attachments carries attachments: []', async () => {
        const { session, customer, agent, customerSocket, agentSocket } = await active(server());
        const a = await uploadOk(server(), agent, session.id, Buffer.from('one'), 'one.txt');
        const byAgent = await ok(agentSocket, 'send-message', { sessionId: session.id, attachments: [a.id] });
        assertMessage(byAgent, { content: '', sender: agent.ref });
        assert.deepEqual(byAgent.attachments.map(plain), [plain(a)]);

        const b = await uploadOk(server(), customer, session.id, Buffer.from('two'), 'two.txt');
        const res = await api(server(), customer, 'POST', SEND_PATH(session.id), { body: { attachments: [b.id], clientMessageId: 'rest-1' } });
        assert.equal(res.status, 201, res.text);
        assertMessage(res.body, { content: '', clientMessageId: 'rest-1', sender: customer.ref });
        assert.deepEqual(res.body.attachments.map(plain), [plain(b)]);
        const event = await waitFor(agentSocket, 'new-message', { filter: (m) => m.id === res.body.id });
        assert.deepEqual(plainMessage(event), plainMessage(res.body));

        const c = await uploadOk(server(), customer, session.id, Buffer.from('three'), 'three.txt');
        const withText = await expectStatus(api(server(), customer, 'POST', SEND_PATH(session.id), {
          body: { content: '  see this  ', attachments: [c.id] },
        }), 201, 'REST send with content and attachments:');
        assert.equal(withText.content, 'see this');

        const bare = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'no files' });
        assertMessage(bare, { attachments: [] });
        assert.deepEqual((await waitFor(agentSocket, 'new-message', { filter: (m) => m.id === bare.id })).attachments, []);
        const history = await listMessages(server(), customer, session.id);
        assert.deepEqual(history.map((m) => m.attachments.map((x) => x.id)), [[a.id], [b.id], [c.id], []]);
        for (const m of history) assertMessage(m);
      });

      test('empty content without attachments, or with attachments: [], is still invalid_payload', async () => {
        const { session, customer, customerSocket } = await pendingSession(server(), { tenant: uniqueId('t') });
        await expectError(customerSocket, 'invalid_payload', 'send-message', { sessionId: session.id, content: '' });
        await expectError(customerSocket, 'invalid_payload', 'send-message', { sessionId: session.id, content: '  ', attachments: [] });
        await expectError(customerSocket, 'invalid_payload', 'send-message', { sessionId: session.id, attachments: [] });
        await expectRestError(api(server(), customer, 'POST', SEND_PATH(session.id), { body: { attachments: [] } }), [400, 422], 'invalid_payload');
        assert.deepEqual(await listMessages(server(), customer, session.id), []);
      });

      test('at most 10 attachments: 11 is invalid_payload and stores nothing; all 11 stay usable', async () => {
        const { session, customer, customerSocket, agentSocket } = await active(server());
        const uploads = [];
        for (let i = 0; i < 11; i += 1) uploads.push(await uploadOk(server(), customer, session.id, Buffer.from(`file ${i}\n`), `f${i}.txt`));
        const ids = uploads.map((u) => u.id);
        drain(agentSocket);
        await expectError(customerSocket, 'invalid_payload', 'send-message', { sessionId: session.id, content: 'too many', attachments: ids });
        await expectRestError(api(server(), customer, 'POST', SEND_PATH(session.id), { body: { content: 'too many', attachments: ids } }), [400, 422], 'invalid_payload');
        await expectNo(agentSocket, 'new-message', 200);
        assert.deepEqual(await listMessages(server(), customer, session.id), []);
        const ten = await sendsFine(customerSocket, session.id, ids.slice(0, 10), 'ten');
        assert.deepEqual(ten.attachments.map(plain), uploads.slice(0, 10).map(plain));
        await sendsFine(customerSocket, session.id, ids.slice(10), 'the eleventh');
      });

      test('refuses unknown ids, duplicates, wrong types, another session\'s, another user\'s and an already-sent upload with invalid_payload; nothing stored; the valid ones stay usable', async () => {
        const { session, customer, agent, customerSocket, agentSocket } = await active(server());
        const tenant = customer.tenant;
        // The agent also holds a second session of the tenant.
        const other = await pendingSession(server(), { tenant });
        await ok(agentSocket, 'join-session', { sessionId: other.session.id });
        const good = await uploadOk(server(), customer, session.id, Buffer.from('good'), 'good.txt');
        const sent = await uploadOk(server(), customer, session.id, Buffer.from('sent'), 'sent.txt');
        const first = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'first', attachments: [sent.id] });
        const agentsOwn = await uploadOk(server(), agent, session.id, Buffer.from('agent'), 'agent.txt');
        const elsewhere = await uploadOk(server(), agent, other.session.id, Buffer.from('elsewhere'), 'elsewhere.txt');
        const otherCustomers = await uploadOk(server(), other.customer, other.session.id, Buffer.from('theirs'), 'theirs.txt');
        const stranger = await pendingSession(server(), { tenant: uniqueId('t') });
        const otherTenants = await uploadOk(server(), stranger.customer, stranger.session.id, Buffer.from('far'), 'far.txt');
        drain(customerSocket);
        drain(agentSocket);

        const bad = [
          ['an unknown id', customerSocket, customer, [good.id, UNKNOWN_ID]],
          ['not a UUID', customerSocket, customer, [good.id, 'nope']],
          ['a duplicate', customerSocket, customer, [good.id, good.id]],
          ['a number', customerSocket, customer, [good.id, 42]],
          ['null in the list', customerSocket, customer, [good.id, null]],
          ['not a list', customerSocket, customer, good.id],
          ['an object', customerSocket, customer, { id: good.id }],
          ['another user\'s upload (the agent\'s, sent by the customer)', customerSocket, customer, [good.id, agentsOwn.id]],
          ['another user\'s upload (the customer\'s, sent by the agent)', agentSocket, agent, [agentsOwn.id, good.id]],
          ['another session\'s upload by the same user', agentSocket, agent, [agentsOwn.id, elsewhere.id]],
          ['another customer\'s upload', customerSocket, customer, [good.id, otherCustomers.id]],
          ['another tenant\'s upload', customerSocket, customer, [good.id, otherTenants.id]],
          ['an already-sent upload', customerSocket, customer, [good.id, sent.id]],
        ];
        for (const [what, socket, user, attachments] of bad) {
          const error = await expectError(socket, 'invalid_payload', 'send-message', { sessionId: session.id, content: what, attachments });
          assert.ok(error, what);
          await expectRestError(api(server(), user, 'POST', SEND_PATH(session.id), { body: { content: what, attachments } }), [400, 422], 'invalid_payload', `REST, ${what}:`);
        }
        await expectNo(customerSocket, 'new-message', 200);
        await expectNo(agentSocket, 'new-message', 0);
        const history = await listMessages(server(), customer, session.id);
        assert.deepEqual(history.map((m) => m.id), [first.id], 'the refused sends stored nothing');

        // Everything refused above is still unsent and usable by its owner.
        await sendsFine(customerSocket, session.id, [good.id], 'the customer\'s good upload');
        await sendsFine(agentSocket, session.id, [agentsOwn.id], 'the agent\'s upload');
        await sendsFine(agentSocket, other.session.id, [elsewhere.id], 'the agent\'s upload to the other session');
        await sendsFine(other.customerSocket, other.session.id, [otherCustomers.id], 'the other customer\'s upload');
        await sendsFine(stranger.customerSocket, stranger.session.id, [otherTenants.id], 'the other tenant\'s upload');
        // The sent one stays with its message only.
        const after = await listMessages(server(), customer, session.id);
        assert.deepEqual(after.filter((m) => m.attachments.some((x) => x.id === sent.id)).map((m) => m.id), [first.id]);
      });

      test('a retried clientMessageId returns the stored message with the same attachments and attaches nothing twice', async () => {
        const { session, customer, customerSocket, agentSocket } = await active(server());
        const a = await uploadOk(server(), customer, session.id, files.png(90, 60), 'a.png');
        const b = await uploadOk(server(), customer, session.id, Buffer.from('b'), 'b.txt');
        const first = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'with a', clientMessageId: 'retry-1', attachments: [a.id] });
        await waitFor(agentSocket, 'new-message', { filter: (m) => m.id === first.id });
        await waitFor(customerSocket, 'new-message', { filter: (m) => m.id === first.id });

        const again = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'with a', clientMessageId: 'retry-1', attachments: [a.id] });
        assert.deepEqual(plainMessage(again), plainMessage(first), 'the same retry returns the stored message');
        assert.equal((await download(server(), again.attachments[0].url)).status, 200, 'the retry\'s urls work');
        const changed = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'with b', clientMessageId: 'retry-1', attachments: [b.id] });
        assert.deepEqual(plainMessage(changed), plainMessage(first), 'a retry with other attachments returns the stored message');
        const rest = await api(server(), customer, 'POST', SEND_PATH(session.id), { body: { content: 'with a', clientMessageId: 'retry-1', attachments: [a.id] } });
        assert.ok([200, 201].includes(rest.status), `REST retry: ${rest.status} ${rest.text}`);
        assert.deepEqual(plainMessage(rest.body), plainMessage(first), 'the REST retry returns the stored message');
        await expectNo(agentSocket, 'new-message', 300);

        const history = await listMessages(server(), customer, session.id);
        assert.deepEqual(history.map(plainMessage), [plainMessage(first)]);
        // b was attached to nothing: it can still be sent.
        await sendsFine(customerSocket, session.id, [b.id], 'the retry\'s other upload');
      });

      test('history (REST), the join ack and catch-up carry the attachments, with signed URLs that work', async () => {
        const { session, customer, agent, customerSocket, agentSocket } = await active(server());
        const image = files.jpeg(480, 360);
        const text = Buffer.from('minutes\n');
        const a = await uploadOk(server(), customer, session.id, image, 'photo.jpg');
        const b = await uploadOk(server(), agent, session.id, text, 'minutes.txt');
        const m1 = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'before' });
        const m2 = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'photo', attachments: [a.id] });
        const m3 = await ok(agentSocket, 'send-message', { sessionId: session.id, content: '', attachments: [b.id] });

        const checkMessages = async (messages, what) => {
          assert.deepEqual(messages.map((m) => m.id), [m1.id, m2.id, m3.id], what);
          for (const m of messages) assertMessage(m);
          assert.deepEqual(messages.map(plainMessage), [m1, m2, m3].map(plainMessage), what);
          const [photo] = messages[1].attachments;
          assertFile(await download(server(), photo.url), a, image, `${what}: the photo`);
          assertThumbnail(await download(server(), photo.thumbnailUrl), a, `${what}: its thumbnail`);
          assertFile(await download(server(), messages[2].attachments[0].url), b, text, `${what}: the text`);
        };
        await checkMessages(await listMessages(server(), customer, session.id), 'REST history (customer)');
        await checkMessages(await listMessages(server(), makeUser('agent', { tenant: customer.tenant }), session.id), 'REST history (another agent)');

        const watcher = makeUser('agent', { tenant: customer.tenant });
        const watcherSocket = await connect(server(), watcher.token, ws);
        const joined = await ok(watcherSocket, 'join-session', { sessionId: session.id });
        await checkMessages(joined.messages, 'the join ack');

        const tab = await connect(server(), customer.token, ws);
        const caughtUp = await ok(tab, 'join-session', { sessionId: session.id, lastMessageId: m1.id });
        assert.deepEqual(caughtUp.messages.map((m) => m.id), [m2.id, m3.id]);
        assert.deepEqual(caughtUp.messages.map(plainMessage), [m2, m3].map(plainMessage));
        assertFile(await download(server(), caughtUp.messages[0].attachments[0].url), a, image, 'catch-up: the photo');
      });
    });

    // ------------------------------------------------------------ URL lifetime, public URL, allow-list

    describe(`short URL lifetime (--attachment-url-ttl-seconds ${SHORT_TTL}), --public-url, --attachment-types png,text`, () => {
      const short = useStoreServer(kind, {
        args: ['--attachment-url-ttl-seconds', String(SHORT_TTL), '--public-url', PUBLIC_URL, '--attachment-types', 'png,text'],
      });

      test('URLs are absolute on --public-url', async () => {
        const { session, customer } = await pendingSession(short.server, { tenant: uniqueId('t') });
        const bytes = files.png(30, 30);
        const attachment = await uploadOk(short.server, customer, session.id, bytes, 'p.png');
        assert.equal(parseAttachmentUrl(attachment.url).origin, PUBLIC_URL, attachment.url);
        assert.ok(attachment.url.startsWith(`${PUBLIC_URL}/api/attachments/${attachment.id}?`), attachment.url);
        assert.ok(attachment.thumbnailUrl.startsWith(`${PUBLIC_URL}/api/attachments/${attachment.id}/thumbnail?`), attachment.thumbnailUrl);
        assertFile(await download(short.server, attachment.url), attachment, bytes, 'the public url, on the server');
      });

      test('a signed URL expires after the TTL: 403 forbidden; Bearer still works', async () => {
        const { session, customer } = await pendingSession(short.server, { tenant: uniqueId('t') });
        const bytes = Buffer.from('soon gone\n');
        const attachment = await uploadOk(short.server, customer, session.id, bytes, 'soon.txt');
        const url = parseAttachmentUrl(attachment.url);
        const now = Math.floor(Date.now() / 1000);
        assert.ok(url.expires >= now && url.expires <= now + SHORT_TTL + 1, `expires ${url.expires} should be about now (${now}) + ${SHORT_TTL}`);
        assert.equal(url.signature, sign(attachment.id, 'file', url.expires), 'a genuine signature');
        const first = await download(short.server, attachment.url);
        assertFile(first, attachment, bytes, 'right after the upload');
        const expired = await until(async () => {
          const res = await download(short.server, attachment.url);
          return res.status !== 200 && res;
        }, { timeout: (SHORT_TTL + 4) * 1000, every: 100, what: 'the signed url expiring' });
        assertError(expired, 403, 'forbidden', 'an expired url');
        assert.ok(Date.now() / 1000 >= url.expires, `refused before its expiry (${url.expires})`);
        assertFile(await download(short.server, FILE_PATH(attachment.id), { user: customer }), attachment, bytes, 'Bearer after expiry');
      });

      test('history, the join ack and new-message sign URLs afresh: once the first ones expired, messages read back carry working ones', async () => {
        const { session, customer, customerSocket, agentSocket } = await active(short.server);
        const bytes = files.png(500, 100);
        const attachment = await uploadOk(short.server, customer, session.id, bytes, 'wide.png');
        const sent = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'look', attachments: [attachment.id] });
        const old = parseAttachmentUrl(sent.attachments[0].url);
        await until(async () => (await download(short.server, sent.attachments[0].url)).status === 403,
          { timeout: (SHORT_TTL + 4) * 1000, every: 100, what: 'the first url expiring' });
        assertError(await download(short.server, sent.attachments[0].thumbnailUrl), 403, 'forbidden', 'the first thumbnailUrl, expired');

        const [fromHistory] = await listMessages(short.server, customer, session.id);
        const fresh = fromHistory.attachments[0];
        assert.ok(parseAttachmentUrl(fresh.url).expires > old.expires, `history signs afresh: ${fresh.url} vs ${sent.attachments[0].url}`);
        assertFile(await download(short.server, fresh.url), attachment, bytes, 'the history url');
        assertThumbnail(await download(short.server, fresh.thumbnailUrl), attachment, 'the history thumbnailUrl');

        const joined = await ok(agentSocket, 'join-session', { sessionId: session.id });
        const joinedAttachment = joined.messages.find((m) => m.id === sent.id).attachments[0];
        assertFile(await download(short.server, joinedAttachment.url), attachment, bytes, 'the join ack url');

      });

      test('--attachment-types limits the allow-list: JPEG and PDF are 415, PNG and text pass', async () => {
        const { session, customer } = await pendingSession(short.server, { tenant: uniqueId('t') });
        const before = await short.store.list();
        assertError(await upload(short.server, customer, session.id, files.jpeg(40, 40), 'p.jpg'), 415, 'unsupported_media_type', 'a JPEG');
        assertError(await upload(short.server, customer, session.id, files.pdf(), 'd.pdf'), 415, 'unsupported_media_type', 'a PDF');
        assertError(await upload(short.server, customer, session.id, files.plainZip(), 'z.zip'), 415, 'unsupported_media_type', 'a ZIP');
        await expectStoreUnchanged(short.store, before, 'after the types outside the list');
        await uploadOk(short.server, customer, session.id, files.png(10, 10), 'ok.png', { contentType: 'image/png' });
        await uploadOk(short.server, customer, session.id, Buffer.from('ok'), 'ok.txt', { contentType: 'text/plain' });
      });
    });

    // ------------------------------------------------------------ the sweep

    describe('the sweep of unsent uploads (--attachment-unsent-seconds 2 --attachment-sweep-seconds 1)', () => {
      const swept = useStoreServer(kind, { args: ['--attachment-unsent-seconds', '2', '--attachment-sweep-seconds', '1'] });

      test('deletes an upload not sent in time (row, bytes and thumbnail) and keeps a sent one', async () => {
        const { session, customer, customerSocket } = await pendingSession(swept.server, { tenant: uniqueId('t') });
        const s0 = await swept.store.list();
        // The kept one is uploaded first: when the other goes, it is older still.
        const keptBytes = files.png(360, 200);
        const kept = await uploadOk(swept.server, customer, session.id, keptBytes, 'kept.png');
        const message = await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'keep', attachments: [kept.id] });
        const s1 = await swept.store.list();
        const keptKeys = added(s0, s1).map(keyOf);
        assert.ok(keptKeys.length >= 1, 'the kept upload is in the store');
        const doomed = await uploadOk(swept.server, customer, session.id, files.png(300, 300), 'doomed.png');
        const doomedKeys = added(s1, await swept.store.list()).map(keyOf);
        assert.ok(doomedKeys.length >= 1, 'the doomed upload is in the store');
        assert.equal((await download(swept.server, doomed.url)).status, 200, 'fetchable before the sweep');

        await until(async () => (await download(swept.server, FILE_PATH(doomed.id), { user: customer })).status === 404,
          { timeout: 15_000, every: 200, what: 'the unsent upload being swept' });
        await until(async () => {
          const keys = (await swept.store.list()).map(keyOf);
          return doomedKeys.every((k) => !keys.includes(k));
        }, { timeout: 3000, every: 100, what: 'the unsent upload\'s bytes and thumbnail leaving the store' });
        assertError(await download(swept.server, doomed.url), 404, 'not_found', 'the swept upload\'s signed url');
        assertError(await download(swept.server, doomed.thumbnailUrl), 404, 'not_found', 'the swept upload\'s signed thumbnailUrl');
        await expectError(customerSocket, 'invalid_payload', 'send-message', { sessionId: session.id, content: 'too late', attachments: [doomed.id] });

        // The sent one stays: bytes, thumbnail, store keys, the message.
        const keys = (await swept.store.list()).map(keyOf);
        for (const k of keptKeys) assert.ok(keys.includes(k), `the sent upload's ${k} was deleted from the store`);
        assertFile(await download(swept.server, FILE_PATH(kept.id), { user: customer }), kept, keptBytes, 'the sent upload after the sweep');
        const [stored] = await listMessages(swept.server, customer, session.id);
        assert.equal(stored.id, message.id);
        assertFile(await download(swept.server, stored.attachments[0].url), kept, keptBytes, 'the sent upload through history');
        assertThumbnail(await download(swept.server, stored.attachments[0].thumbnailUrl), kept);
      });
    });

    // ------------------------------------------------------------ three nodes

    describe('three nodes sharing the store (Redis + PostgreSQL)', () => {
      const skip = kind.skip || clusterSkip;
      const holder = { cluster: null, store: kind.make() };
      let marks = [];
      before(async () => {
        if (skip) return;
        await holder.store.create();
        holder.cluster = await spawnCluster({ nodes: 3, args: [...holder.store.args(), ...BASE_ARGS], env: holder.store.env() });
      });
      afterEach(async (t) => {
        closeAllClients();
        const nodes = holder.cluster?.nodes ?? [];
        if (t.passed === false || process.env.TEST_LOG) {
          const text = nodes.map((s, i) => `--- node ${i} (${s.url}) ---\n${s.logs().slice(marks[i] ?? 0)}`).join('\n');
          process.stderr.write(`\n--- cluster output during "${t.name}" ---\n${text}\n--- end ---\n`);
        }
        marks = nodes.map((s) => s.logs().length);
      });
      after(async () => {
        if (holder.cluster) await holder.cluster.dispose();
        await holder.store.dispose();
      });

      it('uploads on node A, sends on node B, the agent on node C gets it and fetches it there', { skip }, async () => {
        const [a, b, c] = holder.cluster.nodes;
        const tenant = freshTenant();
        const customer = makeUser('customer', { tenant });
        const agent = makeUser('agent', { tenant });
        const session = await openSession(a, customer);
        const agentSocket = await connect(c, agent.token, ws);
        await ok(agentSocket, 'join-session', { sessionId: session.id });
        const customerSocket = await connect(b, customer.token, ws);
        await ok(customerSocket, 'join-session', { sessionId: session.id });
        drain(agentSocket);

        const bytes = files.png(640, 360);
        const attachment = await uploadOk(a, customer, session.id, bytes, 'across.png', { width: 640, height: 360 });
        const doc = Buffer.from('id,total\n1,20\n');
        const csv = await uploadOk(c, agent, session.id, doc, 'totals.csv', { contentType: 'text/csv' });
        const message = await ok(customerSocket, 'send-message', { sessionId: session.id, content: '', attachments: [attachment.id] });
        const event = await waitFor(agentSocket, 'new-message', { timeout: 5000, filter: (m) => m.id === message.id });
        assert.deepEqual(plainMessage(event), plainMessage(message));
        assert.deepEqual(event.attachments.map(plain), [plain(attachment)]);
        assertFile(await download(c, event.attachments[0].url), attachment, bytes, 'node C, the signed url');
        assertThumbnail(await download(c, event.attachments[0].thumbnailUrl), attachment, 'node C, the thumbnail');
        assertFile(await download(b, FILE_PATH(attachment.id), { user: agent }), attachment, bytes, 'node B, Bearer');

        // The agent's upload on node C is sent from node A's REST.
        const viaRest = await expectStatus(api(a, agent, 'POST', SEND_PATH(session.id), { body: { attachments: [csv.id] } }), 201, 'REST send on node A:');
        const toCustomer = await waitFor(customerSocket, 'new-message', { timeout: 5000, filter: (m) => m.id === viaRest.id });
        assertFile(await download(b, toCustomer.attachments[0].url), csv, doc, 'node B, the agent\'s upload from node C');
        const history = await listMessages(c, customer, session.id);
        assert.deepEqual(history.map((m) => m.attachments.map((x) => x.id)), [[attachment.id], [csv.id]]);
      });
    });
  });
}
