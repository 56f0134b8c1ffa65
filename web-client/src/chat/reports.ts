// The pure half of the Reports page (PROTOCOL §10, `GET /api/chat/reports`):
// which charts it draws and from which bucket fields, the series handed to
// the chart library (the REST figures as they are: a null stays a null, a
// gap in the line), and every label, tick and value in words. No React, no
// chart library: unit-tested alone (test/reports.test.ts).

import type { Report, ReportBucket, ReportBucketSize } from './protocol';

/** The figures of a bucket a chart can plot. */
export type ReportField = Exclude<keyof ReportBucket, 'start'>;

/** How a figure reads: a count, a duration in seconds, a mean score out of 5. */
export type ValueKind = 'count' | 'seconds' | 'stars';

export type SeriesSpec = {
  field: ReportField;
  label: string;
  kind: ValueKind;
  /** Bars for counts that stand alone, lines (with points) for the rest. */
  style: 'bars' | 'line';
  color: string;
};

export type AxisSpec = { kind: ValueKind; label: string; side: 'left' | 'right' };

export type ChartSpec = {
  id: string;
  title: string;
  /** One sentence on what the chart shows, for its caption and screen readers. */
  description: string;
  series: SeriesSpec[];
  /** One axis per kind its series use, in the order of first use. */
  axes: AxisSpec[];
};

const BLUE = '#2554c7';
const GREEN = '#1f8a4c';
const ORANGE = '#c76a12';
const PURPLE = '#7b3fbf';
const GOLD = '#d49b00';

/** The Reports page's charts, in page order; the same for both ranges. */
export const REPORT_CHARTS: readonly ChartSpec[] = [
  {
    id: 'sessions',
    title: 'Queue arrivals and assignments',
    description: 'Chats opened (arriving in the queue) and chats first assigned to an agent.',
    series: [
      { field: 'opened', label: 'Opened', kind: 'count', style: 'line', color: BLUE },
      { field: 'assigned', label: 'Assigned', kind: 'count', style: 'line', color: GREEN },
    ],
    axes: [{ kind: 'count', label: 'Chats', side: 'left' }],
  },
  {
    id: 'times',
    title: 'Average wait and first response',
    description:
      'Mean wait in the queue of the chats assigned in each period, and mean time to the first agent answer of the chats first answered in it. No point: nothing to average.',
    series: [
      { field: 'avgWaitSeconds', label: 'Average wait', kind: 'seconds', style: 'line', color: ORANGE },
      { field: 'avgFirstResponseSeconds', label: 'Average first response', kind: 'seconds', style: 'line', color: PURPLE },
    ],
    axes: [{ kind: 'seconds', label: 'Time', side: 'left' }],
  },
  {
    id: 'messages',
    title: 'Messages',
    description: 'Messages written by customers, agents and bots (private notes are not counted).',
    series: [{ field: 'messages', label: 'Messages', kind: 'count', style: 'bars', color: BLUE }],
    axes: [{ kind: 'count', label: 'Messages', side: 'left' }],
  },
  {
    id: 'ratings',
    title: 'Ratings',
    description: 'Ratings customers gave (bars, left axis) and their mean score out of 5 (line, right axis).',
    series: [
      { field: 'ratings', label: 'Ratings', kind: 'count', style: 'bars', color: '#8fa8e6' },
      { field: 'avgRating', label: 'Average rating', kind: 'stars', style: 'line', color: GOLD },
    ],
    axes: [
      { kind: 'count', label: 'Ratings', side: 'left' },
      { kind: 'stars', label: 'Average (★ out of 5)', side: 'right' },
    ],
  },
];

/** What a chart is given: bucket starts in Unix seconds, and one array per series. */
export type ChartData = { x: number[]; series: (number | null)[][] };

/**
 * The chart's data: the report's figures exactly, in bucket order (oldest
 * first, as the server sends them). A null (nothing to average) stays null,
 * drawn as a gap; anything that is not a finite number is taken as null too.
 */
export function chartData(report: Report, chart: ChartSpec): ChartData {
  return {
    x: report.buckets.map((b) => Date.parse(b.start) / 1000),
    series: chart.series.map((s) => report.buckets.map((b) => figure(b, s.field))),
  };
}

