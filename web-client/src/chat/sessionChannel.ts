// One chat session seen through a shared ChatConnection: joins its room
// (again after every reconnect, with `lastMessageId` so nothing is missed
// or doubled), keeps the messages ordered by `seq`, fills a hole in `seq`
// that stays open for a second, sends messages with a `clientMessageId`
// and shows them as pending until acked (re-sent after a reconnect: the
// server stores each clientMessageId once), and tracks typing, read
// receipts and the session's status. Framework-free; useChatSocket wraps it.

import type { ChatConnection } from './connection';
import {
  ChatError,
  isStaff,
  type Attachment,
  type JoinResult,
  type Message,
  type MessagesReadEvent,
  type Note,
  type Session,
  type SessionClosedEvent,
  type SessionJoinedEvent,
  type UserRef,
  type UserTypingEvent,
} from './protocol';
import { applyRead, contiguousTail, firstMissingSeq, mergeMessages, newestUnreadFromOtherSide } from './timeline';
import { Outbox, type OutboxEntry } from './outbox';
import { supersedes } from './sessionOrder';
import { OwnTyping, RemoteTyping } from './typing';
import { SessionNotes } from './sessionNotes';

/** A message as the UI shows it: stored ones, and our own still in flight. */
export type ChatMessage = Message & {
  /** Sent by this client and not acknowledged yet (no real id or seq). */
  pending: boolean;
  /** Why sending failed for good; `retryMessage` sends it again. */
  error: string | null;
};

export type SessionSnapshot = {
  session: Session | null;
  messages: ChatMessage[];
  typingUsers: UserRef[];
  /** The socket is in the session's room and caught up. */
  joined: boolean;
  /** The last failed request (join, send, close), in words. */
  error: string | null;
  /** v1.3, staff only: the session's private notes, oldest first (§10). */
  notes: Note[];
};


export type SessionChannelOptions = {
  onNewMessage?: (message: Message) => void;
  onSessionChange?: (session: Session) => void;
  /** Typing timeout (no keystroke for this long = stopped typing). */
  typingTimeout: number;
  /** How long a gap in seq may stay open before a catch-up join. */
  gapFillDelay: number;
};


/** Failures of a join that are worth retrying while connected. */
const RETRYABLE = new Set<string>(['timeout', 'internal', 'unavailable', 'rate_limited']);


export class SessionChannel {
  private confirmed: Message[] = [];
  private readonly outbox = new Outbox();
  /** seq before the first message of the initial join: older history is not a gap. */
  private floorSeq = 0;
  private initialised = false;
  private session: Session | null = null;
  private readonly ownTyping: OwnTyping;
  private readonly remoteTyping = new RemoteTyping(() => this.emitChange());
  private joined = false;
  private joining = false;
  private error: string | null = null;
  private snapshot: SessionSnapshot;
  private readonly listeners = new Set<() => void>();
  private readonly offs: Array<() => void> = [];
  private gapTimer: ReturnType<typeof setTimeout> | null = null;
  private lastMarkedId: string | null = null;
  private stopped = false;
  private joinRetryTimer: ReturnType<typeof setTimeout> | null = null;
  private joinFailures = 0;
  private readonly notes: SessionNotes;

  constructor(
    private readonly connection: ChatConnection,
    readonly sessionId: string,
    private readonly options: SessionChannelOptions,
  ) {
    this.ownTyping = new OwnTyping(
      (isTyping) => this.connection.emitVolatile('typing', { sessionId: this.sessionId, isTyping }),
      options.typingTimeout,
    );
    this.notes = new SessionNotes(connection, sessionId, () => this.emitChange());
    this.snapshot = this.buildSnapshot();
  }

  start(): void {
    this.connection.holdRoom(this.sessionId);
    const offReady = this.connection.onReady(() => void this.join());
    this.offs.push(offReady);
    this.on('disconnect', () => {
      this.joined = false;
      this.cancelJoinRetry(); // the next connect joins anyway
      this.ownTyping.forget();
      this.remoteTyping.clear();
      this.emitChange();
    });
    this.on('new-message', (m: Message) => this.receive(m));
    this.offs.push(this.notes.listen());
    this.on('user-typing', (e: UserTypingEvent) => {
      if (!e || e.sessionId !== this.sessionId || !e.user) return;
      this.remoteTyping.update(e.user, e.isTyping);
      this.emitChange();
    });
    this.on('messages-read', (e: MessagesReadEvent) => {
      if (e.sessionId !== this.sessionId) return;
      const next = applyRead(this.confirmed, e);
      if (next !== this.confirmed) {
        this.confirmed = next;
        this.emitChange();
      }
    });
    this.on('session-joined', (e: SessionJoinedEvent) => {
      if (e.session?.id === this.sessionId) this.setSession(e.session);
    });
    this.on('session-updated', (s: Session) => {
      if (s?.id === this.sessionId) this.setSession(s);
    });
    this.on('session-closed', (e: SessionClosedEvent) => {
      if (e.session?.id !== this.sessionId) return;
      this.remoteTyping.clear();
      this.setSession(e.session);
    });
    if (this.connection.ready) void this.join();
  }

