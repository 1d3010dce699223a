/** How a subscription is doing over a range, as table cells and as facts, named for what they count. */
import type { SubscriptionHealth } from '../api/types';
import { rateTone } from '../health';
import { formatCount, formatMs, formatPercent } from '../format';
import { Time } from './Time';

export function HealthCells({ h }: { h: SubscriptionHealth | undefined }) {
  if (!h) return <td colSpan={5} className="hint">no data</td>;
  return (
    <>
      <td data-testid="health-deliveries">
        {formatCount(h.deliveries.total)}
        {h.attempts !== h.deliveries.total && <span className="hint"> ({formatCount(h.attempts)} attempts)</span>}
      </td>
      <td className={rateTone(h.first_attempt_success_rate)} data-testid="health-first-try">{formatPercent(h.first_attempt_success_rate)}</td>
      <td className={rateTone(h.eventual_success_rate)} data-testid="health-eventual">{formatPercent(h.eventual_success_rate)}</td>
      <td data-testid="health-latency">
        {formatMs(h.latency.p50_ms)} / {formatMs(h.latency.p95_ms)}
      </td>
      <td>
        {h.last_attempt_at ? (
          <>
            <span className={h.last_attempt_succeeded ? 'text-good' : 'text-bad'}>
              {h.last_attempt_succeeded ? '✓' : '✗'} {h.last_status_code ?? 'no answer'}
            </span>{' '}
            <Time value={h.last_attempt_at} />
          </>
        ) : (
          '—'
        )}
      </td>
    </>
  );
}

export function HealthHeaders() {
  return (
    <>
      <th scope="col">Deliveries</th>
      <th scope="col" title="Of the first attempts, the share that succeeded">First-try success</th>
      <th scope="col" title="Of the finished deliveries, the share that succeeded, retries included">Eventual success</th>
      <th scope="col">Latency p50 / p95</th>
      <th scope="col">Last attempt</th>
    </>
  );
}

/** The same figures as a row of stat tiles. */
export function HealthFacts({ h }: { h: SubscriptionHealth }) {
  return (
    <section className="stats" aria-label="Health over the range" data-testid="health-facts">
      <Stat label="Deliveries" value={formatCount(h.deliveries.total)} />
      <Stat label="Attempts" value={formatCount(h.attempts)} />
      <Stat label="First-try success" value={formatPercent(h.first_attempt_success_rate)} tone={rateTone(h.first_attempt_success_rate)} />
      <Stat label="Eventual success" value={formatPercent(h.eventual_success_rate)} tone={rateTone(h.eventual_success_rate)} />
      <Stat label="Failed deliveries" value={formatCount(h.deliveries.failed)} tone={h.deliveries.failed ? 'text-bad' : ''} />
      <Stat label="Unfinished" value={formatCount(h.deliveries.unfinished)} />
      <Stat label="Latency p50" value={formatMs(h.latency.p50_ms)} />
      <Stat label="Latency p95" value={formatMs(h.latency.p95_ms)} />
    </section>
  );
}

export function Stat({ label, value, tone = '' }: { label: string; value: number | string; tone?: string }) {
  return (
    <div className="stat">
      <span className={`stat-value ${tone}`}>{value}</span>
      <span className="stat-label">{label}</span>
    </div>
  );
}
