import { describe, expect, it } from 'vitest';
import type { Report, ReportBucket } from '../src/chat/protocol';
import {
  REPORT_CHARTS,
  axisRange,
  axisTick,
  bucketLabel,
  chartData,
  formatSeconds,
  formatValue,
  maxOf,
  rangeLabel,
  reportTotals,
  tickLabel,
  xAxisLabel,
} from '../src/chat/reports';

function bucket(start: string, patch: Partial<ReportBucket> = {}): ReportBucket {
  return {
    start,
    opened: 0,
    assigned: 0,
    closed: 0,
    messages: 0,
    avgWaitSeconds: null,
    avgFirstResponseSeconds: null,
    ratings: 0,
    avgRating: null,
    ...patch,
  };
}

const hourly: Report = {
  bucket: 'hour',
  from: '2026-11-30T08:00:00.000Z',
  to: '2026-11-30T11:00:00.000Z',
  buckets: [
    bucket('2026-11-30T08:00:00.000Z', { opened: 3, assigned: 2, messages: 17, avgWaitSeconds: 95.512, avgFirstResponseSeconds: 12.25 }),
    bucket('2026-11-30T09:00:00.000Z'),
    bucket('2026-11-30T10:00:00.000Z', { opened: 1, assigned: 2, closed: 4, messages: 5, avgWaitSeconds: 30, ratings: 3, avgRating: 4.67 }),
  ],
};

const chart = (id: string) => {
  const spec = REPORT_CHARTS.find((c) => c.id === id);
  if (!spec) throw new Error(id);
  return spec;
};

describe('bucket -> chart series', () => {
  it('puts the bucket starts on x, in Unix seconds, in the order of the report', () => {
    const { x } = chartData(hourly, chart('sessions'));
    expect(x).toEqual([Date.UTC(2026, 10, 30, 8) / 1000, Date.UTC(2026, 10, 30, 9) / 1000, Date.UTC(2026, 10, 30, 10) / 1000]);
  });

  it('plots the REST figures exactly, one series per field of the chart', () => {
    expect(chartData(hourly, chart('sessions')).series).toEqual([
      [3, 0, 1],
      [2, 0, 2],
    ]);
    expect(chartData(hourly, chart('messages')).series).toEqual([[17, 0, 5]]);
    expect(chartData(hourly, chart('ratings')).series).toEqual([
      [0, 0, 3],
      [null, null, 4.67],
    ]);
  });

  it('keeps nulls as nulls (gaps), never zeros, and takes anything else that is not a number as a gap', () => {
    expect(chartData(hourly, chart('times')).series).toEqual([
      [95.512, null, 30],
      [12.25, null, null],
    ]);
    const odd = { ...hourly, buckets: [bucket('2026-11-30T08:00:00.000Z', { avgRating: 'x' as unknown as number }), bucket('2026-11-30T09:00:00.000Z', { avgRating: Number.NaN })] };
    expect(chartData(odd, chart('ratings')).series[1]).toEqual([null, null]);
  });

  it('covers every figure the brief asks for: arrivals, assignments, wait, first response, messages, ratings and their average', () => {
    const fields = REPORT_CHARTS.flatMap((c) => c.series.map((s) => s.field));
    expect(fields).toEqual(['opened', 'assigned', 'avgWaitSeconds', 'avgFirstResponseSeconds', 'messages', 'ratings', 'avgRating']);
    for (const c of REPORT_CHARTS) {
      for (const s of c.series) expect(c.axes.some((a) => a.kind === s.kind)).toBe(true);
    }
  });

  it('is empty for an empty report', () => {
    expect(chartData({ ...hourly, buckets: [] }, chart('sessions'))).toEqual({ x: [], series: [[], []] });
  });

  it('sums the counts for the totals', () => {
    expect(reportTotals(hourly)).toEqual({ opened: 4, assigned: 4, closed: 4, messages: 22, ratings: 3 });
  });
});

