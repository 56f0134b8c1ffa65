// Messages this client sent that the server has not acknowledged yet.
// Each has a `clientMessageId`, so sending it again (after a reconnect, or
// a retry) is safe: the server stores one message per clientMessageId and
// sender. An entry leaves the outbox when the stored message is seen (the
// ack, the `new-message` echo, or a catch-up join).

import { randomId } from '../lib/identity';
import type { Attachment, Message, UserRef } from './protocol';

export type OutboxEntry = {
  readonly clientMessageId: string;
  readonly content: string;
  /** Uploaded already (v1.3, §8); sent as their ids. */
  readonly attachments: readonly Attachment[];
  readonly createdAt: string;
  /** Why the server refused it; null while it is still to be sent. */
  error: string | null;
  /** A send-message request is under way (no second one meanwhile). */
  inFlight: boolean;
};

export class Outbox {
  private entries: OutboxEntry[] = [];

  add(content: string, attachments: readonly Attachment[] = []): OutboxEntry {
    const entry: OutboxEntry = {
      clientMessageId: randomId(),
      content,
      attachments,
      createdAt: new Date().toISOString(),
      error: null,
      inFlight: false,
    };
    this.entries = [...this.entries, entry];
    return entry;
  }

  get(clientMessageId: string): OutboxEntry | undefined {
    return this.entries.find((e) => e.clientMessageId === clientMessageId);
  }

  /** Entries that should be (re)sent: not refused, not already on their way. */
  unsent(): OutboxEntry[] {
    return this.entries.filter((e) => !e.error && !e.inFlight);
  }

  fail(entry: OutboxEntry, error: string): void {
    entry.error = error;
    this.entries = [...this.entries];
  }

  clearError(entry: OutboxEntry): void {
    entry.error = null;
    this.entries = [...this.entries];
  }

  remove(clientMessageId: string): void {
    this.entries = this.entries.filter((e) => e.clientMessageId !== clientMessageId);
  }

  /** Drops the entries whose message is among `stored` (sent by `me`). Returns true if any went. */
  settle(stored: readonly Message[], me: UserRef | null): boolean {
    if (this.entries.length === 0) return false;
    const ids = new Set(
      stored.filter((m) => m.clientMessageId && (!me || m.sender.id === me.id)).map((m) => m.clientMessageId),
    );
    if (ids.size === 0) return false;
    const next = this.entries.filter((e) => !ids.has(e.clientMessageId));
    if (next.length === this.entries.length) return false;
    this.entries = next;
    return true;
  }

  list(): readonly OutboxEntry[] {
    return this.entries;
  }
}
