import { useEffect, useRef } from 'react';
import type { Socket } from 'socket.io-client';
import { isNotifyEvent, notifyContent } from '../chat/notify';
import type { UserRef } from '../chat/protocol';
import type { Notify } from './useToasts';

let counter = 0;

/**
 * Shows the backend's `notify.*` events (published through the server API,
 * PROTOCOL §9) as toasts on a staff page that holds the socket. They have
 * names the client cannot know in advance, hence `onAny`. A customer's
 * socket shows none (the convention is for agents and admins).
 */
export function useNotifyToasts(socket: Socket | null, user: UserRef | null, notify: Notify): void {
  const notifyRef = useRef(notify);
  notifyRef.current = notify;
  const staff = user?.role === 'agent' || user?.role === 'admin';
  useEffect(() => {
    if (!socket || !staff) return;
    const listener = (event: unknown, ...args: unknown[]) => {
      if (!isNotifyEvent(event)) return;
      const content = notifyContent(event, args[0]);
      counter += 1;
      notifyRef.current({ id: `notify-${counter}`, ...content });
    };
    socket.onAny(listener);
    return () => {
      socket.offAny(listener);
    };
  }, [socket, staff]);
}
