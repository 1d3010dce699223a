/** One delivery: its payload and every attempt, and a retry. Polled while it is in flight. */
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { describeError } from '../../api/client';
import { keys, useDelivery } from '../../api/queries';
import { useApi } from '../../authContext';
import { AttemptList } from '../../components/AttemptList';
import { ErrorMessage, Loading, Notice } from '../../components/Feedback';
import { Id } from '../../components/Id';
import { StatusBadge } from '../../components/StatusBadge';
import { Time } from '../../components/Time';
import { prettyJson } from '../../format';
import { usePortal } from '../portalContext';
import { portalPaths } from '../paths';

export function PortalDeliveryPage() {
  const { id = '' } = useParams();
  const client = useApi();
  const qc = useQueryClient();
  const { readOnly } = usePortal();
  const [watch, setWatch] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const d = useDelivery(id, watch);
  const delivery = d.data;
  return (
    <div className="page">
      <p className="crumbs">
        <Link to={portalPaths.endpoints}>Endpoints</Link> /{' '}
        {delivery && <Link to={portalPaths.endpoint(delivery.subscription_id)}>Endpoint</Link>}
      </p>
      <div className="page-head">
        <h1>Delivery</h1>
        {delivery && <StatusBadge status={delivery.status} />}
        {delivery && !readOnly && (
          <button
            type="button"
            className="primary"
            onClick={async () => {
              setError(null);
              try {
                qc.setQueryData(keys.delivery(id), await client.retryDelivery(id));
                setWatch(true);
                setNotice('Sent again now.');
              } catch (e) {
                setError(describeError(e));
              }
            }}
          >
            Retry now
          </button>
        )}
      </div>
      {notice && <Notice onDismiss={() => setNotice(null)}>{notice}</Notice>}
      <ErrorMessage error={error ?? (d.error ? describeError(d.error) : null)} />
      {d.isPending && <Loading what="Loading delivery" />}
      {delivery && (
        <>
          <section className="card">
            <dl className="facts">
              <div className="wide"><dt>Id</dt><dd><Id value={delivery.id} full /></dd></div>
              <div><dt>Event type</dt><dd className="mono">{delivery.event_type}</dd></div>
              <div><dt>Attempts</dt><dd>{delivery.attempt_count}</dd></div>
              <div><dt>Created</dt><dd><Time value={delivery.created_at} /></dd></div>
              <div><dt>Next attempt</dt><dd><Time value={delivery.next_attempt_at} /></dd></div>
            </dl>
            <h2>Payload</h2>
            <pre className="code">{prettyJson(delivery.payload)}</pre>
          </section>
          <section className="card" aria-labelledby="attempts-title">
            <h2 id="attempts-title">Attempts</h2>
            <AttemptList attempts={delivery.attempts} />
          </section>
        </>
      )}
    </div>
  );
}
