import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { ChatConnection } from '../chat/connection';
import type { AgentState, Session } from '../chat/protocol';
import { formatLoad, presenceLabel, transferTargets } from '../chat/routing';
import { displayName } from '../lib/format';

type Props = {
  session: Session;
  agents: AgentState[];
  myId: string | null;
  connection: ChatConnection;
  onClose: () => void;
  /** The ack's session: with its new agent, or pending again (back to the queue). */
  onTransferred: (session: Session, to: AgentState | null) => void;
};

/**
 * Hands a chat to a colleague, or back to the queue (`transfer-session`,
 * PROTOCOL §7). A modal <dialog>: focus stays inside, Escape closes it.
 * Any agent of the tenant can receive a chat, whatever their availability
 * or load (shown so the agent can choose well); the server's refusal is
 * shown as it says it.
 */
export function TransferDialog({ session, agents, myId, connection, onClose, onTransferred }: Props) {
  const id = useId();
  const ref = useRef<HTMLDialogElement>(null);
  const [target, setTarget] = useState<string | null>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState<'agent' | 'queue' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const targets = transferTargets(agents, myId);

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);

  const transfer = async (to: AgentState | null) => {
    setBusy(to ? 'agent' : 'queue');
    setError(null);
    try {
      const updated = await connection.request<Session>('transfer-session', {
        sessionId: session.id,
        ...(to ? { toAgentId: to.id } : {}),
        ...(reason.trim() ? { reason: reason.trim() } : {}),
      });
      onTransferred(updated, to);
    } catch (err) {
      setError((err as Error).message);
      setBusy(null);
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const to = targets.find((a) => a.id === target);
    if (to) void transfer(to);
  };

  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={`${id}-title`}
      data-testid="transfer-dialog"
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) onClose();
      }}
    >
      <form className="form" onSubmit={submit}>
        <div className="dialog__header">
          <h2 id={`${id}-title`} className="dialog__title">
            Transfer chat with {displayName(session.customer, 'the customer')}
          </h2>
          <button type="button" className="icon-button" aria-label="Close" onClick={onClose} disabled={Boolean(busy)}>
            ×
          </button>
        </div>
        <fieldset className="transfer-targets" disabled={Boolean(busy)}>
          <legend>Transfer to</legend>
          {targets.length === 0 ? (
            <p className="muted empty">No other agent yet. You can still send the chat back to the queue.</p>
          ) : (
            <ul className="transfer-targets__list">
              {targets.map((a) => {
                const presence = presenceLabel(a);
                return (
                  <li key={a.id}>
                    <label className={`transfer-target${target === a.id ? ' transfer-target--selected' : ''}`} data-testid="transfer-target">
                      <input
                        type="radio"
                        name={`${id}-target`}
                        value={a.id}
                        checked={target === a.id}
                        onChange={() => setTarget(a.id)}
                      />
                      <span className={`presence-dot presence-dot--${presence.toLowerCase()}`} aria-hidden="true" />
                      <span className="transfer-target__text">
                        <span className="transfer-target__name">{a.name?.trim() || a.id}</span>
                        <span className="transfer-target__meta">
                          {presence} · {formatLoad(a)}
                        </span>
                      </span>
                    </label>
                  </li>
                );
              })}
            </ul>
          )}
        </fieldset>
        <div className="field">
          <label htmlFor={`${id}-reason`}>
            Reason <span className="muted">(optional)</span>
          </label>
          <input id={`${id}-reason`} maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} disabled={Boolean(busy)} />
        </div>
        {error ? (
          <p className="form__error" role="alert" data-testid="transfer-error">
            {error}
          </p>
        ) : null}
        <div className="dialog__actions">
          <button type="button" className="btn btn--ghost" onClick={() => void transfer(null)} disabled={Boolean(busy)}>
            {busy === 'queue' ? 'Sending back…' : 'Back to queue'}
          </button>
          <span className="dialog__spacer" />
          <button type="button" className="btn btn--ghost" onClick={onClose} disabled={Boolean(busy)}>
            Cancel
          </button>
          <button type="submit" className="btn btn--primary" disabled={Boolean(busy) || !targets.some((a) => a.id === target)}>
            {busy === 'agent' ? 'Transferring…' : 'Transfer'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
