/** A table of deliveries, each linking to its page. */
import { Link } from 'react-router';
import type { Delivery } from '../api/types';
import { paths } from '../paths';
import { StatusBadge } from './StatusBadge';
import { Time } from './Time';

export function DeliveryTable({ deliveries, showSubscription = false, caption }: { deliveries: Delivery[]; showSubscription?: boolean; caption: string }) {
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
            <tr key={d.id} data-testid="delivery-row" data-delivery-id={d.id}>
              <td>
                <Link to={paths.delivery(d.id)} className="mono" aria-label={`Delivery ${d.id}`}>
                  {d.id.slice(0, 8)}
                </Link>
              </td>
              <td><StatusBadge status={d.status} /></td>
              <td className="mono">{d.event_type}</td>
              {showSubscription && (
                <td>
                  <Link to={paths.subscription(d.subscription_id)} className="mono">
                    {d.subscription_id.slice(0, 8)}
                  </Link>
                </td>
              )}
              <td>{d.attempt_count}</td>
              <td className="break">{d.last_status_code ?? d.last_error ?? '—'}</td>
              <td><Time value={d.created_at} /></td>
              <td><Time value={d.next_attempt_at} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
