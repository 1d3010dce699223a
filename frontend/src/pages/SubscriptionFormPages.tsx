import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import type { SubscriptionWithSecret } from '../api/types';
import { useApi } from '../authContext';
import { ErrorMessage, Loading } from '../components/Feedback';
import { SecretDialog } from '../components/SecretDialog';
import { SubscriptionForm } from '../components/SubscriptionForm';
import { toCreateBody, toReplaceBody } from '../components/subscriptionFormModel';
import { useResource } from '../hooks';
import { paths } from '../paths';

export function NewSubscriptionPage() {
  const client = useApi();
  const navigate = useNavigate();
  const [created, setCreated] = useState<SubscriptionWithSecret | null>(null);

  return (
    <div className="page narrow">
      <p className="crumbs"><Link to={paths.subscriptions}>Subscriptions</Link> /</p>
      <h1>New subscription</h1>
      <SubscriptionForm
        submitLabel="Create subscription"
        onSubmit={async (values) => setCreated(await client.createSubscription(toCreateBody(values)))}
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
  const sub = useResource(() => client.getSubscription(id), id);

  return (
    <div className="page narrow">
      <p className="crumbs">
        <Link to={paths.subscriptions}>Subscriptions</Link> / <Link to={paths.subscription(id)}>{sub.data?.target_url ?? id}</Link> /
      </p>
      <h1>Edit subscription</h1>
      {sub.loading && <Loading what="Loading subscription" />}
      <ErrorMessage error={sub.error} onRetry={() => sub.reload()} />
      {sub.data && !sub.loading && (
        <SubscriptionForm
          initial={sub.data}
          submitLabel="Save changes"
          onSubmit={async (values) => {
            await client.replaceSubscription(id, toReplaceBody(values));
            navigate(paths.subscription(id), { state: { notice: 'Changes saved.' } });
          }}
          onCancel={() => navigate(paths.subscription(id))}
        />
      )}
    </div>
  );
}
