// One Socket.IO connection to the /chat namespace per (server, token),
// shared by every hook of the page: the widget's chat, the dashboard's
// stats and queue, and each session an agent has open. Sharing matters
// because rooms belong to sockets: two sockets for one tab would double
// every event and every "online" count.

import { io, type Socket } from 'socket.io-client';
import { websocketConfig, type WebsocketConfig } from '../websocket.config';
import {
  ChatError,
  type Ack,
  type AgentState,
  type Availability,
  type ConnectedEvent,
  type ServiceStatus,
  type UserRef,
} from './protocol';

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected' | 'error';

export type ConnectionSnapshot = {
  status: ConnectionStatus;
  /** The user the server says we are (the `connected` event). */
  user: UserRef | null;
  /** Why we are not connected, in words for the UI. */
  error: string | null;
  /** Automatic reconnection gave up: only `reconnect()` will try again. */
  exhausted: boolean;
  /** The current reconnection attempt (0 when not reconnecting). */
  attempt: number;
  /** v1.3: the tenant's service status (`connected.service`, then `service-status`); null from a v1.2 server. */
  service: ServiceStatus | null;
  /** v1.3, staff: our own routing state (`connected.agent`, then `agent-updated` for our id). */
  agent: AgentState | null;
};

type Listener = () => void;

const READY_FALLBACK_MS = 2000;

export class ChatConnection {
  readonly socket: Socket;
  private snapshot: ConnectionSnapshot = {
    status: 'connecting',
    user: null,
    error: null,
    exhausted: false,
    attempt: 0,
    service: null,
    agent: null,
  };
  private readonly listeners = new Set<Listener>();
  /** Rooms this socket is in and how many users of the page need each. */
  private readonly rooms = new Map<string, number>();
  /** Sessions joined only to hear their events (an agent's unread counts). */
  private readonly watched = new Map<string, number>();
  private refs = 0;
  /** Listeners told when the socket is ready for requests (after each (re)connect). */
  private readonly readyListeners = new Set<() => void>();
  private isReady = false;
  private readyFallback: ReturnType<typeof setTimeout> | null = null;

  constructor(
    token: string,
    readonly config: WebsocketConfig = websocketConfig,
    serverUrl: string = config.serverUrl,
  ) {
    this.socket = io(serverUrl + config.namespace, {
      auth: { token },
      transports: config.transports,
      reconnection: config.reconnection,
      reconnectionAttempts: config.reconnectionAttempts,
      reconnectionDelay: config.reconnectionDelay,
      reconnectionDelayMax: config.reconnectionDelayMax,
      timeout: config.timeout,
      autoConnect: false,
    });
    const socket = this.socket;
    // Requests wait for the server's `connected` event, not just the
    // Socket.IO `connect`: the server sends `connected` once its handlers
    // are in place, and an event sent before that can go unanswered. A
    // server that never sends it gets the benefit of the doubt after 2 s.
    socket.on('connect', () => {
      this.readyFallback = setTimeout(() => this.becomeReady(), READY_FALLBACK_MS);
    });
    socket.on('connected', (event: ConnectedEvent) => {
      this.update({ user: event.user, service: validService(event.service), agent: validAgent(event.agent) });
      this.becomeReady();
    });
    // Kept here rather than in the pages: `connected` comes before any
    // component listens, and every page of the tab wants the latest value.
    socket.on('service-status', (service: ServiceStatus) => {
      const valid = validService(service);
      if (valid) this.update({ service: valid });
    });
    socket.on('agent-updated', (agent: AgentState) => {
      if (validAgent(agent) && agent.id === this.snapshot.user?.id) this.update({ agent });
    });
    socket.on('disconnect', (reason) => {
      this.isReady = false;
      if (this.readyFallback) clearTimeout(this.readyFallback);
      // 'io server disconnect' and 'io client disconnect' are not retried.
      const retrying = socket.active;
      this.update({
        status: retrying ? 'connecting' : 'disconnected',
        error: retrying ? null : reason === 'io server disconnect' ? 'The server closed the connection' : null,
      });
    });
    socket.on('connect_error', (err: Error) => {
      if (err.message.startsWith('unauthorized')) {
        this.update({ status: 'error', error: describeAuthError(err.message) });
      } else if (!socket.active) {
        this.update({ status: 'error', error: err.message });
      } else {
        this.update({ status: 'connecting', error: err.message });
      }
    });
    socket.io.on('reconnect_attempt', (attempt) => this.update({ status: 'connecting', attempt }));
    socket.io.on('reconnect_failed', () =>
      this.update({ status: 'disconnected', exhausted: true, attempt: 0, error: 'Could not reach the server' }),
    );
    socket.connect();
  }

  getSnapshot = (): ConnectionSnapshot => this.snapshot;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Connected, and the server said hello (`connected`): requests will be answered. */
  get ready(): boolean {
    return this.isReady && this.socket.connected;
  }

  /** Calls `listener` each time the socket becomes ready (first connect and every reconnect). */
  onReady(listener: () => void): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  private becomeReady(): void {
    if (this.readyFallback) clearTimeout(this.readyFallback);
    this.readyFallback = null;
    if (this.isReady || !this.socket.connected) return;
    this.isReady = true;
    this.update({ status: 'connected', error: null, exhausted: false, attempt: 0 });
    // The server forgets a socket's rooms when it goes: join them again
    // (but for rooms a SessionChannel also holds: it joins by itself).
    for (const id of this.watched.keys()) if (!this.heldByOthers(id)) this.joinWatched(id);
    for (const listener of [...this.readyListeners]) listener();
  }

