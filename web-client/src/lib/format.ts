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
