import { useEffect, useLayoutEffect, useMemo, useRef } from 'react';
import { interleaveNotes } from '../chat/notes';
import type { Note } from '../chat/protocol';
import type { ChatMessage } from '../chat/sessionChannel';
import { displayName, formatTime } from '../lib/format';
import { AttachmentList } from './AttachmentList';
import { NoteItem } from './NoteItem';

type Props = {
  messages: ChatMessage[];
  /** v1.3, the agent's console: private notes, shown at their place in time. */
  notes?: Note[];
  myId: string | null;
  /** The server's base URL, for attachment paths. */
  serverUrl: string;
  onRetry?: (clientMessageId: string) => void;
  onDiscard?: (clientMessageId: string) => void;
  /** Reports whether the newest message is in view (read receipts wait for it). */
  onAtBottomChange?: (atBottom: boolean) => void;
  emptyText?: string;
};

const NEAR_BOTTOM_PX = 48;

/**
 * The conversation. Sticks to the bottom while the reader is there (or
 * when they send), and leaves the scroll position alone when they have
 * scrolled up to read history.
 */
export function MessageList({ messages, notes, myId, serverUrl, onRetry, onDiscard, onAtBottomChange, emptyText }: Props) {
  const ref = useRef<HTMLOListElement>(null);
  const items = useMemo(() => interleaveNotes(messages, notes ?? []), [messages, notes]);
  const stick = useRef(true);
  const lastCount = useRef(0);

  const report = () => {
    const el = ref.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
    stick.current = atBottom;
    onAtBottomChange?.(atBottom);
  };

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const grew = items.length > lastCount.current;
    const last = items[items.length - 1];
    const mineLast = last !== undefined && (last.kind === 'note' ? last.note.author.id : last.message.sender.id) === myId;
    lastCount.current = items.length;
    if (grew && (stick.current || mineLast)) {
      el.scrollTop = el.scrollHeight;
      stick.current = true;
    }
  }, [items, myId]);

  useEffect(() => {
    report();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [items.length]);

  // Receipts are cumulative, so one "Read" (on the newest own message the
  // other side has read) says it all; own messages after it say "Sent".
  let lastReadOwn = -1;
  messages.forEach((m, i) => {
    if (m.sender.id === myId && m.readAt) lastReadOwn = i;
  });

  // Keep the newest message in view when the list shrinks (a banner appears,
  // the keyboard opens) while the reader is at the bottom.
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(() => {
      if (stick.current) el.scrollTop = el.scrollHeight;
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  return (
    <ol ref={ref} className="messages" role="log" aria-label="Messages" aria-live="polite" onScroll={report} data-testid="message-list">
      {items.length === 0 && emptyText ? <li className="messages__empty">{emptyText}</li> : null}
      {items.map((item) => {
        if (item.kind === 'note') return <NoteItem key={`note:${item.note.id}`} note={item.note} />;
        const { message: m, index: i } = item;
        const mine = m.sender.id === myId;
        const prev = messages[i - 1];
        const showName = !mine && (!prev || prev.sender.id !== m.sender.id);
        const state = m.error ? 'failed' : m.pending ? 'pending' : m.readAt ? 'read' : 'sent';
        return (
          <li
            key={m.clientMessageId && m.pending ? `c:${m.clientMessageId}` : m.id}
            className={`msg ${mine ? 'msg--mine' : 'msg--theirs'} msg--${state}`}
            data-testid="message"
            data-seq={m.pending ? undefined : m.seq}
            data-state={state}
          >
            {showName ? <span className="msg__sender">{displayName(m.sender)}</span> : null}
            {m.content || !m.attachments?.length ? <div className="msg__bubble">{m.content}</div> : null}
            {m.attachments?.length ? <AttachmentList attachments={m.attachments} serverUrl={serverUrl} /> : null}
            <div className="msg__meta">
              <time dateTime={m.createdAt}>{formatTime(m.createdAt)}</time>
              {mine ? (
                <span className="msg__status" data-testid="message-status">
                  {state === 'pending' ? '· Sending…' : null}
                  {state === 'sent' && i > lastReadOwn ? '· Sent' : null}
                  {state === 'read' && i === lastReadOwn ? '· Read' : null}
                  {state === 'failed' ? `· Not sent: ${m.error}` : null}
                </span>
              ) : null}
              {state === 'failed' && m.clientMessageId ? (
                <span className="msg__actions">
                  <button type="button" className="link-button" onClick={() => onRetry?.(m.clientMessageId!)}>
                    Retry
                  </button>
                  <button type="button" className="link-button" onClick={() => onDiscard?.(m.clientMessageId!)}>
                    Discard
                  </button>
                </span>
              ) : null}
            </div>
          </li>
        );
      })}
    </ol>
  );
}
