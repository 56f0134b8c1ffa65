import { useState } from 'react';
import { describeIntegrationError, lastOutcome, type Webhook, type WebhookDelivery } from '../chat/integrations';
import type { ChatConnectionState } from '../hooks/useChatConnection';
import { useDeliveryLog } from '../hooks/useDeliveryLog';
import { formatDateTime } from '../lib/format';

const STATUS_LABELS: Record<string, string> = { pending: 'Pending', delivered: 'Delivered', failed: 'Failed' };

/**
 * An endpoint's deliveries, newest first, live (`webhook-delivery`): each
 * one's state, event type, attempts, what the last attempt got, when the
 * next one is due; a failed one can be retried (the schedule starts over).
 */
export function DeliveryLog({ token, webhook, conn }: { token: string; webhook: Webhook; conn: ChatConnectionState }) {
  const log = useDeliveryLog(token, webhook.id, conn);
  const [retrying, setRetrying] = useState<string | null>(null);
  const [retryError, setRetryError] = useState<{ id: string; message: string } | null>(null);

  const retry = async (delivery: WebhookDelivery) => {
    setRetrying(delivery.id);
    setRetryError(null);
    try {
      await log.retry(delivery);
    } catch (err) {
      setRetryError({ id: delivery.id, message: describeIntegrationError(err) });
    } finally {
      setRetrying(null);
    }
  };

  return (
    <div className="delivery-log" data-testid="delivery-log" data-webhook-id={webhook.id}>
      <div className="delivery-log__head">
        <h4 className="delivery-log__title">Deliveries</h4>
        <span className="muted small">newest first, live</span>
        <button type="button" className="btn btn--ghost btn--small" onClick={log.reload}>
          Refresh
        </button>
      </div>
      {log.error ? (
        <p className="form__error" role="alert">
          Could not load the deliveries: {log.error}
        </p>
      ) : null}
      {!log.items ? (
        log.error ? null : (
          <p className="muted small" role="status">
            Loading…
          </p>
        )
      ) : log.items.length === 0 ? (
        <p className="muted empty small" data-testid="delivery-empty">
          No deliveries yet. They appear here as events happen.
        </p>
      ) : (
        <div className="integrations__scroll">
          <table className="integrations__table delivery-log__table">
            <caption className="visually-hidden">Deliveries to {webhook.url}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Event</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last response</th>
                <th scope="col">Next attempt</th>
                <th scope="col">Created</th>
                <th scope="col">Delivered</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {log.items.map((d) => (
                <tr
                  key={d.id}
                  data-testid="delivery-row"
                  data-delivery-id={d.id}
                  data-status={d.status}
                  data-attempts={d.attempts}
                  data-type={d.type}
                >
                  <td>
                    <span className={`delivery-badge delivery-badge--${d.status}`} data-testid="delivery-status">
                      {STATUS_LABELS[d.status] ?? d.status}
                    </span>
                  </td>
                  <td>
                    <code>{d.type}</code>
                  </td>
                  <td data-testid="delivery-attempts">{d.attempts}</td>
                  <td className="delivery-log__outcome" data-testid="delivery-outcome" title={d.lastError ?? undefined}>
                    {lastOutcome(d)}
                  </td>
                  <td>{d.nextAttemptAt && d.status === 'pending' ? <Time iso={d.nextAttemptAt} /> : <span className="muted">—</span>}</td>
                  <td>
                    <Time iso={d.createdAt} />
                  </td>
                  <td>{d.deliveredAt ? <Time iso={d.deliveredAt} /> : <span className="muted">—</span>}</td>
                  <td className="integrations__actions">
                    {d.status === 'failed' ? (
                      <button
                        type="button"
                        className="btn btn--ghost btn--small"
                        onClick={() => void retry(d)}
                        disabled={retrying === d.id}
                        aria-label={`Retry ${d.type} delivery`}
                      >
                        {retrying === d.id ? 'Retrying…' : 'Retry'}
                      </button>
                    ) : null}
                    {retryError?.id === d.id ? (
                      <span className="field__error" role="alert">
                        {retryError.message}
                      </span>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** Times in the log with seconds: attempts come seconds apart. */
function Time({ iso }: { iso: string }) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return <span className="muted">—</span>;
  const sameDay = d.toDateString() === new Date().toDateString();
  const text = sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : formatDateTime(iso);
  return (
    <time dateTime={iso} title={d.toLocaleString()}>
      {text}
    </time>
  );
}
