/**
 * A subscription's deliveries (compact rows from `GET /deliveries?subscription_id=`), with
 * filters and page in the URL, bulk retry and cancel of what they match. The live tail
 * updates rows in place; deliveries it has not seen yet are counted in a "new deliveries"
 * button instead of reloading the table under the reader.
 */
import { describeError } from '../api/client';
import { useDeliverySearch } from '../api/queries';
import { rangeFromParams, rangeParams } from '../timeRange';
import { useCursorTrail, useParamState } from '../urlState';
import { BulkActions } from './BulkActions';
import { filtersFromParams } from '../deliveryFilters';
import { DeliveryFilterForm } from './DeliveryFilterForm';
import { DeliveryTable } from './DeliveryTable';
import { Empty, ErrorMessage, Loading } from './Feedback';
import { Pagination } from './Pagination';

const KEYS = ['status', 'event_type', 'http_status', 'id'] as const;

interface Props {
  subscriptionId: string;
  /** Deliveries the live tail reported that the table does not show yet. */
  unseen: number;
  onShowNew: () => void;
}

export function SubscriptionDeliveries({ subscriptionId, unseen, onShowNew }: Props) {
  const { params, patch } = useParamState();
  const trail = useCursorTrail();
  const { subscription_id: _ignored, ...own } = filtersFromParams(params);
  void _ignored;
  const filters = { ...own, subscription_id: subscriptionId };
  const range = rangeFromParams(params);
  const list = useDeliverySearch(filters, range, trail.cursor, 25);
  const formKey = KEYS.map((k) => params.get(k)).join('|') + JSON.stringify(range);

  return (
    <section className="card" aria-labelledby="deliveries-title">
      <div className="card-head">
        <h2 id="deliveries-title">Deliveries</h2>
        {unseen > 0 && trail.page === 1 && (
          <button
            type="button"
            className="primary"
            data-testid="show-new"
            onClick={() => {
              onShowNew();
              void list.refetch();
            }}
          >
            Show {unseen} new {unseen === 1 ? 'delivery' : 'deliveries'}
          </button>
        )}
        <button type="button" onClick={() => list.refetch()} disabled={list.isFetching}>
          Refresh
        </button>
      </div>
      <DeliveryFilterForm
        key={formKey}
        initial={own}
        range={range}
        withSubscription={false}
        onApply={(f, r) => patch({ ...Object.fromEntries(KEYS.map((k) => [k, f[k]])), ...rangeParams(r) })}
      />
      <BulkActions filters={filters} range={range} />
      <ErrorMessage error={list.error ? describeError(list.error) : null} onRetry={() => list.refetch()} />
      {list.isPending && <Loading what="Loading deliveries" />}
      {list.data &&
        (list.data.items.length === 0 ? (
          <Empty>{Object.keys(own).length ? 'No delivery matches these filters.' : 'No deliveries yet for this subscription.'}</Empty>
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
