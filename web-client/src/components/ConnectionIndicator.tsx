import type { ConnectionStatus } from '../chat/connection';

const labels: Record<ConnectionStatus, string> = {
  connected: 'Connected',
  connecting: 'Connecting…',
  disconnected: 'Disconnected',
  error: 'Connection error',
};

type Props = {
  status: ConnectionStatus;
  /** The reconnection attempt under way (0: first connection). */
  attempt?: number;
  error?: string | null;
  exhausted?: boolean;
  onReconnect?: () => void;
  compact?: boolean;
};

/** The connection state in a word and a colour, with a Reconnect button when nothing else will retry. */
export function ConnectionIndicator({ status, attempt = 0, error, exhausted, onReconnect, compact }: Props) {
  const canRetry = (status === 'disconnected' || status === 'error') && onReconnect;
  const detail = status === 'connected' ? null : error;
  return (
    <div className={`conn conn--${status}${compact ? ' conn--compact' : ''}`} data-testid="connection-status" data-status={status}>
      <span className="conn__dot" aria-hidden="true" />
      <span role="status" aria-live="polite" className="conn__label" title={detail ?? undefined}>
        {status === 'connecting' && attempt > 0 ? 'Reconnecting…' : labels[status]}
        {detail && !compact ? <span className="conn__detail">: {detail}</span> : null}
      </span>
      {canRetry ? (
        <button type="button" className="btn btn--small btn--ghost conn__retry" onClick={onReconnect}>
          {exhausted ? 'Reconnect' : 'Retry'}
        </button>
      ) : null}
    </div>
  );
}
