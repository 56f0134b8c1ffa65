import { Fragment, useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import { describeIntegrationError, type ApiKey, type CreatedApiKey } from '../chat/integrations';
import { integrationsApi } from '../lib/integrations';
import { formatDateTime } from '../lib/format';
import { SecretDialog } from './SecretDialog';

const NAME_MAX = 100;

/**
 * The tenant's API keys (PROTOCOL §9): listed with when each was created
 * and last used; a new one is named, then shown once in a dialog; revoking
 * asks first (apps using the key stop working at once).
 */
export function ApiKeysSection({ token }: { token: string }) {
  const id = useId();
  const [items, setItems] = useState<ApiKey[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [revoking, setRevoking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const { items: keys } = await integrationsApi.listKeys(token);
      setItems(keys);
      setLoadError(null);
    } catch (err) {
      setLoadError(describeIntegrationError(err));
    }
  }, [token]);

  useEffect(() => {
    void load();
  }, [load]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    const trimmed = name.trim();
    setStatus(null);
    if (!trimmed) {
      setNameError('Name the key after what will use it ("CRM sync", "WhatsApp gateway").');
      return;
    }
    setNameError(null);
    setCreating(true);
    try {
      const key = await integrationsApi.createKey(token, trimmed);
      setItems((list) => [{ id: key.id, name: key.name, createdAt: key.createdAt, lastUsedAt: null }, ...(list ?? []).filter((k) => k.id !== key.id)]);
      setName('');
      setCreated(key);
    } catch (err) {
      setNameError(describeIntegrationError(err));
    } finally {
      setCreating(false);
    }
  };

  const revoke = async (key: ApiKey) => {
    setRevoking(true);
    setError(null);
    try {
      await integrationsApi.revokeKey(token, key.id);
      setItems((list) => (list ?? []).filter((k) => k.id !== key.id));
      setConfirming(null);
      setStatus(`Revoked “${key.name}”.`);
    } catch (err) {
      setError(describeIntegrationError(err));
    } finally {
      setRevoking(false);
    }
  };

  return (
    <section className="card integrations__section" aria-labelledby={`${id}-title`} data-testid="api-keys">
      <h2 id={`${id}-title`} className="settings__title">
        API keys
      </h2>
      <p className="muted small">
        For your own backend (a CRM, a bot, a gateway): it calls <code>/api/server/…</code> with{' '}
        <code>Authorization: Bearer sbk_…</code> to publish events, open chats and send messages.
      </p>

      {loadError ? (
        <p className="form__error" role="alert">
          Could not load the keys: {loadError}{' '}
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
          <p className="muted empty">No API keys yet.</p>
        ) : (
          <table className="integrations__table" data-testid="api-key-list">
            <caption className="visually-hidden">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((k) => (
                <Fragment key={k.id}>
                  <tr data-testid="api-key-row" data-key-id={k.id}>
                    <th scope="row" className="integrations__name">
                      {k.name}
                    </th>
                    <td>
                      <time dateTime={k.createdAt}>{formatDateTime(k.createdAt)}</time>
                    </td>
                    <td data-testid="api-key-last-used">
                      {k.lastUsedAt ? <time dateTime={k.lastUsedAt}>{formatDateTime(k.lastUsedAt)}</time> : <span className="muted">never</span>}
                    </td>
                    <td className="integrations__actions">
                      <button
                        type="button"
                        className="btn btn--ghost btn--small"
                        onClick={() => {
                          setConfirming(k.id);
                          setError(null);
                          setStatus(null);
                        }}
                        aria-label={`Revoke ${k.name}`}
                        disabled={confirming === k.id}
                      >
                        Revoke
                      </button>
                    </td>
                  </tr>
                  {confirming === k.id ? (
                    <tr className="integrations__confirm-row">
                      <td colSpan={4}>
                        <div className="settings__actions" role="group" aria-label={`Revoke ${k.name}?`} data-testid="api-key-revoke-confirm">
                          <span>Revoke “{k.name}”? Anything using it stops working at once.</span>
                          <button type="button" className="btn btn--danger btn--small" onClick={() => void revoke(k)} disabled={revoking}>
                            {revoking ? 'Revoking…' : 'Revoke'}
                          </button>
                          <button type="button" className="btn btn--ghost btn--small" onClick={() => setConfirming(null)} disabled={revoking}>
                            Keep it
                          </button>
                        </div>
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        )
      ) : null}
      {error ? (
        <p className="form__error" role="alert" data-testid="api-key-error">
          {error}
        </p>
      ) : null}

      <form className="integrations__inline-form" onSubmit={(e) => void create(e)} noValidate>
        <div className="field">
          <label htmlFor={`${id}-name`}>New key name</label>
          <input
            id={`${id}-name`}
            value={name}
            maxLength={NAME_MAX}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={nameError ? true : undefined}
            aria-describedby={nameError ? `${id}-name-error` : undefined}
            disabled={creating}
          />
          {nameError ? (
            <span id={`${id}-name-error`} className="field__error" data-testid="api-key-name-error">
              {nameError}
            </span>
          ) : null}
        </div>
        <button type="submit" className="btn btn--primary btn--small" disabled={creating}>
          {creating ? 'Creating…' : 'Create key'}
        </button>
        <span className="muted small" role="status" data-testid="api-key-status">
          {status}
        </span>
      </form>

      {created ? (
        <SecretDialog
          title={`API key “${created.name}”`}
          label="API key"
          value={created.key}
          hint="Your backend sends it as its bearer token to /api/server/. Lost it? Create another key and revoke this one."
          onClose={() => {
            setCreated(null);
            setStatus(`Created “${created.name}”.`);
          }}
          testId="api-key-dialog"
        />
      ) : null}
    </section>
  );
}
