/** The customer's endpoints, with success rate and latency over a chosen range. */
import { Link } from 'react-router';
import { describeError } from '../../api/client';
import { useSubscriptions, useSubscriptionsHealth } from '../../api/queries';
import { Empty, ErrorMessage, Loading } from '../../components/Feedback';
import { HealthCells, HealthHeaders } from '../../components/HealthCells';
import { Pagination } from '../../components/Pagination';
import { StatusBadge } from '../../components/StatusBadge';
import { TimeRangePicker } from '../../components/TimeRangePicker';
import { describeRange, rangeFromParams, rangeParams } from '../../timeRange';
import { useCursorTrail, useParamState } from '../../urlState';
import { usePortal } from '../portalContext';
import { portalPaths } from '../paths';

export function EndpointsPage() {
  const { readOnly } = usePortal();
  const { params, patch } = useParamState();
  const trail = useCursorTrail();
  const range = rangeFromParams(params, { preset: '24h' });
  const list = useSubscriptions(undefined, trail.cursor, 50);
  const health = useSubscriptionsHealth(range);
  const byId = new Map((health.data?.subscriptions ?? []).map((h) => [h.subscription_id, h]));

  return (
    <div className="page">
      <div className="page-head">
        <h1>Endpoints</h1>
        {!readOnly && (
          <Link to={portalPaths.newEndpoint} className="button primary">
            Add endpoint
          </Link>
        )}
      </div>
      <p className="hint">
        Each endpoint receives the events it subscribes to, signed with its own secret. Success rate and latency over{' '}
        {describeRange(range)}.
      </p>
      <section className="card" aria-labelledby="endpoints-title">
        <div className="card-head">
          <h2 id="endpoints-title">Your endpoints</h2>
          <TimeRangePicker value={range} onChange={(r) => patch(rangeParams(r), { keepPage: true })} id="endpoints-range" />
        </div>
        <ErrorMessage error={list.error ? describeError(list.error) : null} onRetry={() => list.refetch()} />
        {list.isPending && <Loading what="Loading endpoints" />}
        {list.data &&
          (list.data.items.length === 0 ? (
            <Empty>No endpoints yet.{readOnly ? '' : ' Add one to start receiving webhooks.'}</Empty>
          ) : (
            <div className="table-wrap">
              <table>
                <caption className="sr-only">Endpoints and their health</caption>
                <thead>
                  <tr>
                    <th scope="col">Endpoint</th>
                    <th scope="col">Events</th>
                    <th scope="col">Status</th>
                    <HealthHeaders />
                  </tr>
                </thead>
                <tbody>
                  {list.data.items.map((s) => (
                    <tr key={s.id} data-testid="endpoint-row" data-endpoint-id={s.id}>
                      <td className="break">
                        <Link to={portalPaths.endpoint(s.id)}>{s.target_url}</Link>
                        {s.description && <div className="hint">{s.description}</div>}
                      </td>
                      <td className="mono">{s.event_types.length ? s.event_types.join(', ') : 'all events'}</td>
                      <td>
                        <StatusBadge status={s.status} />
                      </td>
                      <HealthCells h={byId.get(s.id)} />
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
      </section>
    </div>
  );
}
