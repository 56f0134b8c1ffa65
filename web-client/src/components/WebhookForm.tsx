import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import {
  DESCRIPTION_MAX,
  WEBHOOK_EVENT_HELP,
  WEBHOOK_EVENT_TYPES,
  checkWebhookDraft,
  describeIntegrationError,
  emptyWebhookDraft,
  webhookErrorField,
  type WebhookBody,
  type WebhookDraft,
  type WebhookDraftErrors,
  type WebhookEventType,
} from '../chat/integrations';

type Props = {
  /** Registers the endpoint; rejects with the server's refusal. */
  onSubmit: (body: WebhookBody) => Promise<unknown>;
  onCancel: () => void;
};

/**
 * Registers a webhook endpoint: its URL, the event types it wants (the
 * five of PROTOCOL §9) and a description. A refusal shows by the field it
 * is about: a URL the server will not call (a private address, unless it
 * runs with `--webhook-allow-private-networks`) under the URL.
 */
export function WebhookForm({ onSubmit, onCancel }: Props) {
  const id = useId();
  const [draft, setDraft] = useState<WebhookDraft>(emptyWebhookDraft);
  const [errors, setErrors] = useState<WebhookDraftErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  // A refusal moves the focus to the first field it is about, so it is heard and fixed there.
  useEffect(() => {
    if (busy) return;
    form.current?.querySelector<HTMLElement>('input[aria-invalid="true"], [aria-invalid="true"] input')?.focus();
  }, [errors, busy]);

  const change = (patch: Partial<WebhookDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const toggle = (type: WebhookEventType, on: boolean) =>
    change({ events: on ? [...draft.events.filter((t) => t !== type), type] : draft.events.filter((t) => t !== type) });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { body, errors: found } = checkWebhookDraft(draft);
    setErrors(found);
    setFormError(null);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await onSubmit(body);
    } catch (err) {
      const field = webhookErrorField(err);
      const message = describeIntegrationError(err);
      if (field) setErrors({ [field]: message });
      else setFormError(message);
      setBusy(false);
    }
  };

  const described = (field: keyof WebhookDraftErrors, hint?: string) =>
    [errors[field] ? `${id}-${field}-error` : null, hint].filter(Boolean).join(' ') || undefined;

  return (
    <form ref={form} className="form webhook-form" onSubmit={(e) => void submit(e)} noValidate aria-label="Register a webhook endpoint" data-testid="webhook-form">
      <fieldset className="settings__all" disabled={busy}>
        <div className="field">
          <label htmlFor={`${id}-url`}>Endpoint URL</label>
          <input
            id={`${id}-url`}
            type="url"
            inputMode="url"
            placeholder="https://example.com/switchboard/webhooks"
            value={draft.url}
            onChange={(e) => change({ url: e.target.value })}
            aria-invalid={errors.url ? true : undefined}
            aria-describedby={described('url', `${id}-url-hint`)}
          />
          <span id={`${id}-url-hint`} className="field__hint">
            Switchboard POSTs each event here, signed with the endpoint's secret (Standard Webhooks).
          </span>
          {errors.url ? (
            <span id={`${id}-url-error`} className="field__error" data-testid="webhook-url-error">
              {errors.url}
            </span>
          ) : null}
        </div>
        <fieldset
          className="webhook-form__events"
          aria-invalid={errors.events ? true : undefined}
          aria-describedby={described('events')}
        >
          <legend>Events</legend>
          {WEBHOOK_EVENT_TYPES.map((type) => (
            <label key={type} className="check">
              <input type="checkbox" checked={draft.events.includes(type)} onChange={(e) => toggle(type, e.target.checked)} />
              <span>
                <code>{type}</code> <span className="muted small">{WEBHOOK_EVENT_HELP[type]}</span>
              </span>
            </label>
          ))}
          {errors.events ? (
            <span id={`${id}-events-error`} className="field__error" data-testid="webhook-events-error">
              {errors.events}
            </span>
          ) : null}
        </fieldset>
        <div className="field">
          <label htmlFor={`${id}-description`}>
            Description <span className="muted">(optional)</span>
          </label>
          <input
            id={`${id}-description`}
            value={draft.description}
            maxLength={DESCRIPTION_MAX}
            onChange={(e) => change({ description: e.target.value })}
            aria-invalid={errors.description ? true : undefined}
            aria-describedby={described('description')}
          />
          {errors.description ? (
            <span id={`${id}-description-error`} className="field__error" data-testid="webhook-description-error">
              {errors.description}
            </span>
          ) : null}
        </div>
        {formError ? (
          <p className="form__error" role="alert" data-testid="webhook-form-error">
            {formError}
          </p>
        ) : null}
        <div className="settings__actions">
          <button type="submit" className="btn btn--primary btn--small">
            {busy ? 'Registering…' : 'Register endpoint'}
          </button>
          <button type="button" className="btn btn--ghost btn--small" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </fieldset>
    </form>
  );
}