describe('labels in UTC', () => {
  const t = Date.UTC(2026, 10, 30, 14) / 1000;

  it('ticks hours and days', () => {
    expect(tickLabel(t, 'hour')).toBe('14:00');
    expect(tickLabel(Date.UTC(2026, 10, 30, 23) / 1000, 'hour')).toBe('23:00');
    expect(tickLabel(Date.UTC(2026, 11, 1) / 1000, 'day')).toBe('Dec 1');
  });

  it('names a bucket in full', () => {
    expect(bucketLabel(t, 'hour')).toBe('Nov 30, 14:00–15:00 UTC');
    expect(bucketLabel(Date.UTC(2026, 10, 30, 23) / 1000, 'hour')).toBe('Nov 30, 23:00–00:00 UTC');
    expect(bucketLabel(Date.UTC(2026, 10, 30) / 1000, 'day')).toBe('Mon, Nov 30 (UTC)');
  });

  it('names the range, the end being exclusive', () => {
    expect(rangeLabel(hourly)).toBe('Nov 30, 08:00 – Nov 30, 11:00 UTC');
    expect(rangeLabel({ bucket: 'day', from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' })).toBe('Nov 1 – Nov 30, 2026 (UTC)');
    expect(rangeLabel({ bucket: 'day', from: 'garbage', to: '2026-12-01T00:00:00.000Z' })).toBe('');
  });

  it('titles the x axis with its unit', () => {
    expect(xAxisLabel('hour')).toBe('Hour (UTC)');
    expect(xAxisLabel('day')).toBe('Day (UTC)');
  });
});

describe('values in words', () => {
  it('reads counts, durations and scores; a gap is a dash', () => {
    expect(formatValue(12, 'count')).toBe('12');
    expect(formatValue(0, 'count')).toBe('0');
    expect(formatValue(95.512, 'seconds')).toBe('1 min 36 s');
    expect(formatValue(4.67, 'stars')).toBe('4.67 ★');
    expect(formatValue(null, 'seconds')).toBe('—');
    expect(formatValue(undefined, 'stars')).toBe('—');
  });

  it('keeps short durations precise and long ones short', () => {
    expect(formatSeconds(0.4)).toBe('0.4 s');
    expect(formatSeconds(9.96)).toBe('10 s');
    expect(formatSeconds(42)).toBe('42 s');
    expect(formatSeconds(120)).toBe('2 min');
    expect(formatSeconds(4000)).toBe('1 h 7 min');
    expect(formatSeconds(7200)).toBe('2 h');
  });

  it('ticks the y axis in the unit of its figures', () => {
    expect(axisTick(0, 'seconds')).toBe('0');
    expect(axisTick(30, 'seconds')).toBe('30 s');
    expect(axisTick(300, 'seconds')).toBe('5 min');
    expect(axisTick(5400, 'seconds')).toBe('1.5 h');
    expect(axisTick(20, 'count')).toBe('20');
    expect(axisTick(4.5, 'stars')).toBe('4.5');
  });
});

describe('y ranges', () => {
  it('start at zero with room above the highest figure, on a round step', () => {
    expect(axisRange('count', 17)).toEqual([0, 20]);
    expect(axisRange('count', 3)).toEqual([0, 4]);
    expect(axisRange('seconds', 95.512)).toEqual([0, 120]);
  });

  it('are 0..5 for scores and a small default when there is nothing', () => {
    expect(axisRange('stars', 4.67)).toEqual([0, 5]);
    expect(axisRange('count', 0)).toEqual([0, 1]);
    expect(axisRange('count', null)).toEqual([0, 1]);
    expect(axisRange('seconds', null)).toEqual([0, 60]);
  });

  it('find the highest figure across series, skipping gaps', () => {
    expect(maxOf([[1, null, 3], [null, 7]])).toBe(7);
    expect(maxOf([[null], []])).toBe(null);
  });
});
