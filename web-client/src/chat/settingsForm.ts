// The admin's settings form and the TenantSettings it edits (PROTOCOL §3,
// §7): the conversion both ways, the checks worth making before a round
// trip, and the PATCH body (only what changed, so two admins editing
// different fields do not undo each other). Pure: unit-tested alone
// (test/settingsForm.test.ts). The server stays the judge (an unknown time
// zone is only known there); its `invalid_payload` message is shown as is.

import { WEEKDAYS, type BusinessHours, type RoutingMode, type TenantSettings, type Weekday } from './protocol';

export type HoursRange = { key: string; start: string; end: string };

export type SettingsForm = {
  routing: RoutingMode;
  defaultMaxChats: string;
  reassignNever: boolean;
  reassignAfterOfflineSeconds: string;
  hoursEnabled: boolean;
  timezone: string;
  weekly: Record<Weekday, HoursRange[]>;
  offlineMessage: string;
  ratingsEnabled: boolean;
};

export type SettingsField =
  | 'defaultMaxChats'
  | 'reassignAfterOfflineSeconds'
  | 'timezone'
  | 'offlineMessage'
  | `hours.${Weekday}`;

export type SettingsErrors = Partial<Record<SettingsField, string>>;

export const LIMITS = {
  defaultMaxChats: { min: 1, max: 100 },
  reassignAfterOfflineSeconds: { min: 0, max: 86_400 },
  offlineMessage: 1000,
} as const;

/** Suggested when business hours are switched on from nothing. */
export const DEFAULT_RANGE: [string, string] = ['09:00', '17:00'];

let nextKey = 0;
/** A stable React key for a range row (rows are added and removed in place). */
export function rangeKey(): string {
  nextKey += 1;
  return `r${nextKey}`;
}

function emptyWeek(): Record<Weekday, HoursRange[]> {
  return Object.fromEntries(WEEKDAYS.map((d) => [d, [] as HoursRange[]])) as unknown as Record<Weekday, HoursRange[]>;
}

/** The form showing `settings`; a field a server leaves out gets a harmless default. */
export function settingsToForm(settings: Partial<TenantSettings>, defaultTimezone = 'UTC'): SettingsForm {
  const hours = settings.businessHours ?? null;
  const weekly = emptyWeek();
  if (hours) {
    for (const day of WEEKDAYS) {
      weekly[day] = (hours.weekly?.[day] ?? []).map(([start, end]) => ({ key: rangeKey(), start, end }));
    }
  } else {
    // Offered when the admin turns hours on: weekdays, office hours.
    for (const day of WEEKDAYS.slice(0, 5)) weekly[day] = [{ key: rangeKey(), start: DEFAULT_RANGE[0], end: DEFAULT_RANGE[1] }];
  }
  const reassign = settings.reassignAfterOfflineSeconds;
  return {
    routing: settings.routing === 'auto' ? 'auto' : 'manual',
    defaultMaxChats: String(settings.defaultMaxChats ?? 5),
    reassignNever: reassign === null,
    reassignAfterOfflineSeconds: reassign === null || reassign === undefined ? '300' : String(reassign),
    hoursEnabled: hours !== null,
    timezone: hours?.timezone ?? defaultTimezone,
    weekly,
    offlineMessage: settings.offlineMessage ?? '',
    ratingsEnabled: settings.ratingsEnabled ?? true,
  };
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

/** An integer within [min, max] written in `text`, or null. */
function parseWhole(text: string, min: number, max: number): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= min && n <= max ? n : null;
}

/** Business hours with closed days left out and each day's ranges by start. */
export function normalizeHours(hours: BusinessHours | null | undefined): BusinessHours | null {
  if (!hours) return null;
  const weekly: BusinessHours['weekly'] = {};
  for (const day of WEEKDAYS) {
    const ranges = hours.weekly?.[day] ?? [];
    if (ranges.length) weekly[day] = [...ranges].map(([s, e]) => [s, e] as [string, string]).sort((a, b) => a[0].localeCompare(b[0]));
  }
  return { timezone: hours.timezone, weekly };
}

/** The settings the form describes, and what is wrong with it (nothing: `{}`). */
export function formToSettings(form: SettingsForm): { settings: TenantSettings; errors: SettingsErrors } {
  const errors: SettingsErrors = {};
  const { min: maxMin, max: maxMax } = LIMITS.defaultMaxChats;
  const defaultMaxChats = parseWhole(form.defaultMaxChats, maxMin, maxMax);
  if (defaultMaxChats === null) errors.defaultMaxChats = `A whole number from ${maxMin} to ${maxMax}.`;

  let reassign: number | null = null;
  if (!form.reassignNever) {
    const { min, max } = LIMITS.reassignAfterOfflineSeconds;
    reassign = parseWhole(form.reassignAfterOfflineSeconds, min, max);
    if (reassign === null) errors.reassignAfterOfflineSeconds = `A whole number of seconds from ${min} to ${max}, or "never".`;
  }

  let businessHours: BusinessHours | null = null;
  if (form.hoursEnabled) {
    const timezone = form.timezone.trim();
    if (!timezone) errors.timezone = 'A time zone, e.g. Europe/Madrid.';
    const weekly: BusinessHours['weekly'] = {};
    for (const day of WEEKDAYS) {
      const ranges = form.weekly[day] ?? [];
      const bad = ranges.find((r) => !HHMM.test(r.start) || !HHMM.test(r.end));
      if (bad) errors[`hours.${day}`] = 'Times are HH:MM, from 00:00 to 23:59.';
      else if (ranges.some((r) => r.start >= r.end)) errors[`hours.${day}`] = 'Each range must end after it starts.';
      if (ranges.length) weekly[day] = ranges.map((r) => [r.start, r.end] as [string, string]);
    }
    businessHours = normalizeHours({ timezone, weekly });
  }

  const message = form.offlineMessage.trim();
  if (message.length > LIMITS.offlineMessage) errors.offlineMessage = `At most ${LIMITS.offlineMessage} characters.`;

  return {
    settings: {
      routing: form.routing,
      defaultMaxChats: defaultMaxChats ?? 0,
      reassignAfterOfflineSeconds: reassign,
      businessHours,
      offlineMessage: message || null,
      ratingsEnabled: form.ratingsEnabled,
    },
    errors,
  };
}

function sameValue(key: keyof TenantSettings, a: unknown, b: unknown): boolean {
  if (key === 'businessHours') {
    return JSON.stringify(normalizeHours(a as BusinessHours | null)) === JSON.stringify(normalizeHours(b as BusinessHours | null));
  }
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * The PATCH body: the fields of `next` that differ from `current`, among
 * those the server sent (a server that does not know a field is not told
 * about it: an unknown key is `invalid_payload`).
 */
export function settingsPatch(current: Partial<TenantSettings>, next: TenantSettings): Partial<TenantSettings> {
  const patch: Partial<TenantSettings> = {};
  for (const key of Object.keys(next) as (keyof TenantSettings)[]) {
    if (!(key in current)) continue;
    if (!sameValue(key, current[key], next[key])) (patch as Record<string, unknown>)[key] = next[key];
  }
  return patch;
}
