import { useParams } from 'react-router';
import { useApi } from '../authContext';
import { DeliveryTable } from '../components/DeliveryTable';
import { Empty, ErrorMessage, Loading } from '../components/Feedback';
import { Time } from '../components/Time';
import { prettyJson } from '../format';
import { useResource } from '../hooks';

export function MessagePage() {
  const { id = '' } = useParams();
  const client = useApi();
  const message = useResource(() => client.getMessage(id), id);
  const m = message.data;
  return (
    <div className="page">
      <h1>Message <span className="mono">{id.slice(0, 8)}</span></h1>
      {message.loading && <Loading what="Loading message" />}
      <ErrorMessage error={message.error} onRetry={() => message.reload()} />
      {m && !message.loading && (
        <>
          <section className="card" aria-labelledby="msg-summary">
            <h2 id="msg-summary">Summary</h2>
            <dl className="facts">
              <div><dt>Message id</dt><dd className="mono">{m.id}</dd></div>
              <div><dt>Event type</dt><dd className="mono">{m.event_type}</dd></div>
              <div><dt>Received</dt><dd><Time value={m.created_at} /></dd></div>
            </dl>
          </section>
          <section className="card" aria-labelledby="msg-payload">
            <h2 id="msg-payload">Payload</h2>
            <pre className="code">{prettyJson(m.payload)}</pre>
          </section>
          <section className="card" aria-labelledby="msg-deliveries">
            <h2 id="msg-deliveries">Deliveries ({m.deliveries.length})</h2>
            {m.deliveries.length === 0 ? (
              <Empty>No subscription wanted this event, so nothing was delivered.</Empty>
            ) : (
              <DeliveryTable deliveries={m.deliveries} showSubscription caption="Deliveries of this message" />
            )}
          </section>
        </>
      )}
    </div>
  );
}
