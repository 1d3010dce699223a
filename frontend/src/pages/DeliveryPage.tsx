/**
 * One delivery: where it went (the subscription's target), its status, payload and every
 * attempt (request and response headers, body, copy as curl); its ordering key; "Retry now", and
 * "Skip" for a keyed delivery that holds its key. Polls while the delivery is in flight and
 * for a while after a retry.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { describeError } from '../api/client';
import { keys, useDelivery, useSubscription } from '../api/queries';
import { useApi } from '../authContext';
import { AttemptList } from '../components/AttemptList';
import { ErrorMessage, Loading, Notice } from '../components/Feedback';
import { Id } from '../components/Id';
import { SkipDelivery } from '../components/SkipDelivery';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import { prettyJson, shortId } from '../format';
import { paths } from '../paths';

/** After "retry now", keep polling this long even if the status still looks final. */
const AFTER_RETRY_MS = 30_000;

export function DeliveryPage() {
  const { id = '' } = useParams();
  const client = useApi();
  const qc = useQueryClient();
  const [justRetried, setJustRetried] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const delivery = useDelivery(id, justRetried > 0);
  const d = delivery.data;
  const sub = useSubscription(d?.subscription_id ?? '');

  useEffect(() => {
    if (!justRetried) return;
    const t = window.setTimeout(() => setJustRetried(0), AFTER_RETRY_MS);
    return () => window.clearTimeout(t);
  }, [justRetried]);

  const retry = useMutation({
    mutationFn: () => client.retryDelivery(id),
    onSuccess: (next) => {
      qc.setQueryData(keys.delivery(id), next);
      void qc.invalidateQueries({ queryKey: ['deliveries'] });
      setJustRetried((n) => n + 1);
      setNotice('Retry queued. New attempts appear below as they finish.');
    },
  });
  const watching = !!d && (['pending', 'delivering', 'retrying'].includes(d.status) || justRetried > 0);

  return (
    <div className="page">
      <p className="crumbs">
        <Link to={paths.deliveries}>Deliveries</Link> /{' '}
        {d && <><Link to={paths.subscription(d.subscription_id)}>{sub.data?.target_url ?? 'Subscription'}</Link> /</>}
      </p>
      <div className="page-head">
        <h1>Delivery <span className="mono" title={id}>{shortId(id)}</span></h1>
        {d && <StatusBadge status={d.status} />}
      </div>
      {delivery.isPending && <Loading what="Loading delivery" />}
      <ErrorMessage error={delivery.error ? describeError(delivery.error) : null} onRetry={() => delivery.refetch()} />
      {d && (
        <>
          <div className="toolbar" role="group" aria-label="Delivery actions">
            <button type="button" className="primary" onClick={() => retry.mutate()} disabled={retry.isPending}>
              {retry.isPending ? 'Retrying…' : 'Retry now'}
            </button>
            <SkipDelivery
              delivery={d}
              onSkipped={(next) => setNotice(`Skipped: marked failed. Ordering key ${next.ordering_key ?? ''} is released; its next delivery goes now.`)}
            />
            <button type="button" onClick={() => delivery.refetch()}>Refresh</button>
            {watching && <span className="hint" role="status">Watching for new attempts…</span>}
          </div>
          {notice && <Notice onDismiss={() => setNotice(null)}>{notice}</Notice>}
          <ErrorMessage error={retry.error ? describeError(retry.error) : null} />
          {d.status === 'filtered' && (
            <p className="hint" data-testid="filtered-note">
              Filtered: the subscription&apos;s event types or content filter did not take this event, so it was never sent.
            </p>
          )}
          <section className="card" aria-labelledby="summary-title">
            <h2 id="summary-title">Summary</h2>
            <dl className="facts">
              <div className="wide"><dt>Target URL</dt><dd className="mono break" data-testid="target-url">{sub.data?.target_url ?? (sub.isError ? 'subscription deleted' : '…')}</dd></div>
              <div className="wide"><dt>Delivery (task) id</dt><dd><Id value={d.id} full /></dd></div>
              <div className="wide"><dt>Message</dt><dd><Id value={d.message_id} to={paths.message(d.message_id)} full /></dd></div>
              <div className="wide"><dt>Subscription</dt><dd><Id value={d.subscription_id} to={paths.subscription(d.subscription_id)} full /></dd></div>
              <div><dt>Event type</dt><dd className="mono">{d.event_type}</dd></div>
              <div><dt>Ordering key</dt><dd className="mono break" data-testid="ordering-key">{d.ordering_key ?? 'none'}</dd></div>
              <div><dt>Attempts</dt><dd data-testid="attempt-count">{d.attempt_count}</dd></div>
              <div><dt>Last status code</dt><dd>{d.last_status_code ?? '—'}</dd></div>
              <div><dt>Created</dt><dd><Time value={d.created_at} /></dd></div>
              <div><dt>Last attempt</dt><dd><Time value={d.last_attempt_at} /></dd></div>
              <div><dt>Next attempt</dt><dd><Time value={d.next_attempt_at} /></dd></div>
              {d.last_error && <div className="wide"><dt>Last error</dt><dd className="break">{d.last_error}</dd></div>}
            </dl>
          </section>
          <section className="card" aria-labelledby="payload-title">
            <h2 id="payload-title">Payload</h2>
            <pre className="code" data-testid="payload">{prettyJson(d.payload)}</pre>
          </section>
          <section className="card" aria-labelledby="attempts-title">
            <h2 id="attempts-title">Attempts ({d.attempts.length})</h2>
            <AttemptList attempts={d.attempts} targetUrl={sub.data?.target_url} payload={d.payload} />
          </section>
        </>
      )}
    </div>
  );
}
