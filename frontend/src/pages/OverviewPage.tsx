/**
 * The first page: what happened in the last hour, each number named for what it counts —
 * deliveries (one message to one subscription) apart from attempts (every try, retries
 * included), first-try success apart from eventual success — plus the queue, failing
 * subscriptions and the live tail.
 */
import { Link } from 'react-router';
import { describeError } from '../api/client';
import { useOverview, useSubscriptionsHealth } from '../api/queries';
import { formatRate, summarize } from '../components/chartMath';
import { DeliveryChart } from '../components/DeliveryChart';
import { Empty, ErrorMessage, Loading } from '../components/Feedback';
import { Stat } from '../components/HealthCells';
import { rateTone, totals } from '../health';
import { LiveTail } from '../components/LiveTail';
import { StatusBadge } from '../components/StatusBadge';
import { formatCount, formatPercent } from '../format';
import { paths } from '../paths';

const LAST_HOUR = { preset: '1h' } as const;

export function OverviewPage() {
  const stats = useOverview();
  const health = useSubscriptionsHealth(LAST_HOUR);
  const s = stats.data;
  const attempts = s ? summarize(s.per_minute) : null;
  const t = health.data ? totals(health.data.subscriptions) : null;

  return (
    <div className="page">
      <div className="page-head">
        <h1>Overview</h1>
        <button type="button" onClick={() => { void stats.refetch(); void health.refetch(); }}>
          Refresh
        </button>
      </div>
      {stats.isPending && <Loading what="Loading statistics" />}
      <ErrorMessage error={stats.error ? describeError(stats.error) : null} onRetry={() => stats.refetch()} />
      <ErrorMessage error={health.error ? describeError(health.error) : null} onRetry={() => health.refetch()} />
      {s && attempts && (
        <>
          <section className="stats" aria-label="Last hour" data-testid="overview-stats">
            <Stat label="Deliveries, last hour" value={t ? formatCount(t.deliveries) : '…'} />
            <Stat label="Attempts, last hour" value={formatCount(attempts.total)} />
            <Stat label="First-try success" value={t ? formatPercent(t.firstTry) : '…'} tone={rateTone(t?.firstTry)} />
            <Stat label="Eventual success" value={t ? formatPercent(t.eventual) : '…'} tone={rateTone(t?.eventual)} />
            <Stat label="Attempt success rate" value={formatRate(attempts.successRate)} />
            <Stat label="Waiting for a retry" value={formatCount(s.pending_retries)} />
            <Stat label="Queued or held" value={formatCount(s.queued)} />
            <Stat label="Active subscriptions" value={s.subscriptions.active} />
            <Stat label="Paused" value={s.subscriptions.paused} />
            <Stat label="Disabled" value={s.subscriptions.disabled} tone={s.subscriptions.disabled ? 'text-bad' : ''} />
          </section>
          <section className="card" aria-labelledby="chart-title">
            <h2 id="chart-title">Attempts per minute</h2>
            <p className="hint">Every try counts, retries included; the line is the share of attempts that succeeded.</p>
            <DeliveryChart data={s.per_minute} />
          </section>
          <section className="card" aria-labelledby="failing-title">
            <h2 id="failing-title">Failing subscriptions</h2>
            {s.failing_subscriptions.length === 0 ? (
              <Empty>No subscription is failing or disabled.</Empty>
            ) : (
              <ul className="plain-list" data-testid="failing">
                {s.failing_subscriptions.map((f) => (
                  <li key={f.id}>
                    <Link to={paths.subscription(f.id)} className="break">{f.target_url}</Link>{' '}
                    <StatusBadge status={f.status} />{' '}
                    <span className="hint">
                      {f.failed_last_hour} failed attempts in the last hour{f.disabled_reason ? ` — ${f.disabled_reason}` : ''}
                    </span>{' '}
                    <Link to={paths.deliveriesWhere({ subscription_id: f.id, status: 'failed,retrying' })}>See its failures</Link>
                  </li>
                ))}
              </ul>
            )}
          </section>
        </>
      )}
      <LiveTail title="Live tail of attempts" />
    </div>
  );
}