  /** Starts over after the automatic attempts ran out (or after an auth error). */
  reconnect(): void {
    if (this.socket.connected) return;
    this.update({ status: 'connecting', error: null, exhausted: false, attempt: 0 });
    this.socket.connect();
  }

  /**
   * Emits an event and resolves with the ack's `data`, or rejects with a
   * ChatError: the server's code, `timeout`, or `network` when the socket
   * went away before the answer came.
   */
  request<T>(event: string, payload: unknown, timeoutMs: number = this.config.ackTimeout): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.socket.connected) {
        reject(new ChatError('network', 'Not connected'));
        return;
      }
      this.socket.timeout(timeoutMs).emit(event, payload, (err: Error | null, ack: Ack<T> | undefined) => {
        if (err) {
          const gone = !this.socket.connected || /disconnected/i.test(err.message);
          reject(new ChatError(gone ? 'network' : 'timeout', gone ? 'Connection lost' : 'The server did not answer'));
        } else if (!ack || typeof ack !== 'object') {
          reject(new ChatError('internal', `Malformed acknowledgement for ${event}`));
        } else if (ack.ok) {
          resolve(ack.data);
        } else {
          reject(new ChatError(ack.error?.code ?? 'internal', ack.error?.message ?? 'Request failed'));
        }
      });
    });
  }

  /** v1.3 `set-availability`: resolves with (and keeps) our new AgentState. */
  async setAvailability(status: Availability): Promise<AgentState> {
    const agent = await this.request<AgentState>('set-availability', { status });
    if (validAgent(agent)) this.update({ agent });
    return agent;
  }

  /** Fire and forget, dropped when offline (typing indicators: stale ones are worse than none). */
  emitVolatile(event: string, payload: unknown): void {
    this.socket.volatile.emit(event, payload);
  }

  /** Counts a user of room `session:{id}`; the first joins it themselves (they need the ack). */
  holdRoom(sessionId: string): void {
    this.rooms.set(sessionId, (this.rooms.get(sessionId) ?? 0) + 1);
  }

  /** The last user of a room leaving makes the socket leave it. */
  dropRoom(sessionId: string): void {
    const n = (this.rooms.get(sessionId) ?? 0) - 1;
    if (n > 0) {
      this.rooms.set(sessionId, n);
      return;
    }
    this.rooms.delete(sessionId);
    if (this.socket.connected) this.socket.emit('leave-session', { sessionId });
  }

  /**
   * Keeps the socket in a session's room, across reconnects, to hear its
   * events without showing it. Only for sessions the user already holds:
   * an agent joining a pending session takes it.
   */
  watchSession(sessionId: string): () => void {
    this.holdRoom(sessionId);
    const n = (this.watched.get(sessionId) ?? 0) + 1;
    this.watched.set(sessionId, n);
    if (n === 1 && this.ready && !this.heldByOthers(sessionId)) this.joinWatched(sessionId);
    return () => {
      const left = (this.watched.get(sessionId) ?? 1) - 1;
      if (left > 0) this.watched.set(sessionId, left);
      else this.watched.delete(sessionId);
      this.dropRoom(sessionId);
    };
  }

  retain(): void {
    this.refs += 1;
  }

  /** Returns true when this was the last user and the socket was closed. */
  release(): boolean {
    this.refs -= 1;
    if (this.refs > 0) return false;
    if (this.readyFallback) clearTimeout(this.readyFallback);
    this.readyListeners.clear();
    this.socket.disconnect();
    this.socket.removeAllListeners();
    this.socket.io.removeAllListeners();
    this.listeners.clear();
    return true;
  }

  /** Someone besides the watchers holds the room (and joins it with its own request). */
  private heldByOthers(sessionId: string): boolean {
    return (this.rooms.get(sessionId) ?? 0) > (this.watched.get(sessionId) ?? 0);
  }

  private joinWatched(sessionId: string): void {
    this.request('join-session', { sessionId }).catch(() => {
      // A watched session that is gone or closed has nothing more to say.
    });
  }

  private update(patch: Partial<ConnectionSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const listener of [...this.listeners]) listener();
  }
}

function validService(service: ServiceStatus | undefined | null): ServiceStatus | null {
  return service && typeof service === 'object' && typeof service.open === 'boolean' ? service : null;
}

function validAgent(agent: AgentState | undefined | null): AgentState | null {
  return agent && typeof agent === 'object' && typeof agent.id === 'string' && typeof agent.maxChats === 'number' ? agent : null;
}

function describeAuthError(message: string): string {
  if (message.includes('expired_token')) return 'Your sign-in has expired: reload the page';
  if (message.includes('missing_token')) return 'Not signed in';
  return 'The server refused your sign-in';
}

// ---- the page-wide pool --------------------------------------------------

const pool = new Map<string, ChatConnection>();

/**
 * The shared connection for this token, created on first use. Release it
 * when done; the socket closes a moment after its last user lets go, so a
 * React StrictMode remount (release then acquire) keeps the same socket.
 */
export function acquireConnection(token: string, serverUrl: string = websocketConfig.serverUrl): ChatConnection {
  const key = `${serverUrl}|${token}`;
  let connection = pool.get(key);
  if (!connection) {
    connection = new ChatConnection(token, websocketConfig, serverUrl);
    pool.set(key, connection);
  }
  connection.retain();
  return connection;
}

export function releaseConnection(connection: ChatConnection): void {
  setTimeout(() => {
    if (connection.release()) {
      for (const [key, value] of pool) if (value === connection) pool.delete(key);
    }
  }, 0);
}
