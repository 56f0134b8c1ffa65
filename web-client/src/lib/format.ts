// Small display helpers shared by the pages.

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** 42 -> "42 s", 200 -> "3 min 20 s", 4000 -> "1 h 6 min", null -> "—". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** "just now", "4 min ago", from an RFC 3339 time and the current time. */
export function formatSince(iso: string, now: number = Date.now()): string {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 45) return 'just now';
  return `${formatDuration(s < 3600 ? Math.round(s / 60) * 60 : s)} ago`;
}

export function displayName(user: { name: string | null; id: string } | null | undefined, fallback = 'Someone'): string {
  if (!user) return fallback;
  return user.name?.trim() || user.id || fallback;
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] ?? '?').slice(0, 2);
  return letters.toUpperCase();
}

/** "just arrived", "waiting 4 min", from when a session was opened. */
export function formatWaiting(iso: string, now: number = Date.now()): string {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  return s < 45 ? 'just arrived' : `waiting ${formatDuration(s < 3600 ? Math.round(s / 60) * 60 : s)}`;
}

const UNITS = ['KB', 'MB', 'GB', 'TB'];

/**
 * A size for people, in powers of 1024 (so the server's default limit of
 * 10485760 bytes reads "10 MB"): 1 -> "1 byte", 900 -> "900 bytes",
 * 1536 -> "1.5 KB", 2516582 -> "2.4 MB", 52428800 -> "50 MB" (one decimal
 * under 10, none from 10 up).
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1024) return bytes === 1 ? '1 byte' : `${Math.round(bytes)} bytes`;
  let value = bytes / 1024;
  let unit = 0;
  // Rounding may carry into the next unit: 1023.96 KB is "1 MB", not "1024 KB".
  while (unit < UNITS.length - 1 && roundSize(value) >= 1024) {
    value /= 1024;
    unit += 1;
  }
  return `${roundSize(value)} ${UNITS[unit]}`;
}

function roundSize(value: number): number {
  return value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
}

/** A date and time for lists ("30 Nov 2026, 16:42" in the reader's locale); "" for an invalid time. */
export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}
