import { useCallback, useEffect, useId, useState } from 'react';
import { describeIntegrationError, type CreatedWebhook, type Webhook, type WebhookBody } from '../chat/integrations';
import type { ChatConnectionState } from '../hooks/useChatConnection';
import { formatDateTime } from '../lib/format';
import { integrationsApi } from '../lib/integrations';
import { DeliveryLog } from './DeliveryLog';
import { SecretDialog } from './SecretDialog';
import { WebhookForm } from './WebhookForm';

/**
 * The tenant's webhook endpoints (PROTOCOL §9): each with its URL, event
 * types, description and creation time, its delivery log on demand (open
 * at once for one just registered), and removal after a confirmation.
 * Registering shows the signing secret once.
 */
export function WebhooksSection({ token, conn }: { token: string; conn: ChatConnectionState }) {
  const id = useId();
  const [items, setItems] = useState<Webhook[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<CreatedWebhook | null>(null);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const [confirming, setConfirming] = useState<string | null>(null);
  const [removing, setRemoving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const { items: hooks } = await integrationsApi.listWebhooks(token);
      setItems(hooks);
      setLoadError(null);
    } catch (err) {
      setLoadError(describeIntegrationError(err));
    }
  }, [token]);

  useEffect(() => {
    void load();
  }, [load]);

  const toggle = (webhookId: string, show: boolean) =>
    setOpen((set) => {
      const next = new Set(set);
      if (show) next.add(webhookId);
      else next.delete(webhookId);
      return next;
    });

  const register = async (body: WebhookBody) => {
    const hook = await integrationsApi.createWebhook(token, body);
    // The list never holds the secret: only the dialog shows it, once.
    const listed: Webhook = { id: hook.id, url: hook.url, events: hook.events, description: hook.description, createdAt: hook.createdAt };
    setItems((list) => [listed, ...(list ?? []).filter((w) => w.id !== hook.id)]);
    toggle(hook.id, true);
    setAdding(false);
    setStatus(null);
    setCreated(hook);
  };

  const remove = async (hook: Webhook) => {
    setRemoving(true);
    setError(null);
    try {
      await integrationsApi.removeWebhook(token, hook.id);
      setItems((list) => (list ?? []).filter((w) => w.id !== hook.id));
      toggle(hook.id, false);
      setConfirming(null);
      setStatus(`Removed ${hook.url}.`);
    } catch (err) {
      setError(describeIntegrationError(err));
    } finally {
      setRemoving(false);
    }
  };

  return (
    <section className="card integrations__section" aria-labelledby={`${id}-title`} data-testid="webhooks">
      <h2 id={`${id}-title`} className="settings__title">
        Webhook endpoints
      </h2>
      <p className="muted small">
        Switchboard calls these URLs when chats and messages change, signed so the receiver can check them, and retries
        an endpoint that does not answer 2xx.
      </p>

      {loadError ? (
        <p className="form__error" role="alert">
          Could not load the endpoints: {loadError}{' '}
          <button type="button" className="link-button" onClick={() => void load()}>
            Try again
          </button>
        </p>
      ) : null}
      {!items && !loadError ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}
      {items ? (
        items.length === 0 ? (
          <p className="muted empty">No endpoints yet.</p>
        ) : (
          <ul className="webhook-list" aria-label="Webhook endpoints" data-testid="webhook-list">
            {items.map((w) => {
              const shown = open.has(w.id);
              return (
                <li key={w.id} className="webhook-row" data-testid="webhook-row" data-webhook-id={w.id} data-url={w.url}>
                  <div className="webhook-row__head">
                    <h3 className="webhook-row__url">{w.url}</h3>
                    <span className="webhook-row__actions">
                      <button
                        type="button"
                        className="btn btn--ghost btn--small"
                        aria-expanded={shown}
                        aria-controls={`${id}-log-${w.id}`}
                        onClick={() => toggle(w.id, !shown)}
                      >
                        {shown ? 'Hide deliveries' : 'Deliveries'}
                      </button>
                      <button
                        type="button"
                        className="btn btn--ghost btn--small"
                        onClick={() => {
                          setConfirming(w.id);
                          setError(null);
                          setStatus(null);
                        }}
                        aria-label={`Remove ${w.url}`}
                        disabled={confirming === w.id}
                      >
                        Remove
                      </button>
                    </span>
                  </div>
                  <dl className="webhook-row__meta">
                    <div>
                      <dt>Events</dt>
                      <dd data-testid="webhook-events">
                        {w.events.map((e) => (
                          <code key={e} className="webhook-row__event">
                            {e}
                          </code>
                        ))}
                      </dd>
                    </div>
                    {w.description ? (
                      <div>
                        <dt>Description</dt>
                        <dd data-testid="webhook-description">{w.description}</dd>
                      </div>
                    ) : null}
                    <div>
                      <dt>Created</dt>
                      <dd>
                        <time dateTime={w.createdAt}>{formatDateTime(w.createdAt)}</time>
                      </dd>
                    </div>
                  </dl>
                  {confirming === w.id ? (
                    <div className="settings__actions" role="group" aria-label={`Remove ${w.url}?`} data-testid="webhook-remove-confirm">
                      <span>Remove this endpoint? Its pending deliveries are dropped.</span>
                      <button type="button" className="btn btn--danger btn--small" onClick={() => void remove(w)} disabled={removing}>
                        {removing ? 'Removing…' : 'Remove'}
                      </button>
                      <button type="button" className="btn btn--ghost btn--small" onClick={() => setConfirming(null)} disabled={removing}>
                        Keep it
                      </button>
                    </div>
                  ) : null}
                  <div id={`${id}-log-${w.id}`} hidden={!shown}>
                    {shown ? <DeliveryLog token={token} webhook={w} conn={conn} /> : null}
                  </div>
                </li>
              );
            })}
          </ul>
        )
      ) : null}
      {error ? (
        <p className="form__error" role="alert" data-testid="webhook-error">
          {error}
        </p>
      ) : null}

      {items ? (
        adding ? (
          <WebhookForm onSubmit={register} onCancel={() => setAdding(false)} />
        ) : (
          <div className="settings__actions">
            <button
              type="button"
              className="btn btn--primary btn--small"
              onClick={() => {
                setAdding(true);
                setStatus(null);
              }}
            >
              Register endpoint
            </button>
            <span className="muted small" role="status" data-testid="webhook-status">
              {status}
            </span>
          </div>
        )
      ) : null}

      {created ? (
        <SecretDialog
          title="Signing secret"
          label={`Secret for ${created.url}`}
          value={created.secret}
          hint="Your receiver verifies each delivery with it, e.g. new Webhook(secret).verify(body, headers) from the standardwebhooks library."
          onClose={() => {
            setCreated(null);
            setStatus(`Registered ${created.url}.`);
          }}
          testId="webhook-secret-dialog"
        />
      ) : null}
    </section>
  );
}
