/** Finds what an id names: a delivery (task) first, then a message, and opens its page. */
import { useEffect, useState } from 'react';
import { Navigate, useParams } from 'react-router';
import { ApiError, describeError } from '../api/client';
import { useApi } from '../authContext';
import { ErrorMessage, Loading } from '../components/Feedback';
import { isUuid } from '../format';
import { paths } from '../paths';

type Result = { kind: 'delivery' | 'message' } | { kind: 'none' | 'error'; text: string };

const notFound = (e: unknown) => e instanceof ApiError && (e.status === 404 || e.status === 400);

export function LookupPage() {
  const { id = '' } = useParams();
  const client = useApi();
  const [result, setResult] = useState<{ id: string; r: Result } | null>(null);

  useEffect(() => {
    let live = true;
    const done = (r: Result) => live && setResult({ id, r });
    if (!isUuid(id)) {
      done({ kind: 'none', text: `"${id}" is not an id: Courier ids look like 3f2b8c1e-…-…, 36 characters.` });
      return;
    }
    (async () => {
      try {
        await client.getDelivery(id);
        return done({ kind: 'delivery' });
      } catch (e) {
        if (!notFound(e)) return done({ kind: 'error', text: describeError(e) });
      }
      try {
        await client.getMessage(id);
        return done({ kind: 'message' });
      } catch (e) {
        if (!notFound(e)) return done({ kind: 'error', text: describeError(e) });
      }
      done({ kind: 'none', text: `No delivery or message has the id ${id}. It may be older than the retention period.` });
    })();
    return () => {
      live = false;
    };
  }, [client, id]);

  const r = result?.id === id ? result.r : null;
  if (r?.kind === 'delivery') return <Navigate to={paths.delivery(id)} replace />;
  if (r?.kind === 'message') return <Navigate to={paths.message(id)} replace />;
  return (
    <div className="page">
      <h1>Look up <span className="mono break">{id}</span></h1>
      {!r && <Loading what="Looking for a delivery or message with this id" />}
      {r && 'text' in r && <ErrorMessage error={r.text} />}
    </div>
  );
}
