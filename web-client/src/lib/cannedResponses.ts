// The tenant's canned responses (PROTOCOL §6, §10): the REST calls, and a
// cache per (server, token) for the life of the page, so opening the
// picker in each chat costs no request. The settings page changes the list
// through this module: the cache of this page follows at once, and other
// tabs of the same browser (the dashboard next to the settings) are told on
// a BroadcastChannel and load it again.

import { ChatError, type CannedResponse } from '../chat/protocol';
import { websocketConfig } from '../websocket.config';
import { apiRequest } from './api';

type Body = { shortcut: string; title?: string | null; content: string };

export const cannedApi = {
  /** Staff: the tenant's canned responses, by shortcut. */
  list: (token: string, baseUrl?: string) =>
    apiRequest<{ items: CannedResponse[] }>('/api/canned-responses', { token, baseUrl }),
  /** Admin: 201; a shortcut already in use is `conflict`. */
  create: (token: string, body: Body, baseUrl?: string) =>
    apiRequest<CannedResponse>('/api/canned-responses', { token, method: 'POST', body, baseUrl }),
  /** Admin: any of the fields. */
  update: (token: string, id: string, body: Partial<Body>, baseUrl?: string) =>
    apiRequest<CannedResponse>(`/api/canned-responses/${encodeURIComponent(id)}`, { token, method: 'PATCH', body, baseUrl }),
  /** Admin: 204. */
  remove: (token: string, id: string, baseUrl?: string) =>
    apiRequest<null>(`/api/canned-responses/${encodeURIComponent(id)}`, { token, method: 'DELETE', baseUrl }),
};

export type CannedSnapshot = {
  /** null until loaded (or when loading failed). */
  items: CannedResponse[] | null;
  error: string | null;
  /** The server has no canned responses (a v1.2 server answers 404 `not_found`). */
  unsupported: boolean;
  loading: boolean;
};

const CHANNEL = 'switchboard:canned-responses';

function byShortcut(a: CannedResponse, b: CannedResponse): number {
  return a.shortcut < b.shortcut ? -1 : a.shortcut > b.shortcut ? 1 : 0;
}

export class CannedStore {
  private snapshot: CannedSnapshot = { items: null, error: null, unsupported: false, loading: false };
  private readonly listeners = new Set<() => void>();
  private request: Promise<void> | null = null;

  constructor(
    private readonly token: string,
    private readonly serverUrl: string,
  ) {}

  getSnapshot = (): CannedSnapshot => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Loads the list unless it is loaded or loading (`force`: again anyway). */
  load(force = false): Promise<void> {
    // A change made while a load is under way may not be in it: load again after.
    if (this.request) return force ? this.request.then(() => this.load(true)) : this.request;
    if (!force && (this.snapshot.items || this.snapshot.unsupported)) return Promise.resolve();
    this.update({ loading: true });
    this.request = cannedApi
      .list(this.token, this.serverUrl)
      .then((page) => this.update({ items: [...(page?.items ?? [])].sort(byShortcut), error: null, unsupported: false }))
      .catch((err: unknown) => {
        const unsupported = err instanceof ChatError && err.code === 'not_found';
        this.update({ error: unsupported ? null : (err as Error).message, unsupported });
      })
      .finally(() => {
        this.request = null;
        this.update({ loading: false });
      });
    return this.request;
  }

  /** After a create or an edit of this page: kept in order, and other tabs told. */
  stored(response: CannedResponse): void {
    const others = (this.snapshot.items ?? []).filter((r) => r.id !== response.id);
    this.update({ items: [...others, response].sort(byShortcut) });
    announceChange();
  }

  /** After a delete of this page. */
  removed(id: string): void {
    this.update({ items: (this.snapshot.items ?? []).filter((r) => r.id !== id) });
    announceChange();
  }

  private update(patch: Partial<CannedSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const listener of [...this.listeners]) listener();
  }
}

const stores = new Map<string, CannedStore>();

/** The page's cache for this token and server, created on first use. */
export function cannedStore(token: string, serverUrl: string = websocketConfig.serverUrl): CannedStore {
  const key = `${serverUrl}|${token}`;
  let store = stores.get(key);
  if (!store) {
    store = new CannedStore(token, serverUrl);
    stores.set(key, store);
  }
  return store;
}

let channel: BroadcastChannel | null | undefined;

function broadcast(): BroadcastChannel | null {
  if (channel === undefined) {
    channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(CHANNEL);
    // Another tab changed the list: every cache of this page loads it again.
    channel?.addEventListener('message', () => {
      for (const store of stores.values()) void store.load(true);
    });
  }
  return channel;
}

function announceChange(): void {
  broadcast()?.postMessage({ type: 'changed' });
}

/** Starts listening for changes made in other tabs (the dashboard calls it once it shows the picker). */
export function followCannedChanges(): void {
  broadcast();
}
