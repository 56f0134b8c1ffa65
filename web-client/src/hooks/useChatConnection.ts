// The page's shared /chat connection for a token, as React state.

import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { Socket } from 'socket.io-client';
import {
  acquireConnection,
  releaseConnection,
  type ChatConnection,
  type ConnectionSnapshot,
  type ConnectionStatus,
} from '../chat/connection';
import type { AgentState, ServiceStatus, UserRef } from '../chat/protocol';
import { websocketConfig } from '../websocket.config';

export type ChatConnectionState = {
  connection: ChatConnection | null;
  socket: Socket | null;
  isConnected: boolean;
  connectionStatus: ConnectionStatus;
  connectionError: string | null;
  /** Automatic reconnection gave up; `reconnect()` tries again. */
  reconnectExhausted: boolean;
  /** The reconnection attempt under way (0 when not reconnecting). */
  reconnectAttempt: number;
  user: UserRef | null;
  /** v1.3: the tenant's service status, live; null from a v1.2 server. */
  service: ServiceStatus | null;
  /** v1.3, staff: our own AgentState, live; null for customers and from a v1.2 server. */
  agent: AgentState | null;
  reconnect: () => void;
};

const idle: ConnectionSnapshot = {
  status: 'disconnected',
  user: null,
  error: 'Not signed in',
  exhausted: false,
  attempt: 0,
  service: null,
  agent: null,
};
const noSubscribe = () => () => {};
const idleSnapshot = () => idle;

export function useChatConnection(token: string | null, serverUrl: string = websocketConfig.serverUrl): ChatConnectionState {
  const [connection, setConnection] = useState<ChatConnection | null>(null);

  useEffect(() => {
    if (!token) return;
    const c = acquireConnection(token, serverUrl);
    setConnection(c);
    return () => {
      releaseConnection(c);
      setConnection((current) => (current === c ? null : current));
    };
  }, [token, serverUrl]);

  const snapshot = useSyncExternalStore(
    connection?.subscribe ?? noSubscribe,
    connection?.getSnapshot ?? idleSnapshot,
    connection?.getSnapshot ?? idleSnapshot,
  );

  const connectionRef = useRef(connection);
  connectionRef.current = connection;
  const reconnect = useCallback(() => connectionRef.current?.reconnect(), []);

  // Back online, or back to the tab, after giving up: try again by ourselves.
  useEffect(() => {
    if (!connection) return;
    const retry = () => {
      const s = connection.getSnapshot();
      if (s.exhausted && document.visibilityState === 'visible') connection.reconnect();
    };
    window.addEventListener('online', retry);
    document.addEventListener('visibilitychange', retry);
    return () => {
      window.removeEventListener('online', retry);
      document.removeEventListener('visibilitychange', retry);
    };
  }, [connection]);

  return {
    connection,
    socket: connection?.socket ?? null,
    isConnected: snapshot.status === 'connected',
    connectionStatus: snapshot.status,
    connectionError: snapshot.error,
    reconnectExhausted: snapshot.exhausted,
    reconnectAttempt: snapshot.attempt,
    user: snapshot.user,
    service: snapshot.service,
    agent: snapshot.agent,
    reconnect,
  };
}

/** Subscribes `handler` to a socket event for the component's lifetime (latest handler wins). */
export function useSocketEvent<T>(socket: Socket | null, event: string, handler: (payload: T) => void): void {
  const handlerRef = useRef(handler);
  handlerRef.current = handler;
  useEffect(() => {
    if (!socket) return;
    const listener = (payload: T) => handlerRef.current(payload);
    socket.on(event, listener);
    return () => {
      socket.off(event, listener);
    };
  }, [socket, event]);
}
