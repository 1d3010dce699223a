/** Adding an endpoint (its secret shown once, then its page) and editing one. */
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { describeError } from '../../api/client';
import { keys, useSubscription } from '../../api/queries';
import type { SubscriptionWithSecret } from '../../api/types';
import { useApi } from '../../authContext';
import { ErrorMessage, Loading } from '../../components/Feedback';
import { SecretDialog } from '../../components/SecretDialog';
import { usePortal } from '../portalContext';
import { portalPaths } from '../paths';
import { EndpointForm } from './EndpointForm';

function ReadOnlyNote() {
  return <p className="error">This portal link is read-only: endpoints can be viewed but not changed.</p>;
}

export function NewEndpointPage() {
  const client = useApi();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const { readOnly } = usePortal();
  const [created, setCreated] = useState<SubscriptionWithSecret | null>(null);
  return (
    <div className="page">
      <p className="crumbs"><Link to={portalPaths.endpoints}>Endpoints</Link> /</p>
      <h1>Add endpoint</h1>
      {readOnly ? (
        <ReadOnlyNote />
      ) : (
        <EndpointForm
          submitLabel="Add endpoint"
          onCancel={() => navigate(portalPaths.endpoints)}
          onSubmit={async (v) => {
            const s = (await client.createSubscription({ ...v, description: v.description || undefined })) as SubscriptionWithSecret;
            void qc.invalidateQueries({ queryKey: ['subscriptions'] });
            setCreated(s);
          }}
        />
      )}
      {created && (
        <SecretDialog
          title="Your endpoint's signing secret"
          secret={created.secret}
          onClose={() => navigate(portalPaths.endpoint(created.id), { replace: true, state: { notice: 'Endpoint added.' } })}
        >
          <p>Every webhook to this endpoint is signed with it (the <code>webhook-signature</code> and <code>X-Hub-Signature-256</code> headers).</p>
        </SecretDialog>
      )}
    </div>
  );
}

export function EditEndpointPage() {
  const { id = '' } = useParams();
  const client = useApi();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const { readOnly } = usePortal();
  const sub = useSubscription(id);
  return (
    <div className="page">
      <p className="crumbs"><Link to={portalPaths.endpoints}>Endpoints</Link> /</p>
      <h1>Edit endpoint</h1>
      {sub.isPending && <Loading what="Loading endpoint" />}
      <ErrorMessage error={sub.error ? describeError(sub.error) : null} />
      {readOnly && <ReadOnlyNote />}
      {sub.data && !readOnly && (
        <EndpointForm
          initial={sub.data}
          submitLabel="Save endpoint"
          onCancel={() => navigate(portalPaths.endpoint(id))}
          onSubmit={async (v) => {
            const s = await client.patchSubscription(id, { ...v, description: v.description || null });
            qc.setQueryData(keys.subscription(id), s);
            void qc.invalidateQueries({ queryKey: ['subscriptions'] });
            navigate(portalPaths.endpoint(id), { state: { notice: 'Endpoint saved.' } });
          }}
        />
      )}
    </div>
  );
}
