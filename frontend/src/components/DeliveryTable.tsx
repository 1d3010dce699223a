/**
 * A table of deliveries (list rows or whole deliveries), each linking to its page; a row that
 * carries an ordering key shows it as a badge beside its event type.
 */
import { Link } from 'react-router';
import type { DeliverySummary } from '../api/types';
import { paths } from '../paths';
import { Id } from './Id';
import { StatusBadge } from './StatusBadge';
import { Time } from './Time';

export type DeliveryRow = Pick<
  DeliverySummary,
  'id' | 'subscription_id' | 'status' | 'event_type' | 'attempt_count' | 'last_status_code' | 'last_error' | 'created_at' | 'next_attempt_at'
> & { target_url?: string | null; ordering_key?: string | null };

function lastResult(d: DeliveryRow): string {
  if (d.last_status_code) return `HTTP ${d.last_status_code}`;
  return d.last_error ?? '—';
}

export function DeliveryTable({ deliveries, showSubscription = false, caption }: { deliveries: DeliveryRow[]; showSubscription?: boolean; caption: string }) {
  return (
    <div className="table-wrap">
      <table data-testid="deliveries">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Delivery</th>
            <th scope="col">Status</th>
            <th scope="col">Event type</th>
            {showSubscription && <th scope="col">Subscription</th>}
            <th scope="col">Attempts</th>
            <th scope="col">Last result</th>
            <th scope="col">Created</th>
            <th scope="col">Next attempt</th>
          </tr>
        </thead>
        <tbody>
          {deliveries.map((d) => (
            <tr key={d.id} data-testid="delivery-row" data-delivery-id={d.id} data-status={d.status}>
              <td><Id value={d.id} to={paths.delivery(d.id)} label="Delivery" /></td>
              <td><StatusBadge status={d.status} /></td>
              <td className="mono">
                {d.event_type}
                {d.ordering_key && (
                  <span className="badge badge-muted key-badge" title={`Ordering key: ${d.ordering_key}`} data-testid="row-ordering-key">
                    key {d.ordering_key}
                  </span>
                )}
              </td>
              {showSubscription && (
                <td className="break">
                  <Link to={paths.subscription(d.subscription_id)}>{d.target_url ?? d.subscription_id}</Link>
                </td>
              )}
              <td data-testid="row-attempts">{d.attempt_count}</td>
              <td className="break">{lastResult(d)}</td>
              <td><Time value={d.created_at} /></td>
              <td><Time value={d.next_attempt_at} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
