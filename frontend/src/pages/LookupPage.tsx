/**
 * The header's look-up box: a whole id opens what it names (delivery, message or
 * subscription, found through the list routes); a piece of one (as shown on screen, e.g. `…3f9a1c2b7d4e`, or its start) lists
 * the deliveries, messages and subscriptions whose ids start or end with it, and opens the
 * match when there is only one.
 */
import { useQuery } from '@tanstack/react-query';
import { Link, Navigate, useParams } from 'react-router';
import { describeError, type CourierClient } from '../api/client';
import { useApi } from '../authContext';
import { Empty, ErrorMessage, Loading } from '../components/Feedback';
import { Id } from '../components/Id';
import { StatusBadge } from '../components/StatusBadge';
import { idFragment, isUuid } from '../format';
import { paths } from '../paths';

/** Matches shown per kind; a short piece of a time-ordered id can match many more. */
const SHOWN = 20;

interface Hit {
  kind: 'delivery' | 'message' | 'subscription';
  id: string;
  label: string;
  status?: string;
}

function hrefOf(h: Hit): string {
  return h.kind === 'delivery' ? paths.delivery(h.id) : h.kind === 'message' ? paths.message(h.id) : paths.subscription(h.id);
}

async function findPiece(client: CourierClient, hex: string): Promise<Hit[]> {
  const [d, m, h] = await Promise.all([
    client.searchDeliveries({ id: hex, limit: SHOWN }),
    client.searchMessages({ id: hex, limit: SHOWN }),
    client.getSubscriptionsHealth(),
  ]);
  const subs = h.subscriptions.filter((s) => {
    const plain = s.subscription_id.replace(/-/g, '');
    return plain.startsWith(hex) || plain.endsWith(hex);
  });
  return [
    ...d.items.map((x): Hit => ({ kind: 'delivery', id: x.id, label: `${x.event_type} → ${x.target_url ?? x.subscription_id}`, status: x.status })),
    ...m.items.map((x): Hit => ({ kind: 'message', id: x.id, label: x.event_type })),
    ...subs.map((x): Hit => ({ kind: 'subscription', id: x.subscription_id, label: x.target_url, status: x.status })),
  ];
}

export function LookupPage() {
  const { id: raw = '' } = useParams();
  const client = useApi();
  const text = raw.trim();
  const whole = isUuid(text);
  const hex = whole ? null : idFragment(text);
  const search = useQuery({
    queryKey: ['lookup', text],
    // A whole id is searched like a piece of one: the lists answer 200 with what matches,
    // where GET /deliveries/{id} and friends would answer 404 for the two kinds it is not.
    queryFn: () => findPiece(client, whole ? text.toLowerCase().replace(/-/g, '') : (hex ?? '')),
    enabled: whole || !!hex,
    staleTime: 0,
  });

  if (search.data?.length === 1) return <Navigate to={hrefOf(search.data[0])} replace />;
  return (
    <div className="page">
      <h1>Look up <span className="mono break">{text}</span></h1>
      {!whole && !hex && (
        <ErrorMessage error={`"${text}" is not an id. Paste a whole id, or at least 4 of its characters as shown on screen (e.g. …3f9a1c2b7d4e).`} />
      )}
      {search.isFetching && <Loading what="Looking for deliveries, messages and subscriptions" />}
      <ErrorMessage error={search.error ? describeError(search.error) : null} onRetry={() => search.refetch()} />
      {search.data && search.data.length === 0 && (
        <Empty>Nothing has an id {whole ? 'equal to' : 'starting or ending with'} {text}. It may be older than the retention period.</Empty>
      )}
      {search.data && search.data.length > 1 && (
        <p className="hint">Ids made in the same moment share their start: type more of it, or its end as shown in tables, to narrow this down (at most {SHOWN} of each kind are listed).</p>
      )}
      {search.data && search.data.length > 1 && (
        <ul className="plain-list" data-testid="lookup-results">
          {search.data.map((h) => (
            <li key={`${h.kind}-${h.id}`}>
              <strong>{h.kind}</strong> <Id value={h.id} to={hrefOf(h)} /> {h.status && <StatusBadge status={h.status} />}{' '}
              <Link to={hrefOf(h)} className="break">{h.label}</Link>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
