import { Link } from 'react-router';
import { useApi } from '../authContext';
import { formatRate, summarize } from '../components/chartMath';
import { DeliveryChart } from '../components/DeliveryChart';
import { Empty, ErrorMessage, Loading } from '../components/Feedback';
import { LiveTail } from '../components/LiveTail';
import { StatusBadge } from '../components/StatusBadge';
import { useInterval, useResource } from '../hooks';
import { paths } from '../paths';

export function OverviewPage() {
  const client = useApi();
  const stats = useResource(() => client.getOverview(), 'overview');
  const disabled = useResource(() => client.listSubscriptions({ status: 'disabled', limit: 20 }), 'disabled');
  useInterval(() => {
    stats.reload(true);
    disabled.reload(true);
  }, 15_000);

  const s = stats.data;
  const summary = s ? summarize(s.per_minute) : null;

  return (
    <div className="page">
      <div className="page-head">
        <h1>Overview</h1>
        <button type="button" onClick={() => { stats.reload(true); disabled.reload(true); }}>
          Refresh
        </button>
      </div>
      {stats.loading && !s && <Loading what="Loading statistics" />}
      <ErrorMessage error={stats.error} onRetry={() => stats.reload()} />
      {s && summary && (
        <>
          <section className="stats" aria-label="Key figures">
            <Stat label="Deliveries, last hour" value={summary.total} />
            <Stat label="Success rate, last hour" value={formatRate(summary.successRate)} />
            <Stat label="Pending retries" value={s.pending_retries} />
            <Stat label="Active subscriptions" value={s.subscriptions.active} />
            <Stat label="Paused" value={s.subscriptions.paused} />
            <Stat label="Disabled" value={s.subscriptions.disabled} tone={s.subscriptions.disabled ? 'bad' : undefined} />
          </section>
          <section className="card" aria-labelledby="chart-title">
            <h2 id="chart-title">Deliveries per minute</h2>
            <DeliveryChart data={s.per_minute} />
          </section>
          <div className="grid-2">
            <section className="card" aria-labelledby="failing-title">
              <h2 id="failing-title">Failing subscriptions</h2>
              {s.failing_subscriptions.length === 0 ? (
                <Empty>No subscription failed a delivery in the last hour.</Empty>
              ) : (
                <ul className="plain-list">
                  {s.failing_subscriptions.map((f) => (
                    <li key={f.id}>
                      <Link to={paths.subscription(f.id)} className="break">{f.target_url}</Link> <StatusBadge status={f.status} />{' '}
                      <span className="hint">{f.failed_last_hour} failed in the last hour</span>
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <section className="card" aria-labelledby="disabled-title">
              <h2 id="disabled-title">Disabled subscriptions</h2>
              <ErrorMessage error={disabled.error} onRetry={() => disabled.reload()} />
              {disabled.loading && !disabled.data && <Loading />}
              {disabled.data &&
                (disabled.data.items.length === 0 ? (
                  <Empty>No subscription is disabled.</Empty>
                ) : (
                  <ul className="plain-list">
                    {disabled.data.items.map((d) => (
                      <li key={d.id}>
                        <Link to={paths.subscription(d.id)} className="break">{d.target_url}</Link>
                        {d.disabled_reason && <span className="hint"> — {d.disabled_reason}</span>}
                      </li>
                    ))}
                  </ul>
                ))}
            </section>
          </div>
        </>
      )}
      <LiveTail title="Live tail of attempts" />
    </div>
  );
}

function Stat({ label, value, tone }: { label: string; value: number | string; tone?: 'bad' }) {
  return (
    <div className={`stat ${tone ? `stat-${tone}` : ''}`}>
      <span className="stat-value">{value}</span>
      <span className="stat-label">{label}</span>
    </div>
  );
}
