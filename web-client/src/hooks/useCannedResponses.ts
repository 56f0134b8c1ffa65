// The tenant's canned responses as React state: the page's cached list
// (lib/cannedResponses.ts), loaded on first use and followed when another
// tab (the settings page) changes it.

import { useEffect, useSyncExternalStore } from 'react';
import { cannedStore, followCannedChanges, type CannedSnapshot, type CannedStore } from '../lib/cannedResponses';
import { websocketConfig } from '../websocket.config';

const none: CannedSnapshot = { items: null, error: null, unsupported: false, loading: false };
const noSubscribe = () => () => {};
const noneSnapshot = () => none;

export type UseCannedResponsesResult = CannedSnapshot & {
  /** The page's cache (null without a token): the settings page writes through it. */
  store: CannedStore | null;
};

/** `enabled` false (the customer's widget): nothing is loaded. */
export function useCannedResponses(token: string | null, serverUrl: string = websocketConfig.serverUrl, enabled = true): UseCannedResponsesResult {
  const store = enabled && token ? cannedStore(token, serverUrl) : null;

  useEffect(() => {
    if (!store) return;
    followCannedChanges();
    void store.load();
  }, [store]);

  const snapshot = useSyncExternalStore(store?.subscribe ?? noSubscribe, store?.getSnapshot ?? noneSnapshot, store?.getSnapshot ?? noneSnapshot);
  return { ...snapshot, store };
}
