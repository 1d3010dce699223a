/**
 * One application: edit it (name, uid, retention, portal brand, metadata), look at its
 * subscriptions and deliveries (switches the dashboard to it), its API keys and portal
 * links, and delete it.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { describeError } from '../../api/client';
import { applications } from '../../api/tenancy';
import { useApi, useAuth } from '../../authContext';
import { ApiKeysCard } from '../../components/ApiKeysCard';
import { ApplicationForm } from '../../components/ApplicationForm';
import { ErrorMessage, Loading, Notice } from '../../components/Feedback';
import { Id } from '../../components/Id';
import { ConfirmDialog } from '../../components/Modal';
import { PortalLinksCard } from '../../components/PortalLinksCard';
import { paths } from '../../paths';

export function ApplicationPage() {
  const { app = '' } = useParams();
  const client = useApi();
  const { setApp } = useAuth();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  const one = useQuery({ queryKey: ['application', app], queryFn: () => applications.get(client, app) });
  const [notice, setNotice] = useState<string | null>((location.state as { notice?: string } | null)?.notice ?? null);
  const [deleting, setDeleting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const a = one.data;
  return (
    <div className="page">
      <p className="crumbs"><Link to={paths.applications}>Applications</Link> /</p>
      <div className="page-head">
        <h1>{a ? a.name : 'Application'}</h1>
        {a && (
          <button type="button" className="primary" onClick={() => { setApp(a.uid); navigate(paths.subscriptions); }}>
            View its subscriptions and deliveries
          </button>
        )}
      </div>
      {notice && <Notice onDismiss={() => setNotice(null)}>{notice}</Notice>}
      {one.isPending && <Loading what="Loading application" />}
      <ErrorMessage error={one.error ? describeError(one.error) : null} />
      {a && (
        <>
          <p className="hint">uid <code>{a.uid}</code> · id <Id value={a.id} full /></p>
          <ApplicationForm
            key={a.updated_at}
            initial={a}
            submitLabel="Save application"
            onCancel={() => navigate(paths.applications)}
            onSubmit={async (body) => {
              const next = await applications.patch(client, a.uid, body);
              qc.setQueryData(['application', next.uid], next);
              void qc.invalidateQueries({ queryKey: ['applications'] });
              setNotice('Application saved.');
              if (next.uid !== a.uid) navigate(paths.application(next.uid), { replace: true });
            }}
          />
          <ApiKeysCard app={a.uid} />
          <PortalLinksCard app={a.uid} />
          {!a.builtin && (
            <section className="card">
              <h2>Delete</h2>
              <button type="button" className="danger" onClick={() => setDeleting(true)}>Delete application</button>
            </section>
          )}
        </>
      )}
      {a && deleting && (
        <ConfirmDialog title="Delete this application?" confirmLabel="Delete application" danger error={error} onCancel={() => setDeleting(false)}
          onConfirm={async () => {
            try {
              await applications.remove(client, a.uid);
              void qc.invalidateQueries({ queryKey: ['applications'] });
              navigate(paths.applications, { replace: true });
            } catch (e) {
              setError(describeError(e));
            }
          }}>
          <p>Its subscriptions stop, its keys and portal links are revoked at once. The delivery log stays until retention removes it.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
