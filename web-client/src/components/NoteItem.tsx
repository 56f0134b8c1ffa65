import type { Note } from '../chat/protocol';
import { displayName, formatTime } from '../lib/format';
import './agentTools.css';

/** A private note in the agent's thread (PROTOCOL §10): yellow, labelled, with its author and time. */
export function NoteItem({ note }: { note: Note }) {
  return (
    <li className="note" data-testid="note" data-note-id={note.id}>
      <span className="note__label">Note · only agents see this</span>
      <div className="note__content">{note.content}</div>
      <div className="note__meta">
        <span className="note__author">{displayName(note.author)}</span> ·{' '}
        <time dateTime={note.createdAt}>{formatTime(note.createdAt)}</time>
      </div>
    </li>
  );
}
