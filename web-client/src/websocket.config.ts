// Connection settings of the chat socket, in one place (the same knobs the
// NestJS-era frontend had). The server URL comes from VITE_API_URL at build
// time; empty means the page's own origin, which is how the Switchboard
// server serves this client.

const apiUrl: string = (import.meta.env.VITE_API_URL ?? '').replace(/\/+$/, '');
const maxBytes = Number(import.meta.env.VITE_ATTACHMENT_MAX_BYTES ?? '');

export type WebsocketConfig = {
  serverUrl: string;
  namespace: string;
  transports: string[];
  reconnection: boolean;
  reconnectionAttempts: number;
  reconnectionDelay: number;
  reconnectionDelayMax: number;
  timeout: number;
  typingTimeout: number;
  ackTimeout: number;
  gapFillDelay: number;
  attachmentMaxBytes: number | null;
};

export const websocketConfig: Readonly<WebsocketConfig> = {
  /** Base URL of the server (REST and socket); '' = same origin. */
  serverUrl: apiUrl,
  /** Socket.IO namespace of the chat gateway. */
  namespace: '/chat',
  /** The frontend asks for WebSocket only; the server also speaks polling. */
  transports: ['websocket'],
  reconnection: true,
  /**
   * 5 attempts with 1 s growing to 5 s (randomised ±50 %) cover roughly
   * 15 s: enough for a server restart that takes a second or two. When
   * they are exhausted the UI offers a "Reconnect" button.
   */
  reconnectionAttempts: 5,
  reconnectionDelay: 1000,
  reconnectionDelayMax: 5000,
  /** Connection (handshake) timeout. */
  timeout: 10_000,
  /** After this long without a keystroke the client says it stopped typing. */
  typingTimeout: 3000,
  /** How long an ack may take before a request counts as failed. */
  ackTimeout: 10_000,
  /** A hole in `seq` that stays open this long is filled by a catch-up join. */
  gapFillDelay: 1000,
  /**
   * The server's upload limit (`--attachment-max-bytes`), when this build
   * knows it (VITE_ATTACHMENT_MAX_BYTES): larger files are refused before
   * uploading and errors name the limit. The server does not advertise it,
   * so by default the client finds out from a 413.
   */
  attachmentMaxBytes: Number.isFinite(maxBytes) && maxBytes > 0 ? maxBytes : null,
};
