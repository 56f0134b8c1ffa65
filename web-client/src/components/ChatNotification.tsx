import { useEffect, useState } from 'react';
import type { ToastLevel } from '../chat/notify';

export type Toast = {
  id: string;
  title: string;
  body?: string;
  /** Colours the toast (a `notify.` event's `level`); none is the plain dark toast. */
  level?: ToastLevel;
  actionLabel?: string;
  onAction?: () => void;
};

/** Said before the title of the toasts whose colour means something. */
const LEVEL_WORDS = { warning: 'Warning', error: 'Error' } as const;

type Props = { toasts: Toast[]; onDismiss: (id: string) => void; timeoutMs?: number };

/**
 * Toasts in a corner (bottom on small screens), stacked, newest last; each
 * goes away by itself after a while (not while the keyboard focus is in
 * it), or with its ×. Screen readers hear each new one once (a polite
 * status region).
 */
export function ChatNotification({ toasts, onDismiss, timeoutMs = 8000 }: Props) {
  return (
    <div className="toasts" role="region" aria-label="Notifications">
      <div role="status" aria-live="polite" aria-relevant="additions" aria-atomic="false">
        {toasts.map((toast) => (
          <ToastItem key={toast.id} toast={toast} onDismiss={onDismiss} timeoutMs={timeoutMs} />
        ))}
      </div>
    </div>
  );
}

function ToastItem({ toast, onDismiss, timeoutMs }: { toast: Toast; onDismiss: (id: string) => void; timeoutMs: number }) {
  // Held while the keyboard focus is in it (time to reach and read its
  // buttons). Not on hover: a toast sliding under a resting pointer would
  // then stay, over the page, until the pointer moves.
  const [paused, setPaused] = useState(false);
  useEffect(() => {
    if (paused) return;
    const timer = setTimeout(() => onDismiss(toast.id), timeoutMs);
    return () => clearTimeout(timer);
  }, [toast.id, onDismiss, timeoutMs, paused]);
  return (
    <div
      className={`toast${toast.level ? ` toast--${toast.level}` : ''}`}
      data-testid="toast"
      data-level={toast.level}
      onFocus={() => setPaused(true)}
      onBlur={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setPaused(false);
      }}
    >
      {toast.level ? <span className={`toast__level toast__level--${toast.level}`} aria-hidden="true" /> : null}
      <div className="toast__text">
        <strong className="toast__title">
          {toast.level === 'warning' || toast.level === 'error' ? <span className="visually-hidden">{LEVEL_WORDS[toast.level]}: </span> : null}
          {toast.title}
        </strong>
        {toast.body ? <span className="toast__body">{toast.body}</span> : null}
      </div>
      <div className="toast__actions">
        {toast.onAction ? (
          <button
            type="button"
            className="btn btn--small btn--primary"
            onClick={() => {
              toast.onAction?.();
              onDismiss(toast.id);
            }}
          >
            {toast.actionLabel ?? 'Open'}
          </button>
        ) : null}
        <button type="button" className="icon-button" aria-label="Dismiss notification" onClick={() => onDismiss(toast.id)}>
          ×
        </button>
      </div>
    </div>
  );
}
