/**
 * An application's consumer-portal links: make one (lifetime, read-only) and copy its URL —
 * shown once, since only the link's hash is kept —, list the live ones, revoke one (which
 * also ends the session it opened).
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { describeError } from '../api/client';
import { portalLinks, type PortalLink, type PortalLinkCreated } from '../api/tenancy';
import { useApi } from '../authContext';
import { Empty, ErrorMessage, Loading } from './Feedback';
import { ConfirmDialog } from './Modal';
import { SecretDialog } from './SecretDialog';
import { Time } from './Time';

const TTLS = [['1h', '1 hour'], ['8h', '8 hours'], ['1d', '1 day'], ['7d', '7 days']] as const;

export function PortalLinksCard({ app }: { app: string }) {
  const client = useApi();
  const qc = useQueryClient();
  const key = ['portal-links', app];
  const list = useQuery({ queryKey: key, queryFn: () => portalLinks.list(client, app) });
  const [ttl, setTtl] = useState('1h');
  const [readOnly, setReadOnly] = useState(false);
  const [created, setCreated] = useState<PortalLinkCreated | null>(null);
  const [revoking, setRevoking] = useState<PortalLink | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function run(fn: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await fn();
      void qc.invalidateQueries({ queryKey: key });
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  }

  function create(e: FormEvent) {
    e.preventDefault();
    void run(async () => setCreated(await portalLinks.create(client, app, { ttl, read_only: readOnly })));
  }

  return (
    <section className="card" aria-labelledby="links-title">
      <h2 id="links-title">Consumer portal links</h2>
      <p className="hint">A link opens this application's portal once, for its customer to manage their endpoints and see their deliveries.</p>
      <form className="inline-form" onSubmit={create}>
        <div className="field">
          <label htmlFor="link-ttl">Valid for</label>
          <select id="link-ttl" value={ttl} onChange={(e) => setTtl(e.target.value)}>
            {TTLS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
          </select>
        </div>
        <label className="check"><input type="checkbox" checked={readOnly} onChange={(e) => setReadOnly(e.target.checked)} /> Read-only</label>
        <button type="submit" disabled={busy}>Create portal link</button>
      </form>
      <ErrorMessage error={error ?? (list.error ? describeError(list.error) : null)} />
      {list.isPending && <Loading what="Loading portal links" />}
      {list.data && (list.data.items.length === 0 ? <Empty>No live portal links.</Empty> : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Live portal links</caption>
            <thead><tr><th scope="col">Made</th><th scope="col">Expires</th><th scope="col">Access</th><th scope="col">Opened</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {list.data.items.map((l) => (
                <tr key={l.id} data-testid="link-row" data-link-id={l.id}>
                  <td><Time value={l.created_at} /></td>
                  <td><Time value={l.expires_at} /></td>
                  <td>{l.read_only ? 'read-only' : 'full'}</td>
                  <td>{l.used_at ? <Time value={l.used_at} /> : 'not yet'}</td>
                  <td><button type="button" className="danger" onClick={() => setRevoking(l)}>Revoke</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
      {created && (
        <SecretDialog
          title="New portal link"
          label="Portal link"
          secret={created.url}
          doneLabel="Done"
          intro={<p>Send this link to the customer, or put it in an iframe on your site. It opens once, until <Time value={created.expires_at} />; this is the only time it is shown.</p>}
          onClose={() => setCreated(null)}
        />
      )}
      {revoking && (
        <ConfirmDialog title="Revoke this portal link?" confirmLabel="Revoke link" danger busy={busy} error={error} onCancel={() => setRevoking(null)}
          onConfirm={() => run(async () => { await portalLinks.revoke(client, app, revoking.id); setRevoking(null); })}>
          <p>The link can no longer be opened{revoking.used_at ? ', and the portal session it opened ends at once' : ''}.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
