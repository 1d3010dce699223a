import { useParams } from 'react-router';
import { describeError } from '../api/client';
import { useMessage } from '../api/queries';
import { DeliveryTable } from '../components/DeliveryTable';
import { Empty, ErrorMessage, Loading } from '../components/Feedback';
import { Time } from '../components/Time';
import { Id } from '../components/Id';
import { prettyJson, shortId } from '../format';

export function MessagePage() {
  const { id = '' } = useParams();
  const message = useMessage(id);
  const m = message.data;
  return (
    <div className="page">
      <h1>Message <span className="mono" title={id}>{shortId(id)}</span></h1>
      {message.isPending && <Loading what="Loading message" />}
      <ErrorMessage error={message.error ? describeError(message.error) : null} onRetry={() => message.refetch()} />
      {m && (
        <>
          <section className="card" aria-labelledby="msg-summary">
            <h2 id="msg-summary">Summary</h2>
            <dl className="facts">
              <div className="wide"><dt>Message id</dt><dd><Id value={m.id} full /></dd></div>
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
