import { useId, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { WEEKDAYS, type TenantSettings, type Weekday } from '../chat/protocol';
import {
  DEFAULT_RANGE,
  LIMITS,
  formToSettings,
  rangeKey,
  settingsPatch,
  settingsToForm,
  type SettingsErrors,
  type SettingsForm as FormState,
} from '../chat/settingsForm';

const DAY_NAMES: Record<Weekday, string> = {
  mon: 'Monday',
  tue: 'Tuesday',
  wed: 'Wednesday',
  thu: 'Thursday',
  fri: 'Friday',
  sat: 'Saturday',
  sun: 'Sunday',
};

type Props = {
  /** As the server sent them: a field it leaves out (an older server) is not shown. */
  settings: Partial<TenantSettings>;
  canEdit: boolean;
  /** PATCH /api/settings with the changed fields; resolves with the stored settings. */
  onSave: (patch: Partial<TenantSettings>) => Promise<TenantSettings>;
};

function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

function knownTimeZones(): string[] {
  const intl = Intl as typeof Intl & { supportedValuesOf?: (key: string) => string[] };
  try {
    return intl.supportedValuesOf?.('timeZone') ?? [];
  } catch {
    return [];
  }
}

/** The tenant's routing settings (PROTOCOL §3 TenantSettings, §7), for admins. */
export function SettingsForm({ settings, canEdit, onSave }: Props) {
  const id = useId();
  const [saved, setSaved] = useState(settings);
  const [form, setForm] = useState<FormState>(() => settingsToForm(settings, browserTimeZone()));
  const [errors, setErrors] = useState<SettingsErrors>({});
  const [serverError, setServerError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const zones = useMemo(knownTimeZones, []);
  const has = (key: keyof TenantSettings) => key in saved;

  const change = (patch: Partial<FormState>) => {
    setForm((f) => ({ ...f, ...patch }));
    setStatus(null);
  };
  const changeDay = (day: Weekday, ranges: FormState['weekly'][Weekday]) =>
    change({ weekly: { ...form.weekly, [day]: ranges } });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { settings: next, errors: found } = formToSettings(form);
    // Only the fields this server has count (the others are not shown).
    const relevant = Object.fromEntries(
      Object.entries(found).filter(([field]) => {
        if (field.startsWith('hours.') || field === 'timezone') return has('businessHours');
        return has(field as keyof TenantSettings);
      }),
    ) as SettingsErrors;
    setErrors(relevant);
    setServerError(null);
    setStatus(null);
    if (Object.keys(relevant).length) return;
    const patch = settingsPatch(saved, next);
    if (Object.keys(patch).length === 0) {
      setStatus('Nothing changed.');
      return;
    }
    setBusy(true);
    try {
      const stored = await onSave(patch);
      setSaved(stored);
      setForm(settingsToForm(stored, form.timezone));
      setStatus('Settings saved.');
    } catch (err) {
      setServerError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const fieldError = (field: keyof SettingsErrors) =>
    errors[field] ? (
      <span id={`${id}-${field}-error`} className="field__error">
        {errors[field]}
      </span>
    ) : null;
  const describedBy = (field: keyof SettingsErrors, hint?: string) =>
    [hint, errors[field] ? `${id}-${field}-error` : null].filter(Boolean).join(' ') || undefined;

  return (
    <form className="form settings" onSubmit={submit} aria-label="Routing settings" noValidate>
      <fieldset className="settings__all" disabled={!canEdit || busy}>
        <legend className="visually-hidden">Routing settings</legend>
        {has('routing') || has('defaultMaxChats') || has('reassignAfterOfflineSeconds') ? (
          <Section title="Routing">
            {has('routing') ? (
              <fieldset className="choice-group">
                <legend>How chats reach agents</legend>
                <label className="choice">
                  <input type="radio" name={`${id}-routing`} value="manual" checked={form.routing === 'manual'} onChange={() => change({ routing: 'manual' })} />
                  <span>
                    <strong>Manual</strong>
                    <span className="muted"> Agents take chats from the queue.</span>
                  </span>
                </label>
                <label className="choice">
                  <input type="radio" name={`${id}-routing`} value="auto" checked={form.routing === 'auto'} onChange={() => change({ routing: 'auto' })} />
                  <span>
                    <strong>Automatic</strong>
                    <span className="muted"> Each waiting chat goes to the available agent with the fewest chats.</span>
                  </span>
                </label>
              </fieldset>
            ) : null}
            {has('defaultMaxChats') ? (
              <div className="field">
                <label htmlFor={`${id}-max`}>Chats per agent</label>
                <input
                  id={`${id}-max`}
                  className="field__short"
                  type="number"
                  inputMode="numeric"
                  min={LIMITS.defaultMaxChats.min}
                  max={LIMITS.defaultMaxChats.max}
                  value={form.defaultMaxChats}
                  onChange={(e) => change({ defaultMaxChats: e.target.value })}
                  aria-invalid={errors.defaultMaxChats ? true : undefined}
                  aria-describedby={describedBy('defaultMaxChats', `${id}-max-hint`)}
                />
                <span id={`${id}-max-hint`} className="field__hint">
                  How many chats automatic routing gives one agent at most ({LIMITS.defaultMaxChats.min}–{LIMITS.defaultMaxChats.max}).
                  An agent's own capacity, set on the dashboard, takes precedence.
                </span>
                {fieldError('defaultMaxChats')}
              </div>
            ) : null}
            {has('reassignAfterOfflineSeconds') ? (
              <div className="field">
                <label htmlFor={`${id}-reassign`}>Reassign chats of an agent who went offline after (seconds)</label>
                <div className="field__row">
                  <input
                    id={`${id}-reassign`}
                    className="field__short"
                    type="number"
                    inputMode="numeric"
                    min={LIMITS.reassignAfterOfflineSeconds.min}
                    max={LIMITS.reassignAfterOfflineSeconds.max}
                    value={form.reassignNever ? '' : form.reassignAfterOfflineSeconds}
                    disabled={form.reassignNever}
                    onChange={(e) => change({ reassignAfterOfflineSeconds: e.target.value })}
                    aria-invalid={errors.reassignAfterOfflineSeconds ? true : undefined}
                    aria-describedby={describedBy('reassignAfterOfflineSeconds', `${id}-reassign-hint`)}
                  />
                  <label className="check">
                    <input type="checkbox" checked={form.reassignNever} onChange={(e) => change({ reassignNever: e.target.checked })} />
                    <span>Never</span>
                  </label>
                </div>
                <span id={`${id}-reassign-hint`} className="field__hint">
                  In automatic mode only. A reconnect within this time changes nothing.
                </span>
                {fieldError('reassignAfterOfflineSeconds')}
              </div>
            ) : null}
          </Section>
        ) : null}

        {has('businessHours') ? (
          <Section title="Business hours">
            <label className="check">
              <input type="checkbox" checked={form.hoursEnabled} onChange={(e) => change({ hoursEnabled: e.target.checked })} />
              <span>Open only during business hours</span>
            </label>
            {!form.hoursEnabled ? (
              <p className="muted small">Always open. Outside business hours customers can still write: their chats wait in the queue.</p>
            ) : (
              <>
                <div className="field">
                  <label htmlFor={`${id}-tz`}>Time zone</label>
                  <input
                    id={`${id}-tz`}
                    list={zones.length ? `${id}-zones` : undefined}
                    value={form.timezone}
                    onChange={(e) => change({ timezone: e.target.value })}
                    placeholder="Europe/Madrid"
                    autoComplete="off"
                    spellCheck={false}
                    aria-invalid={errors.timezone ? true : undefined}
                    aria-describedby={describedBy('timezone')}
                  />
                  {zones.length ? (
                    <datalist id={`${id}-zones`}>
                      {zones.map((z) => (
                        <option key={z} value={z} />
                      ))}
                    </datalist>
                  ) : null}
                  {fieldError('timezone')}
                </div>
                <ul className="week" aria-label="Opening hours by day">
                  {WEEKDAYS.map((day) => (
                    <DayRow
                      key={day}
                      day={day}
                      ranges={form.weekly[day]}
                      error={errors[`hours.${day}`]}
                      errorId={`${id}-hours-${day}-error`}
                      onChange={(ranges) => changeDay(day, ranges)}
                    />
                  ))}
                </ul>
              </>
            )}
          </Section>
        ) : null}

        {has('offlineMessage') ? (
          <Section title="When nobody can answer">
            <div className="field">
              <label htmlFor={`${id}-offline`}>
                Offline message <span className="muted">(optional)</span>
              </label>
              <textarea
                id={`${id}-offline`}
                rows={3}
                maxLength={LIMITS.offlineMessage}
                value={form.offlineMessage}
                onChange={(e) => change({ offlineMessage: e.target.value })}
                aria-invalid={errors.offlineMessage ? true : undefined}
                aria-describedby={describedBy('offlineMessage', `${id}-offline-hint`)}
                placeholder="We're away right now. Leave a message and we'll reply by e-mail within one working day."
              />
              <span id={`${id}-offline-hint`} className="field__hint">
                Shown in the widget outside business hours or when no agent is available. {form.offlineMessage.length}/{LIMITS.offlineMessage}
              </span>
              {fieldError('offlineMessage')}
            </div>
          </Section>
        ) : null}

        {has('ratingsEnabled') ? (
          <Section title="Ratings">
            <label className="check">
              <input type="checkbox" checked={form.ratingsEnabled} onChange={(e) => change({ ratingsEnabled: e.target.checked })} />
              <span>Customers can rate a chat once it is closed</span>
            </label>
          </Section>
        ) : null}
      </fieldset>

      {serverError ? (
        <p className="form__error" role="alert" data-testid="settings-error">
          {serverError}
        </p>
      ) : null}
      {Object.keys(errors).length ? (
        <p className="form__error" role="alert">
          Some values need fixing: see the fields marked above.
        </p>
      ) : null}
      {canEdit ? (
        <div className="settings__actions">
          <button type="submit" className="btn btn--primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save settings'}
          </button>
          <span className="muted small" role="status" data-testid="settings-status">
            {status}
          </span>
        </div>
      ) : null}
    </form>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  const id = useId();
  return (
    <section className="settings__section" aria-labelledby={id}>
      <h2 id={id} className="settings__title">
        {title}
      </h2>
      {children}
    </section>
  );
}

type DayProps = {
  day: Weekday;
  ranges: FormState['weekly'][Weekday];
  error: string | undefined;
  errorId: string;
  onChange: (ranges: FormState['weekly'][Weekday]) => void;
};

function DayRow({ day, ranges, error, errorId, onChange }: DayProps) {
  const name = DAY_NAMES[day];
  const add = () => {
    const last = ranges[ranges.length - 1];
    // After the last range when there is room, else office hours.
    const start = last && last.end < '23:00' ? last.end : DEFAULT_RANGE[0];
    const end = last && last.end < '23:00' ? '23:59' : DEFAULT_RANGE[1];
    onChange([...ranges, { key: rangeKey(), start, end }]);
  };
  return (
    <li className="day" data-testid={`hours-${day}`}>
      <span className="day__name">{name}</span>
      <div className="day__ranges">
        {ranges.length === 0 ? <span className="muted small day__closed">Closed</span> : null}
        {ranges.map((r, i) => (
          <div key={r.key} className="range">
            <input
              type="time"
              aria-label={`${name} range ${i + 1} opens`}
              value={r.start}
              onChange={(e) => onChange(ranges.map((x) => (x.key === r.key ? { ...x, start: e.target.value } : x)))}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? errorId : undefined}
            />
            <span aria-hidden="true">–</span>
            <input
              type="time"
              aria-label={`${name} range ${i + 1} closes`}
              value={r.end}
              onChange={(e) => onChange(ranges.map((x) => (x.key === r.key ? { ...x, end: e.target.value } : x)))}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? errorId : undefined}
            />
            <button
              type="button"
              className="icon-button"
              aria-label={`Remove ${name} range ${i + 1}`}
              onClick={() => onChange(ranges.filter((x) => x.key !== r.key))}
            >
              ×
            </button>
          </div>
        ))}
        {error ? (
          <span id={errorId} className="field__error">
            {error}
          </span>
        ) : null}
      </div>
      <button type="button" className="btn btn--ghost btn--small day__add" onClick={add} aria-label={`Add a range on ${name}`}>
        + Add
      </button>
    </li>
  );
}
