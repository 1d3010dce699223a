/**
 * One subscription: its settings (a null timeout or retry schedule reads "server default"; the
 * adaptive concurrency beside its ceiling; the content filter), actions, health
 * over a chosen range with charts, its deliveries (updated in place by the live tail), and
 * recover-since.
 */
import { useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useState, type ReactNode } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { describeError } from '../api/client';
import { keys, useSubscription, useSubscriptionStats } from '../api/queries';
import type { Subscription, SubscriptionWithSecret } from '../api/types';
import { useApi } from '../authContext';
import { ErrorMessage, Loading, Notice } from '../components/Feedback';
import { concurrencyText, describeSchedule } from '../components/flowFields';
import { HealthFacts } from '../components/HealthCells';
import { Id } from '../components/Id';
import { KeyValueTable } from '../components/KeyValueTable';
import { LiveTail } from '../components/LiveTail';
import { ConfirmDialog } from '../components/Modal';
import { RecoverForm } from '../components/RecoverForm';
import { SecretDialog } from '../components/SecretDialog';
import { StatusBadge } from '../components/StatusBadge';
import { SubscriptionDeliveries } from '../components/SubscriptionDeliveries';
import { Time } from '../components/Time';
import { TimeRangePicker } from '../components/TimeRangePicker';
import { prettyJson, taskIds } from '../format';
import { timeoutText } from '../health';
import { paths } from '../paths';
import { describeRange, rangeFromParams, rangeParams } from '../timeRange';
import { useParamState } from '../urlState';

const HealthChart = lazy(() => import('../components/HealthChart'));

type Dialog = 'delete' | 'rotate' | null;

function Details({ s }: { s: Subscription }) {
  return (
    <section className="card" aria-labelledby="details-title">
      <h2 id="details-title">Details</h2>
      <dl className="facts">
        <div className="wide"><dt>Id</dt><dd><Id value={s.id} full /></dd></div>
        <div><dt>Event types</dt><dd className="mono">{s.event_types.length ? s.event_types.join(', ') : 'all events'}</dd></div>
        <div><dt>Description</dt><dd>{s.description || '—'}</dd></div>
        <div><dt>Rate limit</dt><dd>{s.rate_limit_per_second == null ? 'none' : `${s.rate_limit_per_second} / s`}</dd></div>
        <div>
          <dt>In flight now (of max)</dt>
          <dd data-testid="concurrency" title="Adaptive: halved when the receiver times out or answers 429/503, grown back on fast successes">
            {concurrencyText(s.current_concurrency, s.max_in_flight)}
          </dd>
        </div>
        <div><dt>Timeout</dt><dd data-testid="timeout">{timeoutText(s.timeout_ms)}</dd></div>
        <div><dt>Retry schedule</dt><dd data-testid="retry-schedule" className="mono">{describeSchedule(s.retry_schedule)}</dd></div>
        <div><dt>Ingest needs a signature</dt><dd>{s.requires_signature ? 'yes' : 'no (API key)'}</dd></div>
        <div><dt>Created</dt><dd><Time value={s.created_at} /></dd></div>
        <div><dt>Updated</dt><dd><Time value={s.updated_at} /></dd></div>
        <div className="wide">
          <dt>Content filter</dt>
          <dd data-testid="filter">
            {s.filter == null ? 'none: every event its types take' : <pre className="code">{prettyJson(s.filter)}</pre>}
          </dd>
        </div>
      </dl>
      <KeyValueTable values={s.headers} caption="Extra request headers" />
    </section>
  );
}

function Health({ id }: { id: string }) {
  const { params, patch } = useParamState();
  const range = rangeFromParams(params, { preset: '24h' }, 'stats_');
  const stats = useSubscriptionStats(id, range);
  return (
    <section className="card" aria-labelledby="health-title">
      <div className="card-head">
        <h2 id="health-title">Health</h2>
        <TimeRangePicker value={range} onChange={(r) => patch(rangeParams(r, 'stats_'), { keepPage: true })} id="stats-range" />
      </div>
      <p className="hint">Over {describeRange(range)}. First-try success counts first attempts; eventual success counts finished deliveries, retries included.</p>
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

export function SubscriptionPage() {
  const { id = '' } = useParams();
  const client = useApi();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  const sub = useSubscription(id);
  const [notice, setNotice] = useState<ReactNode>((location.state as { notice?: string } | null)?.notice ?? null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [rotated, setRotated] = useState<SubscriptionWithSecret | null>(null);
  const [unseen, setUnseen] = useState(0);

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
        {sub.isPending && <Loading what="Loading subscription" />}
        <ErrorMessage error={sub.error ? describeError(sub.error) : null} onRetry={() => sub.refetch()} />
      </div>
    );
  }

  const update = (next: Subscription) => {
    qc.setQueryData(keys.subscription(id), next);
    // Answers to actions do not carry the adaptive concurrency: read the subscription again.
    void qc.invalidateQueries({ queryKey: keys.subscription(id) });
  };
  const refreshDeliveries = () => void qc.invalidateQueries({ queryKey: ['deliveries'] });

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
        <Link to={paths.editSubscription(s.id)} className="button">Edit</Link>
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
              const ids = r.delivery_id ? [r.delivery_id] : taskIds(r.task_id as unknown as string | string[]);
              setNotice(
                r.status === 'filtered' ? (
                  "The test event was accepted but filtered: this subscription's event types or content filter do not take it."
                ) : (
                  <>
                    Test event sent. {ids[0] && <Link to={paths.delivery(ids[0])}>Open its delivery</Link>}
                  </>
                ),
              );
              refreshDeliveries();
            })
          }
        >
          Send test event
        </button>
        <button type="button" disabled={busy} onClick={() => setDialog('rotate')}>Rotate secret</button>
        <Link to={paths.deliveriesWhere({ subscription_id: s.id })} className="button">Open in explorer</Link>
        <button type="button" className="danger" disabled={busy} onClick={() => setDialog('delete')}>Delete</button>
      </div>

      <Details s={s} />
      <Health id={s.id} />
      <SubscriptionDeliveries subscriptionId={s.id} unseen={unseen} onShowNew={() => setUnseen(0)} />
      <RecoverForm subscriptionId={s.id} onRecovered={refreshDeliveries} />
      <LiveTail
        subscriptionId={s.id}
        title="Live attempts for this subscription"
        onAttempt={(e, known) => {
          if (!known && e.attempt.attempt_number === 1) setUnseen((n) => n + 1);
        }}
      />

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
              // Its own cached copy stays until this page unmounts: dropping it now would make
              // the still-mounted page fetch it again and get a 404.
              void qc.invalidateQueries({ queryKey: ['subscriptions'] });
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
