import { useEffect, useId, useMemo, useRef, type KeyboardEvent } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Report } from '../chat/protocol';
import {
  AXIS_STEPS,
  axisRange,
  axisTick,
  bucketLabel,
  bucketSeconds,
  chartData,
  formatValue,
  maxOf,
  tickLabel,
  xAxisLabel,
  type ChartData,
  type ChartSpec,
} from '../chat/reports';
import '../reports.css';

const HEIGHT = 250;

type Props = { spec: ChartSpec; report: Report };

/**
 * One chart of the Reports page, drawn by uPlot (a canvas): the report's
 * figures exactly (`chartData`), nulls as gaps, UTC ticks, titled axes with
 * units, a legend, and a tooltip with the bucket's numbers on hover (or with
 * the arrow keys once focused; a screen reader hears them, and the page's
 * table has them all). The figure carries what it plots in `data-plotted`.
 */
export function ReportChart({ spec, report }: Props) {
  const id = useId();
  const hostRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const liveRef = useRef<HTMLParagraphElement>(null);
  const data = useMemo(() => chartData(report, spec), [report, spec]);

  useEffect(() => {
    const host = hostRef.current;
    if (!host) return;
    const plot = new uPlot(chartOptions(spec, report, data, host.clientWidth || 600), [data.x, ...data.series], host);
    plotRef.current = plot;
    const observer = new ResizeObserver(() => {
      const width = host.clientWidth;
      if (width > 0 && width !== plot.width) plot.setSize({ width, height: HEIGHT });
    });
    observer.observe(host);
    return () => {
      observer.disconnect();
      plot.destroy();
      if (plotRef.current === plot) plotRef.current = null;
    };
  }, [spec, report, data]);

  // The keyboard moves the cursor from bucket to bucket (the tooltip follows).
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const plot = plotRef.current;
    const n = data.x.length;
    if (!plot || n === 0) return;
    const current = plot.cursor.idx ?? null;
    let next: number;
    if (event.key === 'ArrowRight') next = current === null ? 0 : Math.min(n - 1, current + 1);
    else if (event.key === 'ArrowLeft') next = current === null ? n - 1 : Math.max(0, current - 1);
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = n - 1;
    else if (event.key === 'Escape') {
      hideCursor(plot);
      return;
    } else return;
    event.preventDefault();
    plot.setCursor({ left: plot.valToPos(data.x[next], 'x'), top: plot.over.clientHeight / 2 });
    if (liveRef.current) liveRef.current.textContent = describeBucket(spec, report, data, next);
  };

  const plotted = useMemo(
    () => JSON.stringify({ x: data.x, series: Object.fromEntries(spec.series.map((s, i) => [s.field, data.series[i]])) }),
    [data, spec],
  );

  return (
    <figure
      className="report-chart"
      data-testid="report-chart"
      data-chart={spec.id}
      data-bucket={report.bucket}
      data-plotted={plotted}
      aria-labelledby={`${id}-title`}
    >
      <figcaption className="report-chart__caption">
        <h3 id={`${id}-title`} className="report-chart__title">
          {spec.title}
        </h3>
        <p id={`${id}-desc`} className="report-chart__desc muted small">
          {spec.description}
        </p>
      </figcaption>
      <div
        ref={hostRef}
        className="report-chart__plot"
        tabIndex={0}
        role="group"
        aria-roledescription="chart"
        aria-label={`${spec.title}: use the left and right arrow keys to read each ${report.bucket}'s figures`}
        aria-describedby={`${id}-desc`}
        onKeyDown={onKeyDown}
        onBlur={() => plotRef.current && hideCursor(plotRef.current)}
      />
      <p className="visually-hidden" data-testid="chart-axes">
        {axesText(spec, report)}
      </p>
      <p ref={liveRef} className="visually-hidden" aria-live="polite" />
    </figure>
  );
}

/** The axes (drawn on the canvas) in words: "Horizontal axis: Hour (UTC). Vertical axis: Chats." */
function axesText(spec: ChartSpec, report: Report): string {
  const left = spec.axes.filter((a) => a.side === 'left').map((a) => a.label);
  const right = spec.axes.filter((a) => a.side === 'right').map((a) => a.label);
  return [
    `Horizontal axis: ${xAxisLabel(report.bucket)}.`,
    `Vertical axis: ${left.join(', ')}.`,
    ...(right.length ? [`Right axis: ${right.join(', ')}.`] : []),
  ].join(' ');
}

function hideCursor(plot: uPlot) {
  plot.setCursor({ left: -10, top: -10 });
}

/** "Nov 30, 14:00–15:00 UTC: Opened 3, Assigned 2." */
function describeBucket(spec: ChartSpec, report: Report, data: ChartData, idx: number): string {
  const values = spec.series.map((s, i) => `${s.label} ${formatValue(data.series[i][idx], s.kind)}`).join(', ');
  return `${bucketLabel(data.x[idx], report.bucket)}: ${values}.`;
}

