// Custom events a backend publishes through the server API
// (`POST /api/server/publish`, PROTOCOL §9) and the staff pages show as
// toasts: by convention, those whose name starts with `notify.`. Their
// `data` may say how: `{ title?, message?, level? }`; anything else shows
// the event's name and its data as shortened JSON. Pure, unit-tested in
// test/notify.test.ts.

export const NOTIFY_PREFIX = 'notify.';

export type ToastLevel = 'info' | 'success' | 'warning' | 'error';
export const TOAST_LEVELS: readonly ToastLevel[] = ['info', 'success', 'warning', 'error'];

/** What a toast shows for a `notify.` event. */
export type NotifyContent = { title: string; body?: string; level: ToastLevel };

/** Longest title and body shown, in characters (the server allows 64 KiB of data). */
export const TITLE_MAX = 120;
export const BODY_MAX = 240;

export function isNotifyEvent(event: unknown): event is string {
  return typeof event === 'string' && event.startsWith(NOTIFY_PREFIX) && event.length > NOTIFY_PREFIX.length;
}

/** `text` cut to `max` characters (code points, so no half emoji), with an ellipsis when cut. */
export function shorten(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** `data` as compact JSON, shortened; "" for undefined (no data). */
export function shortJson(data: unknown, max = BODY_MAX): string {
  if (data === undefined) return '';
  let text: string;
  try {
    text = JSON.stringify(data) ?? String(data);
  } catch {
    text = String(data);
  }
  return shorten(text, max);
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

/**
 * The toast for event `event` with `data`: title and message from the data
 * when it has either (level from the data when it is one of the four, else
 * info); otherwise the event's name as title and the data as JSON.
 */
export function notifyContent(event: string, data: unknown): NotifyContent {
  const d = data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : null;
  const level = d && TOAST_LEVELS.includes(d.level as ToastLevel) ? (d.level as ToastLevel) : 'info';
  if (d && (nonEmpty(d.title) || nonEmpty(d.message))) {
    const title = nonEmpty(d.title) ? d.title.trim() : event;
    return {
      title: shorten(title, TITLE_MAX),
      ...(nonEmpty(d.message) ? { body: shorten(d.message.trim(), BODY_MAX) } : {}),
      level,
    };
  }
  const json = shortJson(data);
  return { title: shorten(event, TITLE_MAX), ...(json ? { body: json } : {}), level };
}
