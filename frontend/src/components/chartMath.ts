/** Pure arithmetic behind the deliveries chart. */
import type { MinuteStats } from '../api/types';

/** Rounds up to 1, 2 or 5 × 10ⁿ so axis labels stay readable. */
export function niceMax(n: number): number {
  if (n <= 0) return 1;
  const pow = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) {
    if (step * pow >= n) return step * pow;
  }
  return 10 * pow;
}

export interface ChartSummary {
  total: number;
  succeeded: number;
  failed: number;
  /** 0..1, or null when nothing was delivered. */
  successRate: number | null;
}

export function summarize(data: MinuteStats[]): ChartSummary {
  const succeeded = data.reduce((s, m) => s + m.succeeded, 0);
  const failed = data.reduce((s, m) => s + m.failed, 0);
  const total = succeeded + failed;
  return { total, succeeded, failed, successRate: total ? succeeded / total : null };
}

export function formatRate(rate: number | null): string {
  if (rate === null) return '—';
  const pct = rate * 100;
  return `${Number.isInteger(pct) ? pct.toFixed(0) : pct.toFixed(1)}%`;
}
