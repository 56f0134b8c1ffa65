import { useEffect } from 'react';

export type Toast = {
  id: string;
  title: string;
  body?: string;
  actionLabel?: string;
  onAction?: () => void;
};

type Props = { toasts: Toast[]; onDismiss: (id: string) => void; timeoutMs?: number };

/** Toasts in a corner (bottom on small screens); each goes away by itself after a while. */
export function ChatNotification({ toasts, onDismiss, timeoutMs = 8000 }: Props) {
  return (
    <div className="toasts" role="region" aria-label="Notifications">
      <div aria-live="polite" aria-relevant="additions">
        {toasts.map((toast) => (
          <ToastItem key={toast.id} toast={toast} onDismiss={onDismiss} timeoutMs={timeoutMs} />
        ))}
      </div>
    </div>
  );
}

function ToastItem({ toast, onDismiss, timeoutMs }: { toast: Toast; onDismiss: (id: string) => void; timeoutMs: number }) {
  useEffect(() => {
    const timer = setTimeout(() => onDismiss(toast.id), timeoutMs);
    return () => clearTimeout(timer);
  }, [toast.id, onDismiss, timeoutMs]);
  return (
    <div className="toast" data-testid="toast">
      <div className="toast__text">
        <strong className="toast__title">{toast.title}</strong>
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
