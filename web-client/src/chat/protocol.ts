// The shapes of docs/protocol.md §3-§5, as the server sends them. Kept in one
// file so a change of the contract is a change here and a type error
// everywhere it matters.

export type Role = 'customer' | 'agent' | 'admin';
export type UserRef = { id: string; role: Role; name: string | null };

export type SessionStatus = 'pending' | 'active' | 'closed';

export type Session = {
  id: string;
  status: SessionStatus;
  subject: string | null;
  customer: UserRef;
  agent: UserRef | null;
  createdAt: string;
  assignedAt: string | null;
  closedAt: string | null;
  closedBy: UserRef | null;
  lastMessageAt: string | null;
  unreadCount: number;
};

export type Message = {
  id: string;
  sessionId: string;
  seq: number;
  sender: UserRef;
  content: string;
  clientMessageId: string | null;
  createdAt: string;
  readAt: string | null;
};

export type Stats = {
  pendingSessions: number;
  activeSessions: number;
  closedToday: number;
  messagesToday: number;
  onlineAgents: number;
  onlineCustomers: number;
  avgWaitSeconds: number | null;
  avgFirstResponseSeconds: number | null;
  generatedAt: string;
};

export type ErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'invalid_payload'
  | 'session_closed'
  | 'message_too_long'
  | 'rate_limited'
  | 'conflict'
  | 'unavailable'
  | 'internal';

export type ErrorBody = { code: ErrorCode; message: string };

export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };

export type ConnectedEvent = { user: UserRef; socketId: string; serverTime: string };
// hasMore (v1.3): the catch-up stopped at the server's limit; join again from its last message.
export type JoinResult = { session: Session; messages: Message[]; hasMore?: boolean };
export type SessionJoinedEvent = { session: Session; user: UserRef; messages?: Message[] };
export type UserTypingEvent = { sessionId: string; user: UserRef; isTyping: boolean };
export type MessagesReadEvent = {
  sessionId: string;
  reader: UserRef;
  upToMessageId: string;
  upToSeq: number;
  readAt: string;
  count: number;
};
export type SessionClosedEvent = { session: Session; closedBy: UserRef; reason: string | null };
export type ExceptionEvent = { status: 'error'; message: string; code: ErrorCode; event: string };

export type Page<T> = { items: T[]; nextCursor: string | null };

/** Customers on one side, staff (agents and admins) on the other. */
export function isStaff(role: Role): boolean {
  return role === 'agent' || role === 'admin';
}

/** An error the server reported, in an ack, an HTTP body or a connect_error. */
export class ChatError extends Error {
  constructor(
    readonly code: ErrorCode | 'timeout' | 'network',
    message: string,
  ) {
    super(message);
    this.name = 'ChatError';
  }
}
