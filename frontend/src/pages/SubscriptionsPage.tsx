/**
 * Subscriptions with their health over a chosen range (one `GET /stats/subscriptions` for
 * the whole page, not one call per row): deliveries, first-try and eventual success,
 * latency, last attempt. Status filter, range and page live in the URL.
 */
import { Link } from 'react-router';
import { describeError } from '../api/client';
import { useSubscriptions, useSubscriptionsHealth } from '../api/queries';
import type { SubscriptionHealth, SubscriptionStatus } from '../api/types';
import { Empty, ErrorMessage, Loading } from '../components/Feedback';
import { HealthCells, HealthHeaders } from '../components/HealthCells';
import { Id } from '../components/Id';
import { Pagination } from '../components/Pagination';
import { StatusBadge } from '../components/StatusBadge';
import { TimeRangePicker } from '../components/TimeRangePicker';
import { paths } from '../paths';
import { describeRange, rangeFromParams, rangeParams } from '../timeRange';
import { useCursorTrail, useParamState } from '../urlState';

const STATUSES: SubscriptionStatus[] = ['active', 'paused', 'disabled'];

export function SubscriptionsPage() {
  const { params, patch } = useParamState();
  const status = STATUSES.find((s) => s === params.get('status'));
  const range = rangeFromParams(params, { preset: '24h' });
  const trail = useCursorTrail();
  const text = params.get('q') ?? '';
  const list = useSubscriptions(status, trail.cursor);
  const health = useSubscriptionsHealth(range);
  const byId = new Map<string, SubscriptionHealth>((health.data?.subscriptions ?? []).map((h) => [h.subscription_id, h]));

  const needle = text.trim().toLowerCase();
  const items = (list.data?.items ?? []).filter(
    (s) =>
      !needle ||
      s.target_url.toLowerCase().includes(needle) ||
      s.id.includes(needle) ||
      (s.description ?? '').toLowerCase().includes(needle) ||
      s.event_types.some((t) => t.toLowerCase().includes(needle)),
  );

  return (
    <div className="page">
      <div className="page-head">
        <h1>Subscriptions</h1>
        <Link to={paths.newSubscription} className="button primary">
          New subscription
        </Link>
      </div>
      <div className="filters" role="group" aria-label="Filter subscriptions">
        <div className="field">
          <label htmlFor="sub-status">Status</label>
          <select id="sub-status" value={status ?? ''} onChange={(e) => patch({ status: e.target.value })}>
            <option value="">All</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="sub-text">Search this page</label>
          <input id="sub-text" type="search" value={text} onChange={(e) => patch({ q: e.target.value }, { keepPage: true, replace: true })} placeholder="URL, id, event type…" />
        </div>
        <TimeRangePicker value={range} onChange={(r) => patch(rangeParams(r), { keepPage: true })} id="sub-range" />
      </div>
      <p className="hint">Health columns cover {describeRange(range)}.</p>
      <ErrorMessage error={list.error ? describeError(list.error) : null} onRetry={() => list.refetch()} />
      <ErrorMessage error={health.error ? `Health figures: ${describeError(health.error)}` : null} onRetry={() => health.refetch()} />
      {list.isPending && <Loading what="Loading subscriptions" />}
      {list.data &&
        (items.length === 0 ? (
          <Empty>
            {list.data.items.length === 0
              ? status
                ? `No ${status} subscriptions.`
                : 'No subscriptions yet. Create one to start delivering events.'
              : 'No subscription on this page matches the search.'}
          </Empty>
        ) : (
          <div className="table-wrap">
            <table data-testid="subscriptions">
              <caption className="sr-only">Subscriptions and their health</caption>
              <thead>
                <tr>
                  <th scope="col">Target URL</th>
                  <th scope="col">Status</th>
                  <th scope="col">Event types</th>
                  <HealthHeaders />
                  <th scope="col">Id</th>
                </tr>
              </thead>
              <tbody>
                {items.map((s) => (
                  <tr key={s.id} data-testid="subscription-row" data-subscription-id={s.id}>
                    <td className="break">
                      <Link to={paths.subscription(s.id)}>{s.target_url}</Link>
                      {s.description && <div className="hint">{s.description}</div>}
                    </td>
                    <td><StatusBadge status={s.status} /></td>
                    <td className="mono">{s.event_types.length ? s.event_types.join(', ') : 'all events'}</td>
                    <HealthCells h={byId.get(s.id)} />
                    <td><Id value={s.id} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      <Pagination
        page={trail.page}
        hasPrev={trail.page > 1}
        hasNext={!!list.data?.nextCursor}
        onPrev={trail.prev}
        onNext={() => list.data?.nextCursor && trail.next(list.data.nextCursor)}
      />
    </div>
  );
}
