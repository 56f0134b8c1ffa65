import { useCallback, useState } from 'react';
import type { Toast } from '../components/ChatNotification';

/**
 * The console's toasts, in one place so the queue (new chats) and the
 * agent's own chats (assigned, transferred) share one corner of the screen.
 * A toast with an id already shown replaces it; at most `limit` at once.
 */
export function useToasts(limit = 4) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const notify = useCallback(
    (toast: Toast) => setToasts((list) => [...list.filter((t) => t.id !== toast.id).slice(-(limit - 1)), toast]),
    [limit],
  );
  const dismiss = useCallback((id: string) => setToasts((list) => list.filter((t) => t.id !== id)), []);
  return { toasts, notify, dismiss };
}

export type Notify = (toast: Toast) => void;
