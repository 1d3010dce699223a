import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import type { SubscriptionWithSecret } from '../api/types';
import { useApi } from '../authContext';
import { ErrorMessage, Loading } from '../components/Feedback';
import { SecretDialog } from '../components/SecretDialog';
import { SubscriptionForm } from '../components/SubscriptionForm';
import { toCreateBody, toReplaceBody } from '../components/subscriptionFormModel';
import { describeError } from '../api/client';
import { keys, useSubscription } from '../api/queries';
import { paths } from '../paths';

export function NewSubscriptionPage() {
  const client = useApi();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [created, setCreated] = useState<SubscriptionWithSecret | null>(null);

  return (
    <div className="page narrow">
      <p className="crumbs"><Link to={paths.subscriptions}>Subscriptions</Link> /</p>
      <h1>New subscription</h1>
      <SubscriptionForm
        submitLabel="Create subscription"
        onSubmit={async (values) => {
          setCreated(await client.createSubscription(toCreateBody(values)));
          void qc.invalidateQueries({ queryKey: ['subscriptions'] });
        }}
        onCancel={() => navigate(paths.subscriptions)}
      />
      {created && (
        <SecretDialog
          title="Subscription created"
          secret={created.secret}
          onClose={() => {
            const id = created.id;
            setCreated(null); // drop the only copy of the secret
            navigate(paths.subscription(id));
          }}
        />
      )}
    </div>
  );
}

export function EditSubscriptionPage() {
  const { id = '' } = useParams();
  const client = useApi();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const sub = useSubscription(id);

  return (
    <div className="page narrow">
      <p className="crumbs">
        <Link to={paths.subscriptions}>Subscriptions</Link> / <Link to={paths.subscription(id)}>{sub.data?.target_url ?? id}</Link> /
      </p>
      <h1>Edit subscription</h1>
      {sub.isPending && <Loading what="Loading subscription" />}
      <ErrorMessage error={sub.error ? describeError(sub.error) : null} onRetry={() => sub.refetch()} />
      {sub.data && (
        <SubscriptionForm
          initial={sub.data}
          submitLabel="Save changes"
          onSubmit={async (values) => {
            qc.setQueryData(keys.subscription(id), await client.replaceSubscription(id, toReplaceBody(values)));
            // The answer to PUT does not carry the adaptive concurrency: read the subscription again.
            void qc.invalidateQueries({ queryKey: keys.subscription(id) });
            void qc.invalidateQueries({ queryKey: ['subscriptions'] });
            navigate(paths.subscription(id), { state: { notice: 'Changes saved.' } });
          }}
          onCancel={() => navigate(paths.subscription(id))}
        />
      )}
    </div>
  );
}
