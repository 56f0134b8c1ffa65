import { describe, expect, it } from 'vitest';
import {
  checkWebhookDraft,
  lastOutcome,
  mergeDeliveries,
  upsertDelivery,
  validDeliveryEvent,
  webhookErrorField,
  type WebhookDelivery,
} from '../src/chat/integrations';
import { ChatError } from '../src/chat/protocol';

function delivery(id: string, createdAt: string, patch: Partial<WebhookDelivery> = {}): WebhookDelivery {
  return {
    id,
    eventId: `evt_${id}`,
    type: 'message.created',
    status: 'pending',
    attempts: 0,
    lastStatusCode: null,
    lastError: null,
    nextAttemptAt: createdAt,
    createdAt,
    deliveredAt: null,
    ...patch,
  };
}

const ids = (list: WebhookDelivery[]) => list.map((d) => d.id);

describe('upsertDelivery', () => {
  const a = delivery('a', '2026-11-30T10:00:00Z');
  const b = delivery('b', '2026-11-30T10:00:05Z');
  const c = delivery('c', '2026-11-30T10:00:09Z');

  it('puts a new delivery in its place, newest first', () => {
    expect(ids(upsertDelivery([], a))).toEqual(['a']);
    expect(ids(upsertDelivery([b, a], c))).toEqual(['c', 'b', 'a']);
    // An older one heard late goes below the newer ones.
    expect(ids(upsertDelivery([c, a], b))).toEqual(['c', 'b', 'a']);
  });

  it('replaces the copy with the same id, without duplicating it', () => {
    const failed = { ...b, status: 'failed' as const, attempts: 3, lastStatusCode: 500 };
    const list = upsertDelivery([c, b, a], failed);
    expect(ids(list)).toEqual(['c', 'b', 'a']);
    expect(list[1]).toEqual(failed);
  });

  it('does not change the list it was given', () => {
    const list = [b, a];
    upsertDelivery(list, c);
    expect(ids(list)).toEqual(['b', 'a']);
  });

  it('orders equal times by id and keeps at most the limit', () => {
    const same = ['x1', 'x3', 'x2'].map((id) => delivery(id, '2026-11-30T10:00:00Z'));
    expect(ids(same.reduce((l, d) => upsertDelivery(l, d), [] as WebhookDelivery[]))).toEqual(['x3', 'x2', 'x1']);
    expect(ids(upsertDelivery([c, b], a, 2))).toEqual(['c', 'b']);
    expect(ids(upsertDelivery([b, a], c, 2))).toEqual(['c', 'b']);
  });
});

describe('mergeDeliveries', () => {
  it('puts what was heard during the fetch on top of the fetched page', () => {
    const a = delivery('a', '2026-11-30T10:00:00Z');
    const b = delivery('b', '2026-11-30T10:00:05Z', { status: 'pending', attempts: 1 });
    const bFailed = { ...b, status: 'failed' as const, attempts: 2 };
    const c = delivery('c', '2026-11-30T10:00:09Z');
    const merged = mergeDeliveries([b, a], [bFailed, c]);
    expect(ids(merged)).toEqual(['c', 'b', 'a']);
    expect(merged[1].status).toBe('failed');
    // A page in another order is put newest first.
    expect(ids(mergeDeliveries([a, c, b], []))).toEqual(['c', 'b', 'a']);
  });
});

describe('validDeliveryEvent', () => {
  it('takes a webhook-delivery payload and refuses anything else', () => {
    const d = delivery('a', '2026-11-30T10:00:00Z');
    expect(validDeliveryEvent({ webhookId: 'w', delivery: d })).toEqual({ webhookId: 'w', delivery: d });
    expect(validDeliveryEvent(null)).toBeNull();
    expect(validDeliveryEvent({ webhookId: 'w' })).toBeNull();
    expect(validDeliveryEvent({ delivery: d })).toBeNull();
    expect(validDeliveryEvent({ webhookId: 'w', delivery: { id: 'a' } })).toBeNull();
  });
});

describe('lastOutcome', () => {
  it('says what the last attempt got', () => {
    const d = delivery('a', '2026-11-30T10:00:00Z');
    expect(lastOutcome(d)).toBe('—');
    expect(lastOutcome({ ...d, lastStatusCode: 500 })).toBe('HTTP 500');
    expect(lastOutcome({ ...d, lastStatusCode: 302, lastError: 'redirect not followed' })).toBe('HTTP 302 · redirect not followed');
    expect(lastOutcome({ ...d, lastError: 'timeout after 10 s' })).toBe('timeout after 10 s');
    expect(lastOutcome({ ...d, lastStatusCode: 500, lastError: 'endpoint answered HTTP 500' })).toBe('endpoint answered HTTP 500');
    expect(lastOutcome({ ...d, lastStatusCode: 500, lastError: 'answered 500' })).toBe('HTTP 500');
    expect(lastOutcome({ ...d, lastStatusCode: 503, lastError: 'answered 500' })).toBe('HTTP 503 · answered 500');
  });
});

describe('checkWebhookDraft', () => {
  it('sends the URL, the chosen events in the spec order and a description when given', () => {
    const { body, errors } = checkWebhookDraft({
      url: ' https://crm.example.com/hooks ',
      events: ['note.created', 'session.created'],
      description: ' CRM ',
    });
    expect(errors).toEqual({});
    expect(body).toEqual({ url: 'https://crm.example.com/hooks', events: ['session.created', 'note.created'], description: 'CRM' });
    expect(checkWebhookDraft({ url: 'http://127.0.0.1:9/x', events: ['message.created'], description: '' }).body).toEqual({
      url: 'http://127.0.0.1:9/x',
      events: ['message.created'],
    });
  });

  it('wants an http(s) URL and at least one event', () => {
    expect(checkWebhookDraft({ url: '', events: [], description: '' }).errors).toEqual({
      url: expect.stringMatching(/URL/),
      events: expect.stringMatching(/event/),
    });
    expect(checkWebhookDraft({ url: 'ftp://example.com', events: ['session.closed'], description: '' }).errors.url).toMatch(/http/);
    expect(checkWebhookDraft({ url: 'example.com/hook', events: ['session.closed'], description: '' }).errors.url).toMatch(/http/);
  });
});

describe('webhookErrorField', () => {
  it('puts an invalid_payload by the field it names, the URL by default', () => {
    expect(webhookErrorField(new ChatError('invalid_payload', 'url resolves to a private address (127.0.0.1)'))).toBe('url');
    expect(webhookErrorField(new ChatError('invalid_payload', 'Private or loopback addresses are not allowed'))).toBe('url');
    expect(webhookErrorField(new ChatError('invalid_payload', 'events must name at least one event type'))).toBe('events');
    expect(webhookErrorField(new ChatError('invalid_payload', 'unknown event type "chat.created"'))).toBe('events');
    expect(webhookErrorField(new ChatError('invalid_payload', 'description is too long'))).toBe('description');
  });

  it('leaves other refusals to the form', () => {
    expect(webhookErrorField(new ChatError('forbidden', 'admins only'))).toBeNull();
    expect(webhookErrorField(new Error('boom'))).toBeNull();
  });
});
