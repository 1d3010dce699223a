import { useState, type ReactNode } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { describeError } from '../api/client';
import type { Subscription, SubscriptionWithSecret } from '../api/types';
import { useApi } from '../authContext';
import { ErrorMessage, Loading, Notice } from '../components/Feedback';
import { KeyValueTable } from '../components/KeyValueTable';
import { LiveTail } from '../components/LiveTail';
import { ConfirmDialog } from '../components/Modal';
import { RecoverForm } from '../components/RecoverForm';
import { SecretDialog } from '../components/SecretDialog';
import { StatusBadge } from '../components/StatusBadge';
import { SubscriptionDeliveries } from '../components/SubscriptionDeliveries';
import { Time } from '../components/Time';
import { taskIds } from '../format';
import { useResource } from '../hooks';
import { paths } from '../paths';

type Dialog = 'delete' | 'rotate' | null;

export function SubscriptionPage() {
  const { id = '' } = useParams();
  const client = useApi();
  const navigate = useNavigate();
  const location = useLocation();
  const sub = useResource(() => client.getSubscription(id), id);
  const [notice, setNotice] = useState<ReactNode>((location.state as { notice?: string } | null)?.notice ?? null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [rotated, setRotated] = useState<SubscriptionWithSecret | null>(null);
  const [refreshSignal, setRefreshSignal] = useState(0);

  async function act(run: () => Promise<void>) {
    setBusy(true);
    setActionError(null);
    setNotice(null);
    try {
      await run();
    } catch (e) {
      setActionError(describeError(e));
    } finally {
      setBusy(false);
    }
  }

  const s = sub.data;
  if (!s) {
    return (
      <div className="page">
        <p className="crumbs"><Link to={paths.subscriptions}>Subscriptions</Link> /</p>
        <h1>Subscription</h1>
        {sub.loading && <Loading what="Loading subscription" />}
        <ErrorMessage error={sub.error} onRetry={() => sub.reload()} />
      </div>
    );
  }

  const update = (next: Subscription) => sub.setData(next);

  return (
    <div className="page">
      <p className="crumbs"><Link to={paths.subscriptions}>Subscriptions</Link> /</p>
      <div className="page-head">
        <h1 className="break">{s.target_url}</h1>
        <StatusBadge status={s.status} />
      </div>
      {s.disabled_reason && <p className="error">Disabled: {s.disabled_reason}</p>}
      {notice && <Notice onDismiss={() => setNotice(null)}>{notice}</Notice>}
      <ErrorMessage error={actionError} />
      <div className="toolbar" role="group" aria-label="Subscription actions">
        <Link to={paths.editSubscription(s.id)} className="button">
          Edit
        </Link>
        {s.status === 'active' ? (
          <button type="button" disabled={busy} onClick={() => act(async () => { update(await client.pauseSubscription(s.id)); setNotice('Paused: new deliveries are held until you resume.'); })}>
            Pause
          </button>
        ) : (
          <button type="button" disabled={busy} onClick={() => act(async () => { update(await client.resumeSubscription(s.id)); setNotice('Resumed: held deliveries are being sent.'); })}>
            Resume
          </button>
        )}
        <button
          type="button"
          disabled={busy}
          onClick={() =>
            act(async () => {
              const r = await client.sendTestEvent(s.id);
              const ids = r.delivery_id ? [r.delivery_id] : taskIds(r.task_id);
              setNotice(
                r.status === 'filtered' ? (
                  'The test event was accepted but filtered: this subscription does not take courier.test events.'
                ) : (
                  <>
                    Test event sent.{' '}
                    {ids[0] && <Link to={paths.delivery(ids[0])}>Open its delivery</Link>}
                  </>
                ),
              );
              setRefreshSignal((n) => n + 1);
            })
          }
        >
          Send test event
        </button>
        <button type="button" disabled={busy} onClick={() => setDialog('rotate')}>
          Rotate secret
        </button>
        <button type="button" className="danger" disabled={busy} onClick={() => setDialog('delete')}>
          Delete
        </button>
      </div>

      <section className="card" aria-labelledby="details-title">
        <h2 id="details-title">Details</h2>
        <dl className="facts">
          <div><dt>Id</dt><dd className="mono">{s.id}</dd></div>
          <div><dt>Event types</dt><dd className="mono">{s.event_types.length ? s.event_types.join(', ') : 'all events'}</dd></div>
          <div><dt>Description</dt><dd>{s.description || '—'}</dd></div>
          <div><dt>Rate limit</dt><dd>{s.rate_limit_per_second === null ? 'none' : `${s.rate_limit_per_second} / s`}</dd></div>
          <div><dt>Max in flight</dt><dd>{s.max_in_flight}</dd></div>
          <div><dt>Timeout</dt><dd>{s.timeout_ms} ms</dd></div>
          <div><dt>Ingest needs a signature</dt><dd>{s.requires_signature ? 'yes' : 'no (API key)'}</dd></div>
          <div><dt>Created</dt><dd><Time value={s.created_at} /></dd></div>
          <div><dt>Updated</dt><dd><Time value={s.updated_at} /></dd></div>
        </dl>
        <KeyValueTable values={s.headers} caption="Extra request headers" />
      </section>

      <SubscriptionDeliveries subscriptionId={s.id} refreshSignal={refreshSignal} />
      <RecoverForm subscriptionId={s.id} onRecovered={() => setRefreshSignal((n) => n + 1)} />
      <LiveTail subscriptionId={s.id} title="Live attempts for this subscription" onAttempt={() => setRefreshSignal((n) => n + 1)} />

      {dialog === 'delete' && (
        <ConfirmDialog
          title="Delete this subscription?"
          confirmLabel="Delete subscription"
          danger
          busy={busy}
          error={actionError}
          onCancel={() => setDialog(null)}
          onConfirm={() =>
            act(async () => {
              await client.deleteSubscription(s.id);
              navigate(paths.subscriptions, { replace: true });
            })
          }
        >
          <p>
            Deliveries to <strong className="break">{s.target_url}</strong> stop, including pending ones. The delivery log stays until
            retention removes it. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
      {dialog === 'rotate' && (
        <ConfirmDialog
          title="Rotate the signing secret?"
          confirmLabel="Rotate secret"
          busy={busy}
          error={actionError}
          onCancel={() => setDialog(null)}
          onConfirm={() =>
            act(async () => {
              const r = await client.rotateSecret(s.id);
              setDialog(null);
              setRotated(r);
              const { secret: _drop, ...rest } = r;
              void _drop;
              update(rest);
            })
          }
        >
          <p>Courier generates a new secret. The old one keeps signing beside it for a while (24 h by default) so receivers can switch over.</p>
        </ConfirmDialog>
      )}
      {rotated && (
        <SecretDialog
          title="New signing secret"
          secret={rotated.secret}
          onClose={() => {
            setRotated(null);
            setNotice('Secret rotated.');
          }}
        />
      )}
    </div>
  );
}