/** One figure of a bucket, or null when absent. */
export function figure(bucket: ReportBucket, field: ReportField): number | null {
  const v = bucket[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The length of a bucket in seconds. */
export function bucketSeconds(bucket: ReportBucketSize): number {
  return bucket === 'hour' ? 3600 : 86_400;
}

/** Sums of the counts over the range, for the page's summary ("42 chats opened"). */
export function reportTotals(report: Report): { opened: number; assigned: number; closed: number; messages: number; ratings: number } {
  const totals = { opened: 0, assigned: 0, closed: 0, messages: 0, ratings: 0 };
  for (const b of report.buckets) {
    for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += figure(b, key) ?? 0;
  }
  return totals;
}

// ---- words ------------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const pad = (n: number) => String(n).padStart(2, '0');

/** Buckets are UTC hours and days: so is every time the page shows. */
function utc(seconds: number) {
  const d = new Date(seconds * 1000);
  return {
    year: d.getUTCFullYear(),
    month: MONTHS[d.getUTCMonth()],
    date: d.getUTCDate(),
    weekday: DAYS[d.getUTCDay()],
    time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`,
  };
}

/** An x-axis tick: "14:00" for hours, "Nov 30" for days. */
export function tickLabel(seconds: number, bucket: ReportBucketSize): string {
  const t = utc(seconds);
  return bucket === 'hour' ? t.time : `${t.month} ${t.date}`;
}

/** A bucket in full, for the tooltip and the table: "Nov 30, 14:00–15:00 UTC", "Mon, Nov 30 (UTC)". */
export function bucketLabel(seconds: number, bucket: ReportBucketSize): string {
  const t = utc(seconds);
  if (bucket === 'day') return `${t.weekday}, ${t.month} ${t.date} (UTC)`;
  return `${t.month} ${t.date}, ${t.time}–${utc(seconds + 3600).time} UTC`;
}

/** The whole range: "Nov 29, 15:00 – Nov 30, 15:00 UTC" (hours), "Nov 1 – Nov 30, 2026 (UTC)" (days; `to` is exclusive). */
export function rangeLabel(report: Pick<Report, 'bucket' | 'from' | 'to'>): string {
  const from = Date.parse(report.from) / 1000;
  const to = Date.parse(report.to) / 1000;
  if (!Number.isFinite(from) || !Number.isFinite(to)) return '';
  const a = utc(from);
  if (report.bucket === 'hour') {
    const b = utc(to);
    return `${a.month} ${a.date}, ${a.time} – ${b.month} ${b.date}, ${b.time} UTC`;
  }
  const last = utc(to - 86_400);
  return `${a.month} ${a.date} – ${last.month} ${last.date}, ${last.year} (UTC)`;
}

/** The x axis's title. */
export function xAxisLabel(bucket: ReportBucketSize): string {
  return bucket === 'hour' ? 'Hour (UTC)' : 'Day (UTC)';
}

/**
 * A figure in words, for the tooltip: 12 -> "12", 95.512 s -> "1 min 36 s",
 * 4.67 -> "4.67 ★"; null -> "—" (nothing to average).
 */
export function formatValue(value: number | null | undefined, kind: ValueKind): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  switch (kind) {
    case 'count':
      return String(value);
    case 'stars':
      return `${value} ★`;
    case 'seconds':
      return formatSeconds(value);
  }
}

/** 0.4 -> "0.4 s", 42 -> "42 s", 95.5 -> "1 min 36 s", 4000 -> "1 h 7 min". */
export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  const m = Math.round(s / 60);
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

/** A y-axis tick: counts as they are, durations short ("30 s", "5 min", "1.5 h"), scores "4.5". */
export function axisTick(value: number, kind: ValueKind): string {
  if (kind !== 'seconds') return String(Math.round(value * 100) / 100);
  if (value === 0) return '0';
  if (Math.abs(value) < 60) return `${Math.round(value * 10) / 10} s`;
  if (Math.abs(value) < 3600) return `${Math.round((value / 60) * 10) / 10} min`;
  return `${Math.round((value / 3600) * 10) / 10} h`;
}

/** Tick steps for each kind, so that the y axis lands on round numbers of its unit. */
export const AXIS_STEPS: Record<ValueKind, number[]> = {
  count: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000],
  seconds: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400],
  stars: [0.5, 1, 2.5, 5],
};

/**
 * The y range of an axis: counts and durations from 0 (with room above the
 * highest value, and 0..1 when everything is 0 or missing), scores 0..5.
 */
export function axisRange(kind: ValueKind, max: number | null): [number, number] {
  if (kind === 'stars') return [0, 5];
  const top = max !== null && Number.isFinite(max) && max > 0 ? max : 0;
  if (top === 0) return [0, kind === 'seconds' ? 60 : 1];
  return [0, niceCeil(top * 1.1, AXIS_STEPS[kind])];
}

/** The smallest multiple of a step that covers `value` in at most ~5 steps. */
function niceCeil(value: number, steps: number[]): number {
  for (const step of steps) if (value / step <= 5) return Math.ceil(value / step) * step;
  const step = steps[steps.length - 1];
  return Math.ceil(value / step) * step;
}

/** The highest finite value of some series, or null. */
export function maxOf(series: readonly (readonly (number | null)[])[]): number | null {
  let max: number | null = null;
  for (const values of series) for (const v of values) if (v !== null && Number.isFinite(v) && (max === null || v > max)) max = v;
  return max;
}
