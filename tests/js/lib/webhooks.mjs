// A real webhook receiver for the integration tests (docs/protocol.md §10): an HTTP
// server of node:http on 127.0.0.1 that verifies every delivery with the
// official `standardwebhooks` npm library (the signature is never computed
// here), records each attempt, and answers as the test tells it:
//
//   const rx = await startReceiver();            // rx.url: http://127.0.0.1:PORT/hook
//   const hook = await registerWebhook(server, admin, rx.url, ['message.created']);
//   rx.secret = hook.secret;                    // shown once by the server
//   rx.answer('ok' | 'fail' | 'hang');          // or a function of the attempt
//   rx.answer({ answer: 'ok', afterMs: 300 });  // a slow endpoint
//   rx.answer({ answer: 302, headers: { location } });
//   const [attempt] = await rx.waitForEvents(1, { type: 'message.created' });
//   await rx.vanish();  … await rx.revive();     // the endpoint goes away, then comes back
//
// An attempt: { id (webhook-id), type, body (verified JSON), raw, headers,
// timestamp (webhook-timestamp, Unix seconds), verified, verifyError, n (the
// attempt's number for this webhook-id at this receiver), receivedAt,
// answeredAt, status (what it answered; null: it never did) }.
//
// Waiting resolves on the attempts themselves (each arrival and each answer
// re-checks every waiter), never on a sleep; each wait has a timeout whose
// error says what was seen. The receiver also keeps, per webhook-id, how many
// requests were in flight at once: `overlaps()` lists the ids that ever had
// two (docs/protocol.md §10: one delivery is attempted by one node at a time).

import http from 'node:http';
import { Webhook } from 'standardwebhooks';

/** 2xx answers; 'fail' is a 500; 'hang' never answers (the server's timeout must end it). */
const ANSWERS = { ok: 204, fail: 500 };

/**
 * Starts a receiver on 127.0.0.1 (port 0 unless `port`). options:
 * - secret: the whsec_… to verify with (may be set later: `rx.secret = …`)
 * - answer: 'ok' (default) | 'fail' | 'hang' | a number (status) |
 *   { answer, afterMs } (that answer, after a while) | (attempt) => one of
 *   those, decided per attempt
 * - path: the URL path (default '/hook')
 * - forward: a URL to pass each verified delivery on to, verbatim (raw body and
 *   the webhook-* headers), answering what that answered (see forwardTo())
 */
export async function startReceiver(options = {}) {
  const rx = new Receiver(options);
  await rx.listen(options.port ?? 0);
  return rx;
}

class Receiver {
  constructor({ secret = null, answer = 'ok', path = '/hook', forward = null } = {}) {
    this.secret = secret;
    this.path = path;
    this.attempts = [];
    this.forward = forward;
    this.decide = typeof answer === 'function' ? answer : () => answer;
    this.waiters = new Set();
    this.inFlight = new Map();
    this.overlapping = new Set();
    /** Requests in flight now, and the most ever at once (all webhook-ids together). */
    this.flyingNow = 0;
    this.maxInFlight = 0;
    this.sockets = new Set();
    this.server = null;
    this.port = null;
  }

  get url() { return `http://127.0.0.1:${this.port}${this.path}`; }
  get listening() { return this.server !== null; }

  /** How to answer from now on: 'ok' | 'fail' | 'hang' | a status | { answer, afterMs } | (attempt) => one of those. */
  answer(how) {
    this.decide = typeof how === 'function' ? how : () => how;
  }

  /** From now on, passes every verified delivery on to `url` (raw body, webhook-* headers) and answers what it answered. */
  forwardTo(url) { this.forward = url; }

