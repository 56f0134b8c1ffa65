// The shapes of docs/protocol.md §3-§5, as the server sends them. Kept in one
// file so a change of the contract is a change here and a type error
// everywhere it matters.

// 'bot' (v1.3): a sender posting through the server API.
export type Role = 'customer' | 'agent' | 'admin' | 'bot';
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
  /** v1.3: present while pending (a v1.2 server never sends it). */
  queue?: QueueInfo | null;
  /** v1.3 (§10): the customer's rating once given (a v1.2 server never sends it). */
  rating?: Rating | null;
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
  /** v1.3 (§8): [] when none; a v1.2 server never sends it. */
  attachments?: Attachment[];
};

/** v1.3 (§8): a file uploaded to a session, part of a message once sent. */
export type Attachment = {
  id: string;
  name: string;
  /** Detected from the bytes by the server, never from the name. */
  contentType: string;
  /** Bytes. */
  size: number;
  /** Images only. */
  width: number | null;
  height: number | null;
  /** Signed and expiring; a path starting with `/` (resolve it against the server's base URL) or absolute with `--public-url`. */
  url: string;
  /** Images only, at most 320 px on the long side. */
  thumbnailUrl: string | null;
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
  /** v1.3: online agents whose availability is 'available'. */
  availableAgents?: number;
  /** v1.3 (§10): ratings given today (UTC). */
  ratingsToday?: number;
  /** v1.3 (§10): their mean score, 2 decimals; null when none. */
  avgRatingToday?: number | null;
  generatedAt: string;
};

// ---- v1.3 ratings and reports (§10) ----------------------------------------

export type RatingScore = 1 | 2 | 3 | 4 | 5;

/** The customer's rating of a closed session; given once. */
export type Rating = { score: RatingScore; comment: string | null; createdAt: string };

export type ReportBucketSize = 'hour' | 'day';

/** What happened in one UTC hour or day; empty buckets have zeros and nulls. */
export type ReportBucket = {
  /** RFC 3339 UTC, the bucket's start. */
  start: string;
  /** Sessions created (queue arrivals). */
  opened: number;
  /** Sessions first assigned. */
  assigned: number;
  closed: number;
  /** Customer, agent and bot messages (never notes). */
  messages: number;
  /** Mean of assignedAt - createdAt over the sessions assigned in the bucket. */
  avgWaitSeconds: number | null;
  /** Mean first response time over the sessions first answered in the bucket. */
  avgFirstResponseSeconds: number | null;
  ratings: number;
  avgRating: number | null;
};

/** `GET /api/chat/reports`: one bucket per hour or day of [from, to), oldest first. */
export type Report = { bucket: ReportBucketSize; from: string; to: string; buckets: ReportBucket[] };

// ---- v1.3 routing (§7). Every field a v1.2 server lacks is optional at
// the places that receive it (ConnectedEvent, Stats, Session), so the pages
// hide what the server does not offer.

export type Availability = 'available' | 'away';

export type AgentState = {
  id: string;
  name: string | null;
  role: 'agent' | 'admin';
  availability: Availability;
  /** At least one socket of theirs is connected, on any node. */
  online: boolean;
  activeChats: number;
  /** Capacity for auto-assignment (0: never auto-assigned). */
  maxChats: number;
};

export type QueueInfo = {
  /** 1: the next session to be served. */
  position: number;
  estimatedWaitSeconds: number | null;
  availableAgents: number;
};

export type ServiceStatus = {
  /** Within business hours (always true without them). */
  open: boolean;
  availableAgents: number;
  offlineMessage: string | null;
};

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export type BusinessHours = {
  /** IANA name, e.g. 'Europe/Madrid'. */
  timezone: string;
  /** Local 'HH:MM' ranges, start < end; a day absent or [] is closed. */
  weekly: Partial<Record<Weekday, [string, string][]>>;
};

export type RoutingMode = 'manual' | 'auto';

export type TenantSettings = {
  routing: RoutingMode;
  defaultMaxChats: number;
  /** null: never reassign. */
  reassignAfterOfflineSeconds: number | null;
  /** null: always open. */
  businessHours: BusinessHours | null;
  offlineMessage: string | null;
  ratingsEnabled: boolean;
};

export type QueueUpdateEvent = { sessionId: string; queue: QueueInfo };

// ---- v1.3 agent tools (§10) -------------------------------------------------

/** A private note on a session: staff only, never a message (no seq), never sent to the customer. */
export type Note = { id: string; sessionId: string; author: UserRef; content: string; createdAt: string };

/** A tenant's saved reply; `{{customer.name}}` and `{{agent.name}}` are filled in by the client. */
export type CannedResponse = { id: string; shortcut: string; title: string | null; content: string; updatedAt: string };

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
  | 'internal'
  | 'attachment_too_large'
  | 'unsupported_media_type';

export type ErrorBody = { code: ErrorCode; message: string };

export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };

export type ConnectedEvent = {
  user: UserRef;
  socketId: string;
  serverTime: string;
  /** v1.3 */
  service?: ServiceStatus;
  /** v1.3, staff only: their own routing state. */
  agent?: AgentState;
};
// hasMore (v1.3): the catch-up stopped at the server's limit; join again from its last message.
// notes (v1.3): staff only, every note of the session, oldest first; a customer's ack has no such key.
export type JoinResult = { session: Session; messages: Message[]; hasMore?: boolean; notes?: Note[] };
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
