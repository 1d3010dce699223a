import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import type { SubscriptionStatus } from '../api/types';
import { useApi } from '../authContext';
import { Empty, ErrorMessage, Loading } from '../components/Feedback';
import { Pagination } from '../components/Pagination';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import { useCursorTrail, useResource } from '../hooks';
import { paths } from '../paths';

const STATUSES: SubscriptionStatus[] = ['active', 'paused', 'disabled'];

export function SubscriptionsPage() {
  const client = useApi();
  const [params, setParams] = useSearchParams();
  const status = STATUSES.find((s) => s === params.get('status'));
  const [text, setText] = useState('');
  const trail = useCursorTrail(status ?? '');
  const list = useResource(
    () => client.listSubscriptions({ status, cursor: trail.cursor, limit: 50 }),
    `${status}|${trail.cursor}`,
  );

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
          <select
            id="sub-status"
            value={status ?? ''}
            onChange={(e) => setParams(e.target.value ? { status: e.target.value } : {})}
          >
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
          <input id="sub-text" type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="URL, id, event type…" />
        </div>
      </div>
      <ErrorMessage error={list.error} onRetry={() => list.reload()} />
      {list.loading && <Loading what="Loading subscriptions" />}
      {!list.loading && list.data && (
        items.length === 0 ? (
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
              <caption className="sr-only">Subscriptions</caption>
              <thead>
                <tr>
                  <th scope="col">Target URL</th>
                  <th scope="col">Status</th>
                  <th scope="col">Event types</th>
                  <th scope="col">Description</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {items.map((s) => (
                  <tr key={s.id} data-testid="subscription-row" data-subscription-id={s.id}>
                    <td className="break">
                      <Link to={paths.subscription(s.id)}>{s.target_url}</Link>
                    </td>
                    <td><StatusBadge status={s.status} /></td>
                    <td className="mono">{s.event_types.length ? s.event_types.join(', ') : 'all events'}</td>
                    <td>{s.description ?? ''}</td>
                    <td><Time value={s.created_at} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}
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
