/**
 * A subscription's attempts over time (succeeded and failed per bucket, as bars) and their
 * latency (p50 and p95, as lines), drawn with uPlot: canvas, fast with thousands of points,
 * cursor read-outs for free. Loaded lazily, so its code stays out of the first page load.
 * The figure's label carries the totals for screen readers.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { StatsBucket } from '../api/types';

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function usePlot(make: (width: number) => uPlot | null, deps: unknown[]) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const plot = make(el.clientWidth || 600);
    if (!plot) return;
    el.appendChild(plot.root);
    const resize = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(() => plot.setSize({ width: el.clientWidth || 600, height: plot.height }));
    resize?.observe(el);
    return () => {
      resize?.disconnect();
      plot.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return ref;
}

const xs = (series: StatsBucket[]) => series.map((b) => Date.parse(b.start) / 1000);

function attemptsPlot(series: StatsBucket[], width: number): uPlot {
  const bars = uPlot.paths.bars?.({ size: [0.7, 40] });
  return new uPlot(
    {
      width,
      height: 180,
      legend: { live: true },
      scales: { x: { time: true } },
      axes: [{ stroke: cssVar('--muted', '#5b6577') }, { stroke: cssVar('--muted', '#5b6577'), label: 'attempts' }],
      series: [
        {},
        { label: 'Succeeded', stroke: cssVar('--good', '#15803d'), fill: cssVar('--good', '#15803d') + '99', paths: bars },
        { label: 'Failed', stroke: cssVar('--bad', '#b91c1c'), fill: cssVar('--bad', '#b91c1c') + 'cc', paths: bars },
      ],
    },
    [xs(series), series.map((b) => b.succeeded), series.map((b) => b.failed)],
    undefined,
  );
}

function latencyPlot(series: StatsBucket[], width: number): uPlot {
  return new uPlot(
    {
      width,
      height: 180,
      scales: { x: { time: true } },
      axes: [{ stroke: cssVar('--muted', '#5b6577') }, { stroke: cssVar('--muted', '#5b6577'), label: 'ms' }],
      series: [
        {},
        { label: 'p50 latency', stroke: cssVar('--accent', '#1d4ed8'), width: 2, spanGaps: false, points: { show: true, size: 4 } },
        { label: 'p95 latency', stroke: cssVar('--warn', '#92400e'), width: 2, dash: [6, 4], spanGaps: false, points: { show: true, size: 4 } },
      ],
    },
    [xs(series), series.map((b) => b.p50_ms ?? null), series.map((b) => b.p95_ms ?? null)],
    undefined,
  );
}

export default function HealthChart({ series }: { series: StatsBucket[] }) {
  const attempts = usePlot((w) => attemptsPlot(series, w), [series]);
  const latency = usePlot((w) => latencyPlot(series, w), [series]);
  const ok = series.reduce((n, b) => n + b.succeeded, 0);
  const failed = series.reduce((n, b) => n + b.failed, 0);
  return (
    <div className="health-charts">
      <figure className="chart" aria-label={`Attempts over the range: ${ok} succeeded, ${failed} failed.`}>
        <figcaption>Attempts</figcaption>
        <div ref={attempts} data-testid="attempts-chart" />
      </figure>
      <figure className="chart" aria-label="Attempt latency over the range, p50 and p95.">
        <figcaption>Latency (p50, p95)</figcaption>
        <div ref={latency} data-testid="latency-chart" />
      </figure>
    </div>
  );
}
