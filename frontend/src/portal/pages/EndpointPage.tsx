/**
 * One endpoint: its settings, actions (edit, pause or resume, send a test event, rotate the
 * secret — shown once, with how long the previous one keeps signing — and delete), its
 * success rate and latency over a chosen range, its deliveries, and recover-since. A
 * read-only session sees everything and no action.
 */
import { useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useState, type ReactNode } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { describeError } from '../../api/client';
import { keys, useSubscription, useSubscriptionStats } from '../../api/queries';
import type { Subscription, SubscriptionWithSecret } from '../../api/types';
import { useApi } from '../../authContext';
import { ErrorMessage, Loading, Notice } from '../../components/Feedback';
import { HealthFacts } from '../../components/HealthCells';
import { Id } from '../../components/Id';
import { ConfirmDialog } from '../../components/Modal';
import { RecoverForm } from '../../components/RecoverForm';
import { SecretDialog } from '../../components/SecretDialog';
import { StatusBadge } from '../../components/StatusBadge';
import { Time } from '../../components/Time';
import { TimeRangePicker } from '../../components/TimeRangePicker';
import { formatTime } from '../../format';
import { describeRange, rangeFromParams, rangeParams } from '../../timeRange';
import { useParamState } from '../../urlState';
import { usePortal } from '../portalContext';
import { portalPaths } from '../paths';
import { PortalDeliveries } from './PortalDeliveries';

const HealthChart = lazy(() => import('../../components/HealthChart'));

function Health({ id }: { id: string }) {
  const { params, patch } = useParamState();
  const range = rangeFromParams(params, { preset: '24h' }, 'stats_');
  const stats = useSubscriptionStats(id, range);
  return (
    <section className="card" aria-labelledby="health-title">
      <div className="card-head">
        <h2 id="health-title">Success rate and latency</h2>
        <TimeRangePicker value={range} onChange={(r) => patch(rangeParams(r, 'stats_'), { keepPage: true })} id="stats-range" />
      </div>
      <p className="hint">Over {describeRange(range)}.</p>
      <ErrorMessage error={stats.error ? describeError(stats.error) : null} onRetry={() => stats.refetch()} />
      {stats.isPending && <Loading what="Loading health" />}
      {stats.data && (
        <>
          <HealthFacts h={stats.data.health} />
          <Suspense fallback={<Loading what="Drawing charts" />}>
            <HealthChart series={stats.data.series} />
          </Suspense>
        </>
      )}
    </section>
  );
}

function Details({ s }: { s: Subscription }) {
  return (
    <section className="card" aria-labelledby="details-title">
      <h2 id="details-title">Endpoint</h2>
      <dl className="facts">
        <div className="wide"><dt>Id</dt><dd><Id value={s.id} full /></dd></div>
        <div><dt>Events</dt><dd className="mono">{s.event_types.length ? s.event_types.join(', ') : 'all events'}</dd></div>
        <div><dt>Description</dt><dd>{s.description || '—'}</dd></div>
        <div><dt>Created</dt><dd><Time value={s.created_at} /></dd></div>
        <div><dt>Updated</dt><dd><Time value={s.updated_at} /></dd></div>
      </dl>
    </section>
  );
}

type Dialog = 'delete' | 'rotate' | null;

