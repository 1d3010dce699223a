import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { describeError } from '../api/client';
import { useApi } from '../authContext';
import { AttemptList } from '../components/AttemptList';
import { ErrorMessage, Loading, Notice } from '../components/Feedback';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import { prettyJson } from '../format';
import { useInterval, useResource } from '../hooks';
import { paths } from '../paths';

const IN_PROGRESS = new Set(['pending', 'delivering', 'retrying']);
/** After "retry now", keep polling this long even if the status still looks final. */
const AFTER_RETRY_MS = 30_000;

export function DeliveryPage() {
  const { id = '' } = useParams();
  const client = useApi();
  const delivery = useResource(() => client.getDelivery(id), id);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [justRetried, setJustRetried] = useState(0);

  const d = delivery.data;
  const watching = !!d && (IN_PROGRESS.has(d.status) || justRetried > 0);
  useEffect(() => {
    if (!justRetried) return;
    const t = window.setTimeout(() => setJustRetried(0), AFTER_RETRY_MS);
    return () => window.clearTimeout(t);
  }, [justRetried]);
  useInterval(() => delivery.reload(true), 2000, watching);

  async function retry() {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      delivery.setData(await client.retryDelivery(id));
      setJustRetried((n) => n + 1);
      setNotice('Retry queued. New attempts appear below as they finish.');
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="page">
      <p className="crumbs">
        {d ? <Link to={paths.subscription(d.subscription_id)}>Subscription</Link> : <Link to={paths.subscriptions}>Subscriptions</Link>} /
      </p>
      <div className="page-head">
        <h1>Delivery <span className="mono">{id.slice(0, 8)}</span></h1>
        {d && <StatusBadge status={d.status} />}
      </div>
      {delivery.loading && !d && <Loading what="Loading delivery" />}
      <ErrorMessage error={delivery.error} onRetry={() => delivery.reload()} />
      {d && (
        <>
          <div className="toolbar" role="group" aria-label="Delivery actions">
            <button type="button" className="primary" onClick={retry} disabled={busy}>
              {busy ? 'Retrying…' : 'Retry now'}
            </button>
            <button type="button" onClick={() => delivery.reload(true)}>
              Refresh
            </button>
            {watching && <span className="hint" role="status">Watching for new attempts…</span>}
          </div>
          {notice && <Notice onDismiss={() => setNotice(null)}>{notice}</Notice>}
          <ErrorMessage error={error} />
          <section className="card" aria-labelledby="summary-title">
            <h2 id="summary-title">Summary</h2>
            <dl className="facts">
              <div><dt>Delivery (task) id</dt><dd className="mono">{d.id}</dd></div>
              <div><dt>Message</dt><dd><Link to={paths.message(d.message_id)} className="mono">{d.message_id}</Link></dd></div>
              <div><dt>Subscription</dt><dd><Link to={paths.subscription(d.subscription_id)} className="mono">{d.subscription_id}</Link></dd></div>
              <div><dt>Event type</dt><dd className="mono">{d.event_type}</dd></div>
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
            <AttemptList attempts={d.attempts} />
          </section>
        </>
      )}
    </div>
  );
}
