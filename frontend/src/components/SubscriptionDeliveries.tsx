/**
 * A subscription's deliveries with filters (status, event type, since/until) kept in the URL,
 * cursor pagination, and a quiet refresh when the live stream reports a new attempt.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../api/types';
import { useApi } from '../authContext';
import { localInputToRfc3339, rfc3339ToLocalInput } from '../format';
import { useCursorTrail, useResource } from '../hooks';
import { DeliveryTable } from './DeliveryTable';
import { Empty, ErrorMessage, Loading } from './Feedback';
import { Pagination } from './Pagination';

const PAGE_SIZE = 25;

export function SubscriptionDeliveries({ subscriptionId, refreshSignal }: { subscriptionId: string; refreshSignal: number }) {
  const client = useApi();
  const [params, setParams] = useSearchParams();
  const filters = {
    status: DELIVERY_STATUSES.find((s) => s === params.get('status')),
    event_type: params.get('event_type') || undefined,
    since: params.get('since') || undefined,
    until: params.get('until') || undefined,
  };
  const filterKey = `${subscriptionId}|${filters.status}|${filters.event_type}|${filters.since}|${filters.until}`;
  const trail = useCursorTrail(filterKey);
  const list = useResource(
    () => client.listDeliveries(subscriptionId, { ...filters, cursor: trail.cursor, limit: PAGE_SIZE }),
    `${filterKey}|${trail.cursor}`,
  );

  // New attempts only change the first page; later pages stay put while someone reads them.
  const seen = useRef(refreshSignal);
  const { reload } = list;
  useEffect(() => {
    if (refreshSignal !== seen.current && trail.page === 1) reload(true);
    seen.current = refreshSignal;
  }, [refreshSignal, trail.page, reload]);

  return (
    <section className="card" aria-labelledby="deliveries-title">
      <div className="card-head">
        <h2 id="deliveries-title">Deliveries</h2>
        <button type="button" onClick={() => list.reload(true)}>
          Refresh
        </button>
      </div>
      <DeliveryFilterForm
        key={filterKey}
        initial={filters}
        onApply={(f) => {
          const next = new URLSearchParams();
          for (const [k, v] of Object.entries(f)) if (v) next.set(k, v);
          setParams(next);
        }}
      />
      <ErrorMessage error={list.error} onRetry={() => list.reload()} />
      {list.loading && <Loading what="Loading deliveries" />}
      {!list.loading &&
        list.data &&
        (list.data.items.length === 0 ? (
          <Empty>
            {Object.values(filters).some(Boolean) ? 'No delivery matches these filters.' : 'No deliveries yet for this subscription.'}
          </Empty>
        ) : (
          <DeliveryTable deliveries={list.data.items} caption="Deliveries of this subscription, newest first" />
        ))}
      <Pagination
        page={trail.page}
        hasPrev={trail.page > 1}
        hasNext={!!list.data?.nextCursor}
        onPrev={trail.prev}
        onNext={() => list.data?.nextCursor && trail.next(list.data.nextCursor)}
      />
    </section>
  );
}

interface Filters {
  status?: DeliveryStatus;
  event_type?: string;
  since?: string;
  until?: string;
}

function DeliveryFilterForm({ initial, onApply }: { initial: Filters; onApply: (f: Filters) => void }) {
  const [status, setStatus] = useState(initial.status ?? '');
  const [eventType, setEventType] = useState(initial.event_type ?? '');
  const [since, setSince] = useState(rfc3339ToLocalInput(initial.since));
  const [until, setUntil] = useState(rfc3339ToLocalInput(initial.until));
  const [error, setError] = useState<string | null>(null);

  function submit(e: FormEvent) {
    e.preventDefault();
    const s = localInputToRfc3339(since);
    const u = localInputToRfc3339(until);
    if (s && u && s > u) {
      setError('"Since" must be before "until".');
      return;
    }
    setError(null);
    onApply({ status: (status || undefined) as DeliveryStatus | undefined, event_type: eventType.trim() || undefined, since: s, until: u });
  }

  return (
    <form className="filters" onSubmit={submit} aria-label="Filter deliveries">
      <div className="field">
        <label htmlFor="f-status">Status</label>
        <select id="f-status" value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">Any</option>
          {DELIVERY_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="f-type">Event type</label>
        <input id="f-type" value={eventType} onChange={(e) => setEventType(e.target.value)} placeholder="order.created" />
      </div>
      <div className="field">
        <label htmlFor="f-since">Since (local time)</label>
        <input id="f-since" type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="f-until">Until (local time)</label>
        <input id="f-until" type="datetime-local" value={until} onChange={(e) => setUntil(e.target.value)} />
      </div>
      <div className="filter-buttons">
        <button type="submit" className="primary">
          Apply filters
        </button>
        <button type="button" onClick={() => onApply({})}>
          Clear
        </button>
      </div>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
