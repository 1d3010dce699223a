/**
 * The delivery explorer: every delivery across subscriptions, newest first, filtered by
 * status, event type (patterns too), HTTP status, subscription, id and time range — all kept
 * in the URL with the page — with bulk retry and cancel of what the filter matches.
 */
import { describeError } from '../api/client';
import { useDeliverySearch } from '../api/queries';
import { BulkActions } from '../components/BulkActions';
import { DeliveryFilterForm } from '../components/DeliveryFilterForm';
import { filtersFromParams } from '../deliveryFilters';
import { DeliveryTable } from '../components/DeliveryTable';
import { Empty, ErrorMessage, Loading } from '../components/Feedback';
import { LiveTail } from '../components/LiveTail';
import { Pagination } from '../components/Pagination';
import { rangeFromParams, rangeParams } from '../timeRange';
import { useCursorTrail, useParamState } from '../urlState';

const FILTER_KEYS = ['status', 'event_type', 'http_status', 'subscription_id', 'id'] as const;


export function DeliveriesPage() {
  const { params, patch } = useParamState();
  const trail = useCursorTrail();
  const filters = filtersFromParams(params);
  const range = rangeFromParams(params);
  const list = useDeliverySearch(filters, range, trail.cursor);
  const formKey = params.toString().replace(/(^|&)after=[^&]*/, '');
  const filtered = Object.keys(filters).length > 0 || !!range.preset || !!range.since || !!range.until;

  return (
    <div className="page">
      <div className="page-head">
        <h1>Deliveries</h1>
        <button type="button" onClick={() => list.refetch()} disabled={list.isFetching}>
          {list.isFetching ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
      <p className="hint">Every delivery of every subscription, newest first. A delivery is one message to one subscription; it may take several attempts.</p>
      <DeliveryFilterForm
        key={formKey}
        initial={filters}
        range={range}
        onApply={(f, r) => patch({ ...Object.fromEntries(FILTER_KEYS.map((k) => [k, f[k]])), ...rangeParams(r) })}
      />
      <BulkActions filters={filters} range={range} />
      <ErrorMessage error={list.error ? describeError(list.error) : null} onRetry={() => list.refetch()} />
      {list.isPending && <Loading what="Loading deliveries" />}
      {list.data &&
        (list.data.items.length === 0 ? (
          <Empty>{filtered ? 'No delivery matches these filters.' : 'No deliveries yet.'}</Empty>
        ) : (
          <DeliveryTable deliveries={list.data.items} showSubscription caption="Deliveries, newest first" />
        ))}
      <Pagination
        page={trail.page}
        hasPrev={trail.page > 1}
        hasNext={!!list.data?.nextCursor}
        onPrev={trail.prev}
        onNext={() => list.data?.nextCursor && trail.next(list.data.nextCursor)}
      />
      <LiveTail title="Live attempts (rows above update in place)" />
    </div>
  );
}