  listen(port) {
    const server = http.createServer((req, res) => this.onRequest(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        this.server = server;
        this.port = server.address().port;
        resolve(this);
      });
    });
  }

  /**
   * The endpoint disappears: the listening socket is closed and every open
   * connection (a hanging request included) is destroyed. Later attempts get
   * "connection refused" until revive().
   */
  async vanish() {
    const { server } = this;
    if (!server) return;
    this.server = null;
    const closed = new Promise((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Listens again on the same port after vanish(). */
  async revive() {
    if (this.server) return;
    await this.listen(this.port);
  }

  /** vanish() for good, at the end of a test. */
  close() { return this.vanish(); }

  async onRequest(req, res) {
    const chunks = [];
    try {
      for await (const chunk of req) chunks.push(chunk);
    } catch {
      return; // the sender went away mid-body: nothing to record
    }
    const raw = Buffer.concat(chunks).toString('utf8');
    const headers = {};
    for (const [key, value] of Object.entries(req.headers)) headers[key] = value;
    const id = headers['webhook-id'] ?? null;
    const attempt = {
      id,
      type: null,
      body: null,
      raw,
      method: req.method,
      path: req.url,
      headers,
      timestamp: headers['webhook-timestamp'] === undefined ? null : Number(headers['webhook-timestamp']),
      verified: false,
      verifyError: null,
      n: this.attempts.filter((a) => a.id === id).length + 1,
      receivedAt: Date.now(),
      answeredAt: null,
      status: null,
    };
    try {
      if (!this.secret) throw new Error('the receiver has no secret yet');
      attempt.body = new Webhook(this.secret).verify(raw, headers);
      attempt.verified = true;
      attempt.type = attempt.body?.type ?? null;
    } catch (err) {
      attempt.verifyError = err.message;
      try { attempt.type = JSON.parse(raw)?.type ?? null; } catch { /* not JSON: type stays null */ }
    }

    // In flight from the request's arrival until its connection answers or goes away.
    const flying = (this.inFlight.get(id) ?? 0) + 1;
    this.inFlight.set(id, flying);
    if (flying > 1) this.overlapping.add(id);
    this.flyingNow += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.flyingNow);
    let landed = false;
    const land = () => {
      if (landed) return;
      landed = true;
      this.inFlight.set(id, this.inFlight.get(id) - 1);
      this.flyingNow -= 1;
      this.notify();
    };
    res.on('close', land);

    this.attempts.push(attempt);
    this.notify();

    if (!attempt.verified) {
      this.reply(res, attempt, 400, `not verified: ${attempt.verifyError}`);
      return;
    }
    if (this.forward) {
      await this.passOn(res, attempt);
      return;
    }
    let how = this.decide(attempt);
    if (how === 'hang') return; // never answered: the server's timeout (or vanish) ends it
    let extraHeaders = {};
    if (typeof how === 'object' && how !== null) {
      // { answer, afterMs, headers }: a slow endpoint (the request stays in flight that long), or extra headers (a redirect's location).
      const { answer = 'ok', afterMs = 0, headers: more = {} } = how;
      if (afterMs > 0) await new Promise((resolve) => { setTimeout(resolve, afterMs); });
      if (res.destroyed || res.writableEnded) return; // the server gave up (or the receiver vanished) first
      how = answer;
      extraHeaders = more;
    }
    const status = typeof how === 'number' ? how : ANSWERS[how];
    if (status === undefined) {
      attempt.verifyError = `the test asked for an unknown answer ${JSON.stringify(how)}`;
      attempt.verified = false;
      this.reply(res, attempt, 500, attempt.verifyError);
      return;
    }
    this.reply(res, attempt, status, status >= 400 ? 'failing on purpose' : '', extraHeaders);
  }

  async passOn(res, attempt) {
    let status = 502;
    let text = '';
    try {
      const forwarded = await fetch(this.forward, {
        method: 'POST',
        headers: pick(attempt.headers, ['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature']),
        body: attempt.raw,
      });
      status = forwarded.status;
      text = await forwarded.text();
    } catch (err) {
      text = `forwarding failed: ${err.message}`;
    }
    attempt.forwarded = { status, text };
    this.reply(res, attempt, status, text);
  }

  reply(res, attempt, status, text, extraHeaders = {}) {
    attempt.status = status;
    attempt.answeredAt = Date.now();
    res.writeHead(status, { 'content-type': 'text/plain', ...extraHeaders });
    res.end(status === 204 ? undefined : text);
    this.notify();
  }

  notify() {
    for (const waiter of [...this.waiters]) waiter.check();
  }

  // ------------------------------------------------------------ reading what came

  /** Verified attempts, in arrival order, that match `filter` ({ type, id, status } or a function). */
  verified(filter = {}) {
    return this.attempts.filter((a) => a.verified && matches(a, filter));
  }

  /** Attempts the library refused (a test that expects none asserts this is []). */
  unverified() { return this.attempts.filter((a) => !a.verified); }

  /** One entry per webhook-id that got a 2xx answer, in the order of those answers: its successful attempt. */
  delivered(filter = {}) {
    const seen = new Map();
    for (const a of [...this.attempts].sort((x, y) => (x.answeredAt ?? Infinity) - (y.answeredAt ?? Infinity))) {
      if (a.verified && a.status >= 200 && a.status < 300 && !seen.has(a.id) && matches(a, filter)) seen.set(a.id, a);
    }
    return [...seen.values()];
  }

  /** Every attempt of one webhook-id, oldest first. */
  attemptsOf(id) { return this.attempts.filter((a) => a.id === id); }

  /** The webhook-ids that ever had two requests in flight at once. */
  overlaps() { return [...this.overlapping]; }

  // ------------------------------------------------------------ waiting

  /**
   * Resolves with check(this)'s value once it is truthy, re-checked at every
   * arrival and every answer; rejects after `timeout` ms with `what` and a
   * summary of what came.
   */
  until(check, { timeout = 10_000, what = 'condition' } = {}) {
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          let value;
          try { value = check(this); } catch (err) { finish(() => reject(err)); return; }
          if (value) finish(() => resolve(value));
        },
      };
      const timer = setTimeout(() => finish(() => reject(new Error(
        `webhook receiver ${this.url}: ${what} did not happen within ${timeout} ms; attempts: ${this.describe()}`))), timeout);
      const finish = (settle) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        settle();
      };
      this.waiters.add(waiter);
      waiter.check();
    });
  }

  /** Resolves with the first `count` verified attempts matching `filter` (arrived, answered or not). */
  waitForAttempts(count, filter = {}, opts = {}) {
    return this.until((rx) => {
      const found = rx.verified(filter);
      return found.length >= count && found.slice(0, count);
    }, { what: `${count} verified attempt(s) ${describeFilter(filter)}`, ...opts });
  }

  /** Resolves with the first `count` distinct events matching `filter` answered 2xx (one attempt each). */
  waitForEvents(count, filter = {}, opts = {}) {
    return this.until((rx) => {
      const found = rx.delivered(filter);
      return found.length >= count && found.slice(0, count);
    }, { what: `${count} delivered event(s) ${describeFilter(filter)}`, ...opts });
  }

  /** Resolves with the one delivered event matching `filter`. */
  async waitForEvent(filter = {}, opts = {}) {
    const [event] = await this.waitForEvents(1, filter, opts);
    return event;
  }

  /**
   * A short account of every attempt, for failure messages: per webhook-id,
   * its type and each attempt as status@ms-since-the-first-attempt-here
   * ('-' for unanswered, '!' for unverified).
   */
  describe() {
    const start = this.attempts[0]?.receivedAt ?? 0;
    const byId = new Map();
    for (const a of this.attempts) {
      const entry = byId.get(a.id) ?? { type: a.type, tries: [] };
      entry.tries.push(`${a.verified ? '' : '!'}${a.status ?? '-'}@${a.receivedAt - start}`);
      byId.set(a.id, entry);
    }
    const lines = [...byId].map(([id, { type, tries }]) => `${id} ${type}: ${tries.join(' ')}`);
    return `${this.attempts.length} attempt(s) of ${byId.size} event(s)\n${lines.join('\n')}`.slice(0, 6000);
  }
}

function pick(object, keys) {
  return Object.fromEntries(keys.filter((k) => object[k] !== undefined).map((k) => [k, object[k]]));
}

/** filter: a function of the attempt, or { type, id, session (the data.session.id) } to match exactly. */
function matches(attempt, filter) {
  if (typeof filter === 'function') return filter(attempt);
  if (filter.type !== undefined && attempt.type !== filter.type) return false;
  if (filter.id !== undefined && attempt.id !== filter.id) return false;
  if (filter.session !== undefined && attempt.body?.data?.session?.id !== filter.session) return false;
  return true;
}

function describeFilter(filter) {
  return typeof filter === 'function' ? `matching ${filter.toString().slice(0, 120)}` : JSON.stringify(filter);
}