  stop(): void {
    this.stopped = true;
    this.ownTyping.set(false);
    for (const off of this.offs.splice(0)) off();
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.ownTyping.forget();
    this.cancelJoinRetry();
    this.remoteTyping.clear();
    this.connection.dropRoom(this.sessionId);
    this.listeners.clear();
  }

  getSnapshot = (): SessionSnapshot => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /**
   * Sends a message; it shows at once as pending and is confirmed by the
   * ack. With uploaded attachments (v1.3) the text may be empty.
   */
  sendMessage(text: string, attachments: readonly Attachment[] = []): string | null {
    const content = text.trim();
    if (!content && attachments.length === 0) return null;
    const entry = this.outbox.add(content, attachments);
    this.sendTyping(false);
    this.emitChange();
    if (this.joined) void this.transmit(entry);
    return entry.clientMessageId;
  }

  retryMessage(clientMessageId: string): void {
    const entry = this.outbox.get(clientMessageId);
    if (!entry) return;
    this.outbox.clearError(entry);
    this.emitChange();
    if (this.joined) void this.transmit(entry);
  }

  discardMessage(clientMessageId: string): void {
    this.outbox.remove(clientMessageId);
    this.emitChange();
  }

  /**
   * Says whether the user is typing. `true` repeatedly (each keystroke) is
   * cheap: it is sent on change and refreshed every few seconds, and turns
   * into `false` after the typing timeout without a new call.
   */
  sendTyping(isTyping: boolean): void {
    this.ownTyping.set(isTyping);
  }

  /**
   * Marks the other side's messages read, up to `messageId` or up to the
   * newest one. Does nothing when there is nothing new to mark.
   */
  async markRead(messageId?: string): Promise<number> {
    const me = this.connection.getSnapshot().user;
    const target = messageId ?? newestUnreadFromOtherSide(this.confirmed, me ? isStaff(me.role) : false)?.id;
    if (!target || target === this.lastMarkedId || !this.joined) return 0;
    this.lastMarkedId = target;
    try {
      const { count } = await this.connection.request<{ sessionId: string; count: number }>('mark-read', {
        sessionId: this.sessionId,
        messageId: target,
      });
      return count;
    } catch (err) {
      this.lastMarkedId = null;
      throw err;
    }
  }

  /** v1.3, staff: adds a private note (`add-note`); resolves once stored, or rejects with the refusal. */
  addNote(content: string): Promise<Note> {
    return this.notes.add(content);
  }

  async closeSession(reason?: string): Promise<Session> {
    const session = await this.connection.request<Session>('close-session', {
      sessionId: this.sessionId,
      ...(reason ? { reason } : {}),
    });
    this.setSession(session);
    return session;
  }

  // ---- joining and catching up -------------------------------------------

  /** Joins the room; with what we already have, asks only for what came after. */
  private async join(): Promise<void> {
    if (this.joining || this.stopped) return;
    this.joining = true;
    const tail = this.initialised ? contiguousTail(this.confirmed, this.floorSeq) : null;
    try {
      let result: JoinResult;
      try {
        result = await this.connection.request<JoinResult>('join-session', {
          sessionId: this.sessionId,
          ...(tail ? { lastMessageId: tail.id } : {}),
        });
      } catch (err) {
        // Our newest message is unknown to the server (a reset database):
        // start over from the latest page.
        if (!(tail && err instanceof ChatError && err.code === 'not_found')) throw err;
        this.confirmed = [];
        this.initialised = false;
        result = await this.connection.request<JoinResult>('join-session', { sessionId: this.sessionId });
      }
      if (this.stopped) return;
      this.joined = true;
      this.error = null;
      this.joinFailures = 0;
      this.setSession(result.session, false);
      this.absorb(result.messages ?? [], !this.initialised);
      this.notes.absorb(result.notes);
      // A long absence: the catch-up comes in parts, each from the last.
      while (result.hasMore && !this.stopped) {
        const last = contiguousTail(this.confirmed, this.floorSeq);
        if (!last) break;
        result = await this.connection.request<JoinResult>('join-session', {
          sessionId: this.sessionId,
          lastMessageId: last.id,
        });
        this.absorb(result.messages ?? [], false);
      }
      this.emitChange();
      for (const entry of this.outbox.unsent()) void this.transmit(entry);
    } catch (err) {
      if (this.stopped) return;
      if (err instanceof ChatError && err.code === 'network') return; // the next connect joins again
      this.error = (err as Error).message;
      this.emitChange();
      // Passing trouble (no answer, server busy): try again, more and more
      // slowly. A refusal (not_found, forbidden) will not change by itself.
      if (err instanceof ChatError && RETRYABLE.has(err.code)) this.scheduleJoinRetry();
    } finally {
      this.joining = false;
    }
  }

  private scheduleJoinRetry(): void {
    this.cancelJoinRetry();
    const delay = Math.min(1000 * 2 ** this.joinFailures, 10_000);
    this.joinFailures += 1;
    this.joinRetryTimer = setTimeout(() => {
      this.joinRetryTimer = null;
      if (!this.stopped && !this.joined && this.connection.ready) void this.join();
    }, delay);
  }

