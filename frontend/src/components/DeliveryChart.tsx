/**
 * Deliveries per minute (stacked succeeded / failed bars) and the success rate (line, right
 * axis) over the last hour. Plain SVG: no chart library. The figure's text summary and the
 * per-bar `<title>`s carry the numbers for screen readers and hover.
 */
import type { MinuteStats } from '../api/types';
import { formatClock } from '../format';
import { formatRate, niceMax, summarize } from './chartMath';

const W = 720;
const H = 220;
const PAD = { left: 40, right: 44, top: 12, bottom: 28 };
const PLOT_W = W - PAD.left - PAD.right;
const PLOT_H = H - PAD.top - PAD.bottom;

export function DeliveryChart({ data }: { data: MinuteStats[] }) {
  const summary = summarize(data);
  const label = `Deliveries per minute over the last hour: ${summary.total} attempts finished, ${summary.succeeded} succeeded, ${summary.failed} failed, success rate ${formatRate(summary.successRate)}.`;

  if (data.length === 0 || summary.total === 0) {
    return (
      <figure className="chart" aria-label={label}>
        <p className="empty">No deliveries in the last hour.</p>
      </figure>
    );
  }

  const max = niceMax(Math.max(...data.map((m) => m.succeeded + m.failed)));
  const slot = PLOT_W / data.length;
  const barW = Math.max(1, slot * 0.75);
  const y = (v: number) => PAD.top + PLOT_H - (v / max) * PLOT_H;
  const yRate = (r: number) => PAD.top + PLOT_H - r * PLOT_H;

  // The rate line breaks over minutes with no deliveries rather than inventing a value.
  const segments: string[] = [];
  let current = '';
  data.forEach((m, i) => {
    const total = m.succeeded + m.failed;
    if (total === 0) {
      if (current) segments.push(current);
      current = '';
      return;
    }
    const x = PAD.left + slot * i + slot / 2;
    current += `${current ? 'L' : 'M'}${x.toFixed(1)},${yRate(m.succeeded / total).toFixed(1)}`;
  });
  if (current) segments.push(current);

  const labelEvery = Math.max(1, Math.ceil(data.length / 6));

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} preserveAspectRatio="xMidYMid meet">
        {(max >= 2 ? [0, max / 2, max] : [0, max]).map((v) => (
          <g key={`l${v}`}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} className="grid" />
            <text x={PAD.left - 6} y={y(v) + 4} textAnchor="end" className="axis">
              {Number.isInteger(v) ? v : v.toFixed(1)}
            </text>
          </g>
        ))}
        {[0, 0.5, 1].map((r) => (
          <text key={`r${r}`} x={W - PAD.right + 6} y={yRate(r) + 4} className="axis axis-rate">
            {r * 100}%
          </text>
        ))}
        {data.map((m, i) => {
          const x = PAD.left + slot * i + (slot - barW) / 2;
          const total = m.succeeded + m.failed;
          return (
            <g key={m.minute} data-testid="chart-bar">
              <title>{`${formatClock(m.minute)}: ${m.succeeded} succeeded, ${m.failed} failed`}</title>
              {m.succeeded > 0 && (
                <rect className="bar-ok" x={x} width={barW} y={y(m.succeeded)} height={y(0) - y(m.succeeded)} />
              )}
              {m.failed > 0 && (
                <rect className="bar-fail" x={x} width={barW} y={y(total)} height={y(m.succeeded) - y(total)} />
              )}
              {i % labelEvery === 0 && (
                <text x={PAD.left + slot * i + slot / 2} y={H - 8} textAnchor="middle" className="axis">
                  {formatClock(m.minute)}
                </text>
              )}
            </g>
          );
        })}
        {segments.map((d, i) => (
          <path key={i} d={d} className="rate-line" data-testid="rate-line" />
        ))}
        {data.map((m, i) =>
          m.succeeded + m.failed === 0 ? null : (
            <circle
              key={`p${m.minute}`}
              className="rate-dot"
              r={2.5}
              cx={PAD.left + slot * i + slot / 2}
              cy={yRate(m.succeeded / (m.succeeded + m.failed))}
            />
          ),
        )}
      </svg>
      <figcaption className="legend">
        <span><i className="swatch swatch-ok" aria-hidden="true" /> succeeded</span>
        <span><i className="swatch swatch-fail" aria-hidden="true" /> failed</span>
        <span><i className="swatch swatch-rate" aria-hidden="true" /> success rate (right axis)</span>
      </figcaption>
    </figure>
  );
}
