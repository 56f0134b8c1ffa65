// The shapes and pure rules of the integrations page (PROTOCOL §9, v1.3):
// API keys, webhook endpoints and their delivery log. No React here, so the
// rules (where a live delivery goes in the log, which field a refusal is
// about, what the register form may send) are unit-tested on their own
// (test/integrations.test.ts).

import { ChatError } from './protocol';

/** An API key as listed: the key itself is never listed, only shown once on creation. */
export type ApiKey = { id: string; name: string; createdAt: string; lastUsedAt: string | null };
export type CreatedApiKey = { id: string; name: string; key: string; createdAt: string };

/** The event types an endpoint subscribes to, in the order the form offers them. */
export const WEBHOOK_EVENT_TYPES = [
  'session.created',
  'session.updated',
  'session.closed',
  'message.created',
  'note.created',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** What each event type reports, for the form's checkboxes. */
export const WEBHOOK_EVENT_HELP: Record<WebhookEventType, string> = {
  'session.created': 'a customer opens a chat',
  'session.updated': 'assigned, transferred, back to the queue, rated',
  'session.closed': 'a chat is closed',
  'message.created': 'customer, agent and bot messages (never notes)',
  'note.created': 'an agent adds a private note',
};

export type Webhook = { id: string; url: string; events: string[]; description: string | null; createdAt: string };
export type CreatedWebhook = Webhook & { secret: string };

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export type WebhookDelivery = {
  id: string;
  eventId: string;
  type: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
  deliveredAt: string | null;
};

/** The socket event `webhook-delivery`, sent to the tenant's admins on every attempt's outcome and on a retry. */
export type WebhookDeliveryEvent = { webhookId: string; delivery: WebhookDelivery };
export const WEBHOOK_DELIVERY_EVENT = 'webhook-delivery';

/** How many deliveries a log asks for and keeps. */
export const DELIVERY_LOG_LIMIT = 50;

/** Newest first: by creation time, then by id (ids are time-ordered), so equal times keep one order. */
function newestFirst(a: WebhookDelivery, b: WebhookDelivery): number {
  const ta = Date.parse(a.createdAt);
  const tb = Date.parse(b.createdAt);
  if (ta !== tb) return (Number.isNaN(tb) ? 0 : tb) - (Number.isNaN(ta) ? 0 : ta);
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * The log with `delivery` in it: the copy with the same id replaced (a new
 * attempt's outcome, a retry), or a new one added; newest first, at most
 * `limit` entries. The list given is not changed.
 */
export function upsertDelivery(
  list: readonly WebhookDelivery[],
  delivery: WebhookDelivery,
  limit = DELIVERY_LOG_LIMIT,
): WebhookDelivery[] {
  const next = list.filter((d) => d.id !== delivery.id);
  next.push(delivery);
  next.sort(newestFirst);
  return next.slice(0, limit);
}

/**
 * A page of the log fetched while live events kept coming: the fetched
 * list, then every event heard since the request went out on top (they are
 * at least as new as what the request saw).
 */
export function mergeDeliveries(
  fetched: readonly WebhookDelivery[],
  heardSince: readonly WebhookDelivery[],
  limit = DELIVERY_LOG_LIMIT,
): WebhookDelivery[] {
  return heardSince.reduce((list, d) => upsertDelivery(list, d, limit), [...fetched].sort(newestFirst).slice(0, limit));
}

/** A `webhook-delivery` payload the page can use, or null. */
export function validDeliveryEvent(payload: unknown): WebhookDeliveryEvent | null {
  const e = payload as Partial<WebhookDeliveryEvent> | null;
  const d = e?.delivery as Partial<WebhookDelivery> | undefined;
  if (!e || typeof e.webhookId !== 'string' || !d || typeof d.id !== 'string' || typeof d.status !== 'string') return null;
  if (typeof d.createdAt !== 'string') return null;
  return e as WebhookDeliveryEvent;
}

/**
 * What the last attempt got: "HTTP 500", "HTTP 302 · redirect not followed",
 * "timed out", or "—" before any attempt. The server's error for a status
 * ("answered 500") says no more than the status, so only the status shows.
 */
export function lastOutcome(d: WebhookDelivery): string {
  const error = d.lastError?.trim() || null;
  const status = d.lastStatusCode !== null ? `HTTP ${d.lastStatusCode}` : null;
  if (status && error) {
    if (error.includes(status)) return error;
    if (new RegExp(`^(answered|status|http)?\\s*${d.lastStatusCode}$`, 'i').test(error)) return status;
    return `${status} · ${error}`;
  }
  return status ?? error ?? '—';
}

// ---- the register form --------------------------------------------------

export type WebhookDraft = { url: string; events: WebhookEventType[]; description: string };
export type WebhookDraftField = 'url' | 'events' | 'description';
export type WebhookDraftErrors = Partial<Record<WebhookDraftField, string>>;
export type WebhookBody = { url: string; events: WebhookEventType[]; description?: string };

export const DESCRIPTION_MAX = 500;

export function emptyWebhookDraft(): WebhookDraft {
  return { url: '', events: [], description: '' };
}

/**
 * What the form would send, or why not: an http(s) URL, at least one event
 * type. Only the checks a person needs before sending; the server decides
 * the rest (a private address, say) and its refusal is shown by the field.
 */
export function checkWebhookDraft(draft: WebhookDraft): { body: WebhookBody; errors: WebhookDraftErrors } {
  const errors: WebhookDraftErrors = {};
  const url = draft.url.trim();
  if (!url) errors.url = 'Enter the URL that will receive the events.';
  else {
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      parsed = null;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      errors.url = 'Enter a full http:// or https:// URL.';
    }
  }
  const events = WEBHOOK_EVENT_TYPES.filter((t) => draft.events.includes(t));
  if (events.length === 0) errors.events = 'Choose at least one event type.';
  const description = draft.description.trim();
  if (description.length > DESCRIPTION_MAX) errors.description = `At most ${DESCRIPTION_MAX} characters.`;
  return { body: { url, events, ...(description ? { description } : {}) }, errors };
}

/**
 * Which field a refusal of `POST /api/webhooks` is about, from the
 * server's words (`invalid_payload` names what it refused: "events …",
 * "description …", otherwise the URL: a private address, a bad scheme).
 * Anything but `invalid_payload` is about the form as a whole (null).
 */
export function webhookErrorField(err: unknown): WebhookDraftField | null {
  if (!(err instanceof ChatError) || err.code !== 'invalid_payload') return null;
  const text = err.message.toLowerCase();
  if (/\bevents?\b/.test(text) && !/\burl\b/.test(text)) return 'events';
  if (/\bdescription\b/.test(text)) return 'description';
  return 'url';
}

/** A refusal of the integrations API in words for the page. */
export function describeIntegrationError(err: unknown): string {
  if (err instanceof ChatError) {
    if (err.code === 'forbidden') return 'Only administrators can manage integrations.';
    if (err.code === 'not_found') return 'It is gone already (removed in another tab?).';
    if (err.code === 'conflict') return 'Only a failed delivery can be retried; this one is not failed any more.';
    if (err.code === 'rate_limited') return 'Too many requests; try again in a moment.';
    return err.message;
  }
  return (err as Error)?.message ?? String(err);
}
