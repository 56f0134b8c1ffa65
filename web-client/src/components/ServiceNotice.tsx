import type { ServiceStatus } from '../chat/protocol';
import { serviceNotice } from '../chat/routing';

/**
 * Outside business hours, or with nobody available: the tenant's offline
 * message and a "leave a message" hint (PROTOCOL §7: the customer can still
 * open a chat and write; it waits in the queue). Nothing otherwise, and
 * nothing from a v1.2 server (no service status).
 */
export function ServiceNotice({ service, className = '' }: { service: ServiceStatus | null; className?: string }) {
  const notice = serviceNotice(service);
  if (!notice) return null;
  return (
    <div className={`banner banner--offline ${className}`} role="status" data-testid="service-notice" data-kind={notice.kind}>
      <div className="offline">
        <strong className="offline__title">{notice.title}</strong>
        {notice.message ? (
          <p className="offline__message" data-testid="offline-message">
            {notice.message}
          </p>
        ) : null}
        <p className="offline__hint">{notice.hint}</p>
      </div>
    </div>
  );
}
