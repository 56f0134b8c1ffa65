// The chat hook of the reference client, API-compatible with the NestJS-era
// frontend:
//
//   const { isConnected, messages, sendMessage, sendTyping, connectionStatus } =
//     useChatSocket({ sessionId, onNewMessage });
//
// It uses the page's shared /chat connection (one socket per token, see
// chat/connection.ts) and one SessionChannel for `sessionId` (joining,
// catch-up after reconnects, seq order and gap filling, pending messages
// until acked, typing, read receipts: see chat/sessionChannel.ts).
// Without `token`, the token of this tab's sign-in (lib/identity.ts) is used.

import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { ChatError, type Attachment, type Message, type Note, type Session } from '../chat/protocol';
import { SessionChannel, type ChatMessage, type SessionSnapshot } from '../chat/sessionChannel';
import { getAuthToken } from '../lib/identity';
import { websocketConfig } from '../websocket.config';
import { useChatConnection, type ChatConnectionState } from './useChatConnection';

export type UseChatSocketOptions = {
  sessionId: string | null | undefined;
  /** Called once per message new to this client: live, or caught up after a reconnect. */
  onNewMessage?: (message: Message) => void;
  /** Called when the session changes (taken by an agent, closed, transferred). */
  onSessionChange?: (session: Session) => void;
  token?: string | null;
  serverUrl?: string;
};

export type UseChatSocketResult = ChatConnectionState & {
  messages: ChatMessage[];
  session: Session | null;
  typingUsers: SessionSnapshot['typingUsers'];
  /** In the session's room and caught up. */
  joined: boolean;
  /** The last failed request, in words. */
  error: string | null;
  /** v1.3, staff only: the session's private notes, oldest first (a customer never has any). */
  notes: Note[];
  /** v1.3, staff: adds a private note; rejects with the server's refusal. */
  addNote: (content: string) => Promise<Note>;
  /** Sends a message (shown at once as pending), with uploaded attachments (v1.3); returns its clientMessageId. */
  sendMessage: (text: string, attachments?: readonly Attachment[]) => string | null;
  sendTyping: (isTyping: boolean) => void;
  /** Marks the other side's messages read (up to `messageId`, or all). */
  markRead: (messageId?: string) => Promise<number>;
  closeSession: (reason?: string) => Promise<Session | null>;
  /** The token and server of this chat, for its REST calls (attachment uploads). */
  token: string | null;
  serverUrl: string;
  retryMessage: (clientMessageId: string) => void;
  discardMessage: (clientMessageId: string) => void;
};

const empty: SessionSnapshot = { session: null, messages: [], typingUsers: [], joined: false, error: null, notes: [] };
const noSubscribe = () => () => {};
const emptySnapshot = () => empty;

export function useChatSocket(options: UseChatSocketOptions): UseChatSocketResult {
  const { sessionId, serverUrl = websocketConfig.serverUrl } = options;
  const token = options.token ?? getAuthToken();
  const conn = useChatConnection(token, serverUrl);
  const { connection } = conn;

  const callbacks = useRef(options);
  callbacks.current = options;

  const [channel, setChannel] = useState<SessionChannel | null>(null);
  useEffect(() => {
    if (!connection || !sessionId) return;
    const c = new SessionChannel(connection, sessionId, {
      onNewMessage: (m) => callbacks.current.onNewMessage?.(m),
      onSessionChange: (s) => callbacks.current.onSessionChange?.(s),
      typingTimeout: websocketConfig.typingTimeout,
      gapFillDelay: websocketConfig.gapFillDelay,
    });
    c.start();
    setChannel(c);
    return () => {
      c.stop();
      setChannel((current) => (current === c ? null : current));
    };
  }, [connection, sessionId]);

  const active = channel && channel.sessionId === sessionId ? channel : null;
  const snapshot = useSyncExternalStore(
    active?.subscribe ?? noSubscribe,
    active?.getSnapshot ?? emptySnapshot,
    active?.getSnapshot ?? emptySnapshot,
  );

  const channelRef = useRef(active);
  channelRef.current = active;

  const sendMessage = useCallback(
    (text: string, attachments?: readonly Attachment[]) => channelRef.current?.sendMessage(text, attachments) ?? null,
    [],
  );
  const sendTyping = useCallback((isTyping: boolean) => channelRef.current?.sendTyping(isTyping), []);
  const markRead = useCallback(
    (messageId?: string) => channelRef.current?.markRead(messageId) ?? Promise.resolve(0),
    [],
  );
  const closeSession = useCallback(
    (reason?: string) => channelRef.current?.closeSession(reason) ?? Promise.resolve(null),
    [],
  );
  const addNote = useCallback(
    (content: string) => channelRef.current?.addNote(content) ?? Promise.reject(new ChatError('network', 'Not connected')),
    [],
  );
  const retryMessage = useCallback((id: string) => channelRef.current?.retryMessage(id), []);
  const discardMessage = useCallback((id: string) => channelRef.current?.discardMessage(id), []);

  return {
    ...conn,
    messages: snapshot.messages,
    session: snapshot.session,
    typingUsers: snapshot.typingUsers,
    joined: snapshot.joined,
    error: snapshot.error,
    notes: snapshot.notes,
    addNote,
    sendMessage,
    sendTyping,
    markRead,
    closeSession,
    token,
    serverUrl,
    retryMessage,
    discardMessage,
  };
}