  private cancelJoinRetry(): void {
    if (this.joinRetryTimer) clearTimeout(this.joinRetryTimer);
    this.joinRetryTimer = null;
  }

  /** Messages from a join ack: history on the first join, catch-up after. */
  private absorb(messages: Message[], firstLoad: boolean): void {
    const sorted = [...messages].sort((a, b) => a.seq - b.seq);
    if (firstLoad) {
      this.initialised = true;
      this.floorSeq = sorted.length ? sorted[0].seq - 1 : 0;
      // Live messages may already have arrived before the ack: merge.
      this.confirmed = mergeMessages(this.confirmed, sorted);
      this.settlePending(sorted);
      this.lastMarkedId = null;
    } else {
      const known = new Set(this.confirmed.map((m) => m.id));
      this.confirmed = mergeMessages(this.confirmed, sorted);
      this.settlePending(sorted);
      for (const m of sorted) if (!known.has(m.id)) this.options.onNewMessage?.(m);
    }
    this.checkGap();
  }

  private receive(m: Message): void {
    if (!m || m.sessionId !== this.sessionId) return;
    const isNew = !this.confirmed.some((c) => c.id === m.id);
    this.confirmed = mergeMessages(this.confirmed, [m]);
    this.settlePending([m]);
    this.remoteTyping.remove(m.sender.id);
    if (this.session) this.session = { ...this.session, lastMessageAt: m.createdAt };
    this.emitChange();
    if (isNew) this.options.onNewMessage?.(m);
    this.checkGap();
  }

  private checkGap(): void {
    if (!this.initialised || this.gapTimer) return;
    if (firstMissingSeq(this.confirmed, this.floorSeq) === null) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      if (this.stopped || !this.joined) return;
      if (firstMissingSeq(this.confirmed, this.floorSeq) !== null) void this.join();
    }, this.options.gapFillDelay);
  }

  // ---- sending -------------------------------------------------------------

  private async transmit(entry: OutboxEntry): Promise<void> {
    if (entry.inFlight) return;
    entry.inFlight = true;
    try {
      const message = await this.connection.request<Message>('send-message', {
        sessionId: this.sessionId,
        content: entry.content,
        clientMessageId: entry.clientMessageId,
        ...(entry.attachments.length ? { attachments: entry.attachments.map((a) => a.id) } : {}),
      });
      if (this.stopped) return;
      this.confirmed = mergeMessages(this.confirmed, [message]);
      this.settlePending([message]);
      this.emitChange();
      this.checkGap();
    } catch (err) {
      if (this.stopped) return;
      // Lost connection: still pending, sent again after the next join.
      if (err instanceof ChatError && err.code === 'network') return;
      this.outbox.fail(entry, (err as Error).message);
      this.emitChange();
    } finally {
      entry.inFlight = false;
    }
  }

  private settlePending(messages: readonly Message[]): void {
    this.outbox.settle(messages, this.connection.getSnapshot().user);
  }

  // ---- session state -----------------------------------------------------

  private setSession(session: Session, notify = true): void {
    if (!session) return;
    // News can arrive out of order; an older snapshot never replaces a
    // newer one (chat/sessionOrder.ts).
    if (!supersedes(this.session, session)) return;
    this.session = session;
    this.options.onSessionChange?.(session);
    if (notify) this.emitChange();
  }

  private on(event: string, handler: (...args: never[]) => void): void {
    const { socket } = this.connection;
    socket.on(event, handler as (...args: unknown[]) => void);
    this.offs.push(() => socket.off(event, handler as (...args: unknown[]) => void));
  }

  private emitChange(): void {
    this.snapshot = this.buildSnapshot();
    for (const listener of [...this.listeners]) listener();
  }

  /** One ChatMessage object per stored Message object, so unchanged rows keep their identity. */
  private readonly views = new WeakMap<Message, ChatMessage>();

  private view(m: Message): ChatMessage {
    let v = this.views.get(m);
    if (!v) {
      v = { ...m, pending: false, error: null };
      this.views.set(m, v);
    }
    return v;
  }

  private buildSnapshot(): SessionSnapshot {
    const me = this.connection.getSnapshot().user;
    const sender: UserRef = me ?? { id: 'me', role: 'customer', name: null };
    const pending: ChatMessage[] = this.outbox.list().map((p) => ({
      id: `pending:${p.clientMessageId}`,
      sessionId: this.sessionId,
      seq: Number.POSITIVE_INFINITY,
      sender,
      content: p.content,
      clientMessageId: p.clientMessageId,
      createdAt: p.createdAt,
      readAt: null,
      attachments: [...p.attachments],
      pending: true,
      error: p.error,
    }));
    return {
      session: this.session,
      messages: [...this.confirmed.map((m) => this.view(m)), ...pending],
      typingUsers: this.remoteTyping.list(),
      joined: this.joined,
      error: this.error,
      notes: this.notes.list(),
    };
  }
}
