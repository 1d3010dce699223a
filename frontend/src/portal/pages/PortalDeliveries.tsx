/**
 * An endpoint's deliveries, newest first, with filters (status, event type, time range) in
 * the URL, each opening to its attempts (request headers with credentials masked, response
 * status, headers and body, timing, error class) and a retry. Polled every few seconds, so
 * a new delivery appears without reloading.
 */
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { describeError } from '../../api/client';
import { DELIVERY_STATUSES, type Delivery, type DeliveryStatus } from '../../api/types';
import { useApi } from '../../authContext';
import { AttemptList } from '../../components/AttemptList';
import { Empty, ErrorMessage, Loading, Notice } from '../../components/Feedback';
import { Pagination } from '../../components/Pagination';
import { StatusBadge } from '../../components/StatusBadge';
import { Time } from '../../components/Time';
import { TimeRangePicker } from '../../components/TimeRangePicker';
import { rangeFromParams, rangeParams, resolveRange, type RangeValue } from '../../timeRange';
import { useCursorTrail, useParamState } from '../../urlState';
import { usePortal } from '../portalContext';
import { portalPaths } from '../paths';

function Filters({ status, eventType, range, onApply }: { status: string; eventType: string; range: RangeValue; onApply: (s: string, e: string, r: RangeValue) => void }) {
  const [s, setS] = useState(status);
  const [e, setE] = useState(eventType);
  const [r, setR] = useState(range);
  function submit(ev: FormEvent) {
    ev.preventDefault();
    onApply(s, e.trim(), r);
  }
  return (
    <form className="filters" onSubmit={submit} aria-label="Filter deliveries">
      <div className="field">
        <label htmlFor="f-status">Status</label>
        <select id="f-status" value={s} onChange={(x) => setS(x.target.value)}>
          <option value="">any</option>
          {DELIVERY_STATUSES.map((v) => (
            <option key={v} value={v}>{v}</option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="f-event">Event type</label>
        <input id="f-event" type="text" value={e} placeholder="order.created" onChange={(x) => setE(x.target.value)} />
      </div>
      <TimeRangePicker value={r} onChange={setR} allowAll immediate id="f-range" />
      <div className="filter-buttons">
        <button type="submit" className="primary">Apply</button>
      </div>
    </form>
  );
}

function Row({ d, onRetried }: { d: Delivery; onRetried: (d: Delivery) => void }) {
  const client = useApi();
  const { readOnly } = usePortal();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function retry() {
    setBusy(true);
    setError(null);
    try {
      onRetried((await client.retryDelivery(d.id)) as Delivery);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <li>
      <details className="delivery-item" data-testid="portal-delivery" data-delivery-id={d.id} data-status={d.status}>
        <summary>
          <StatusBadge status={d.status} />
          <code>{d.event_type}</code>
          <Time value={d.created_at} />
          <span className="hint">
            {d.attempt_count} {d.attempt_count === 1 ? 'attempt' : 'attempts'}
            {d.last_status_code != null && `, last answer ${d.last_status_code}`}
          </span>
          <Link to={portalPaths.delivery(d.id)}>Details</Link>
          {!readOnly && (
            <button type="button" onClick={retry} disabled={busy}>
              {busy ? 'Retrying…' : 'Retry'}
            </button>
          )}
        </summary>
        <ErrorMessage error={error} />
        <AttemptList attempts={d.attempts} />
      </details>
    </li>
  );
}

export function PortalDeliveries({ endpointId }: { endpointId: string }) {
  const client = useApi();
  const qc = useQueryClient();
  const { params, patch } = useParamState();
  const trail = useCursorTrail();
  const [notice, setNotice] = useState<string | null>(null);
  const status = params.get('status') ?? '';
  const eventType = params.get('event_type') ?? '';
  const range = rangeFromParams(params);
  const key = ['portal-deliveries', endpointId, status, eventType, range, trail.cursor ?? ''];
  const list = useQuery({
    queryKey: key,
    queryFn: () =>
      client.listDeliveries(endpointId, {
        status: (status || undefined) as DeliveryStatus | undefined,
        event_type: eventType || undefined,
        ...resolveRange(range),
        cursor: trail.cursor,
        limit: 20,
      }),
    placeholderData: keepPreviousData,
    refetchInterval: 3_000,
  });

  return (
    <section className="card" aria-labelledby="deliveries-title">
      <div className="card-head">
        <h2 id="deliveries-title">Deliveries</h2>
        <button type="button" onClick={() => list.refetch()} disabled={list.isFetching}>Refresh</button>
      </div>
      <Filters
        key={`${status}|${eventType}|${JSON.stringify(range)}`}
        status={status}
        eventType={eventType}
        range={range}
        onApply={(s, e, r) => patch({ status: s, event_type: e, ...rangeParams(r) })}
      />
      {notice && <Notice onDismiss={() => setNotice(null)}>{notice}</Notice>}
      <ErrorMessage error={list.error ? describeError(list.error) : null} onRetry={() => list.refetch()} />
      {list.isPending && <Loading what="Loading deliveries" />}
      {list.data &&
        (list.data.items.length === 0 ? (
          <Empty>{status || eventType || range.preset || range.since ? 'No delivery matches these filters.' : 'No deliveries yet.'}</Empty>
        ) : (
          <ol className="delivery-list" aria-label="Deliveries, newest first">
            {(list.data.items as Delivery[]).map((d) => (
              <Row
                key={d.id}
                d={d}
                onRetried={(next) => {
                  setNotice(`Delivery queued again (${next.status}).`);
                  void qc.invalidateQueries({ queryKey: ['portal-deliveries', endpointId] });
                }}
              />
            ))}
          </ol>
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
