// The private notes of one session as a staff socket sees them (PROTOCOL
// §10): every note from each `join-session` ack (`notes`, staff only), then
// `note-added` live (the server sends it to the staff sockets that joined
// the session), and `add-note` to write one. A SessionChannel owns one and
// feeds it the join acks; a customer's channel simply never gets any.

import type { ChatConnection } from './connection';
import { mergeNotes } from './notes';
import type { Note } from './protocol';

export class SessionNotes {
  private notes: Note[] = [];

  constructor(
    private readonly connection: ChatConnection,
    private readonly sessionId: string,
    private readonly onChange: () => void,
  ) {}

  /** Listens to `note-added` for this session; returns the unsubscribe. */
  listen(): () => void {
    const { socket } = this.connection;
    const handler = (note: Note) => {
      if (note?.sessionId === this.sessionId) this.absorb([note]);
    };
    socket.on('note-added', handler);
    return () => {
      socket.off('note-added', handler);
    };
  }

  /** Notes from a join ack (all of them, each time) or an event: kept once each. */
  absorb(notes: readonly Note[] | null | undefined): void {
    const next = mergeNotes(this.notes, notes);
    if (next === this.notes) return;
    this.notes = next;
    this.onChange();
  }

  list(): Note[] {
    return this.notes;
  }

  /**
   * Adds a note (`add-note`); resolves with the stored Note, already in the
   * list, or rejects with the server's refusal (ChatError).
   */
  async add(content: string): Promise<Note> {
    const note = await this.connection.request<Note>('add-note', { sessionId: this.sessionId, content: content.trim() });
    this.absorb([note]);
    return note;
  }
}