export function EndpointPage() {
  const { id = '' } = useParams();
  const client = useApi();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  const { readOnly, session } = usePortal();
  const sub = useSubscription(id);
  const [notice, setNotice] = useState<ReactNode>((location.state as { notice?: string } | null)?.notice ?? null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [rotated, setRotated] = useState<{ secret: string; until: string } | null>(null);

  async function act(run: () => Promise<void>) {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      await run();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  }

  const s = sub.data;
  if (!s) {
    return (
      <div className="page">
        <p className="crumbs"><Link to={portalPaths.endpoints}>Endpoints</Link> /</p>
        <h1>Endpoint</h1>
        {sub.isPending && <Loading what="Loading endpoint" />}
        <ErrorMessage error={sub.error ? describeError(sub.error) : null} onRetry={() => sub.refetch()} />
      </div>
    );
  }
  const update = (next: Subscription) => qc.setQueryData(keys.subscription(id), next);
  const refresh = () => void qc.invalidateQueries({ queryKey: ['portal-deliveries', id] });

  return (
    <div className="page">
      <p className="crumbs"><Link to={portalPaths.endpoints}>Endpoints</Link> /</p>
      <div className="page-head">
        <h1 className="break">{s.target_url}</h1>
        <StatusBadge status={s.status} />
      </div>
      {s.disabled_reason && <p className="error">Disabled: {s.disabled_reason}</p>}
      {notice && <Notice onDismiss={() => setNotice(null)}>{notice}</Notice>}
      <ErrorMessage error={error} />
      {readOnly ? (
        <p className="hint">This portal link is read-only: you can see everything here but change nothing.</p>
      ) : (
        <div className="toolbar" role="group" aria-label="Endpoint actions">
          <Link to={portalPaths.editEndpoint(s.id)} className="button">Edit</Link>
          {s.status === 'active' ? (
            <button type="button" disabled={busy} onClick={() => act(async () => { update(await client.pauseSubscription(s.id)); setNotice('Paused: new deliveries are held until you resume.'); })}>Pause</button>
          ) : (
            <button type="button" disabled={busy} onClick={() => act(async () => { update(await client.resumeSubscription(s.id)); setNotice('Resumed: held deliveries are being sent.'); })}>Resume</button>
          )}
          <button type="button" disabled={busy} onClick={() => act(async () => { await client.sendTestEvent(s.id); setNotice('Test event sent: it appears under Deliveries.'); refresh(); })}>Send test event</button>
          <button type="button" disabled={busy} onClick={() => setDialog('rotate')}>Rotate secret</button>
          <button type="button" className="danger" disabled={busy} onClick={() => setDialog('delete')}>Delete</button>
        </div>
      )}
      <Details s={s} />
      <Health id={s.id} />
      <PortalDeliveries endpointId={s.id} />
      {!readOnly && <RecoverForm subscriptionId={s.id} onRecovered={refresh} />}

      {dialog === 'delete' && (
        <ConfirmDialog title="Delete this endpoint?" confirmLabel="Delete endpoint" danger busy={busy} error={error} onCancel={() => setDialog(null)}
          onConfirm={() => act(async () => {
            await client.deleteSubscription(s.id);
            void qc.invalidateQueries({ queryKey: ['subscriptions'] });
            navigate(portalPaths.endpoints, { replace: true });
          })}>
          <p>Webhooks to <strong className="break">{s.target_url}</strong> stop, pending ones included. This cannot be undone.</p>
        </ConfirmDialog>
      )}
      {dialog === 'rotate' && (
        <ConfirmDialog title="Rotate the signing secret?" confirmLabel="Rotate secret" busy={busy} error={error} onCancel={() => setDialog(null)}
          onConfirm={() => act(async () => {
            const r: SubscriptionWithSecret = await client.rotateSecret(s.id);
            const until = new Date(Date.parse(r.updated_at) + session.secret_overlap_secs * 1000).toISOString();
            setDialog(null);
            setRotated({ secret: r.secret, until });
            const { secret: _drop, ...rest } = r;
            void _drop;
            update(rest);
          })}>
          <p>A new secret is made. The current one keeps signing beside it for {Math.round(session.secret_overlap_secs / 3600)} h, so your receiver can switch over.</p>
        </ConfirmDialog>
      )}
      {rotated && (
        <SecretDialog title="New signing secret" secret={rotated.secret} onClose={() => { setRotated(null); setNotice('Secret rotated.'); }}>
          <p data-testid="secret-overlap">
            The previous secret keeps signing beside this one until <strong>{formatTime(rotated.until)}</strong>: webhooks carry both signatures until then.
          </p>
        </SecretDialog>
      )}
    </div>
  );
}