function chartOptions(spec: ChartSpec, report: Report, data: ChartData, width: number): uPlot.Options {
  const step = bucketSeconds(report.bucket);
  const first = data.x[0] ?? 0;
  const last = data.x[data.x.length - 1] ?? first;
  const color = (seriesIdx: number) => spec.series[seriesIdx - 1]?.color ?? 'transparent';
  return {
    width,
    height: HEIGHT,
    // Half a bucket of room on each side, so that the first and last bars are whole.
    scales: {
      x: { time: false, range: () => [first - step / 2, last + step / 2] },
      ...Object.fromEntries(
        spec.axes.map((axis) => {
          const max = maxOf(data.series.filter((_, i) => spec.series[i].kind === axis.kind));
          return [axis.kind, { range: () => axisRange(axis.kind, max) }];
        }),
      ),
    },
    axes: [
      {
        scale: 'x',
        label: xAxisLabel(report.bucket),
        // Ticks on bucket starts only, as many as fit.
        splits: (u) => {
          const room = Math.max(1, Math.floor(u.bbox.width / devicePixelRatio / 64));
          const every = Math.max(1, Math.ceil(data.x.length / room));
          return data.x.filter((_, i) => (data.x.length - 1 - i) % every === 0);
        },
        values: (_u, splits) => splits.map((s) => tickLabel(s, report.bucket)),
      },
      ...spec.axes.map(
        (axis): uPlot.Axis => ({
          scale: axis.kind,
          label: axis.label,
          side: axis.side === 'left' ? 3 : 1,
          size: 64,
          incrs: AXIS_STEPS[axis.kind],
          grid: { show: axis.side === 'left', stroke: '#e6eaf1', width: 1 },
          values: (_u, splits) => splits.map((v) => axisTick(v, axis.kind)),
        }),
      ),
    ],
    series: [
      { label: xAxisLabel(report.bucket), value: (_u, v) => (v === null ? '—' : bucketLabel(v, report.bucket)) },
      ...spec.series.map(
        (s): uPlot.Series => ({
          label: s.label,
          scale: s.kind,
          stroke: s.color,
          width: s.style === 'line' ? 2 : 1,
          fill: s.style === 'bars' ? `${s.color}cc` : undefined,
          paths: s.style === 'bars' ? uPlot.paths.bars?.({ size: [0.6, 48] }) : undefined,
          // Every point shown: a lone figure between two gaps is a point, not a line.
          points: s.style === 'line' ? { show: true, size: 6, fill: s.color } : { show: false },
          spanGaps: false,
          value: (_u, v) => formatValue(v, s.kind),
        }),
      ),
    ],
    // Names and colours; the numbers are in the tooltip.
    legend: {
      live: false,
      // Solid swatches (uPlot's default is the line's outline); every key given, the object replaces the defaults.
      markers: { show: true, width: 0, dash: 'solid', stroke: (_u, i) => color(i), fill: (_u, i) => color(i) },
    },
    cursor: { drag: { x: false, y: false }, points: { size: 9 } },
    plugins: [tooltipPlugin(spec, report)],
  };
}

/**
 * The numbers of the bucket under the cursor, next to it: the bucket's
 * time, then each series' value in words (`data-value` holds the figure
 * as the server sent it, `null` for a gap).
 */
function tooltipPlugin(spec: ChartSpec, report: Report): uPlot.Plugin {
  let tip: HTMLDivElement | null = null;
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement('div');
        tip.className = 'report-tooltip';
        tip.dataset.testid = 'chart-tooltip';
        tip.setAttribute('aria-hidden', 'true');
        tip.hidden = true;
        u.over.appendChild(tip);
      },
      setCursor: (u) => {
        if (!tip) return;
        const idx = u.cursor.idx;
        if (idx === null || idx === undefined || (u.cursor.left ?? -1) < 0) {
          tip.hidden = true;
          return;
        }
        const x = u.data[0][idx];
        tip.replaceChildren();
        tip.dataset.index = String(idx);
        tip.dataset.start = new Date(x * 1000).toISOString();
        const head = document.createElement('div');
        head.className = 'report-tooltip__head';
        head.textContent = bucketLabel(x, report.bucket);
        tip.appendChild(head);
        spec.series.forEach((s, i) => {
          const value = u.data[i + 1][idx] ?? null;
          const row = document.createElement('div');
          row.className = 'report-tooltip__row';
          row.dataset.series = s.field;
          row.dataset.value = value === null ? 'null' : String(value);
          const swatch = document.createElement('span');
          swatch.className = 'report-tooltip__swatch';
          swatch.style.background = s.color;
          const label = document.createElement('span');
          label.textContent = s.label;
          const val = document.createElement('strong');
          val.className = 'report-tooltip__value';
          val.textContent = formatValue(value, s.kind);
          row.append(swatch, label, val);
          tip?.appendChild(row);
        });
        tip.hidden = false;
        // Beside the cursor, on the side with room.
        const left = u.valToPos(x, 'x');
        const width = u.over.clientWidth;
        const flip = left > width / 2;
        tip.style.left = flip ? '' : `${left + 12}px`;
        tip.style.right = flip ? `${width - left + 12}px` : '';
        tip.style.top = '8px';
      },
    },
  };
}
