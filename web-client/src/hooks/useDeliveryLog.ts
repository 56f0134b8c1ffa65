import { useCallback, useEffect, useRef, useState } from 'react';
import {
  DELIVERY_LOG_LIMIT,
  WEBHOOK_DELIVERY_EVENT,
  mergeDeliveries,
  upsertDelivery,
  validDeliveryEvent,
  type WebhookDelivery,
} from '../chat/integrations';
import { integrationsApi } from '../lib/integrations';
import { useSocketEvent, type ChatConnectionState } from './useChatConnection';

export type DeliveryLogState = {
  /** Newest first; null until the first page arrives. */
  items: WebhookDelivery[] | null;
  error: string | null;
  reload: () => void;
  /** Makes a failed delivery pending again; rejects with the server's refusal. */
  retry: (delivery: WebhookDelivery) => Promise<void>;
};

/**
 * One endpoint's delivery log (PROTOCOL §9): the newest page from REST,
 * then kept current by the `webhook-delivery` events the admin's socket
 * hears (each attempt's outcome, each retry), upserted by delivery id. No
 * polling: the page is fetched again only after a reconnect, since events
 * missed while offline are not replayed.
 */
export function useDeliveryLog(token: string, webhookId: string, conn: ChatConnectionState): DeliveryLogState {
  const [items, setItems] = useState<WebhookDelivery[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  /** Events heard while a page is being fetched: they go on top of it. */
  const heard = useRef<WebhookDelivery[] | null>(null);
  /** How many events each delivery had, so a late REST answer never undoes a newer event. */
  const eventsFor = useRef(new Map<string, number>());
  const alive = useRef(true);
  const { socket, isConnected } = conn;

  const load = useCallback(async () => {
    const mine: WebhookDelivery[] = [];
    heard.current = mine;
    try {
      const page = await integrationsApi.listDeliveries(token, webhookId, DELIVERY_LOG_LIMIT);
      if (!alive.current) return;
      setItems(mergeDeliveries(page.items, mine));
      setError(null);
    } catch (err) {
      if (alive.current) setError((err as Error).message);
    } finally {
      if (heard.current === mine) heard.current = null;
    }
  }, [token, webhookId]);

  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  // The first page at once; again on each reconnect.
  const loaded = useRef(false);
  useEffect(() => {
    if (loaded.current && !isConnected) return;
    loaded.current = true;
    void load();
  }, [load, isConnected]);

  useSocketEvent<unknown>(socket, WEBHOOK_DELIVERY_EVENT, (payload) => {
    const event = validDeliveryEvent(payload);
    if (!event || event.webhookId !== webhookId) return;
    const { delivery } = event;
    heard.current?.push(delivery);
    eventsFor.current.set(delivery.id, (eventsFor.current.get(delivery.id) ?? 0) + 1);
    setItems((list) => (list ? upsertDelivery(list, delivery) : list));
  });

  const retry = useCallback(
    async (delivery: WebhookDelivery) => {
      const before = eventsFor.current.get(delivery.id) ?? 0;
      const updated = await integrationsApi.retryDelivery(token, webhookId, delivery.id);
      // The retry's own event (or the next attempt's) may have come first: it is as new or newer.
      if ((eventsFor.current.get(delivery.id) ?? 0) !== before || !alive.current) return;
      setItems((list) => (list ? upsertDelivery(list, updated) : list));
    },
    [token, webhookId],
  );

  return { items, error, reload: () => void load(), retry };
}
