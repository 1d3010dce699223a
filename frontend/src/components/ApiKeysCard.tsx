/** An application's API keys: list, create (the key shown once), revoke. */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { describeError } from '../api/client';
import { apiKeys, type ApiKey, type ApiKeyCreated } from '../api/tenancy';
import { useApi } from '../authContext';
import { Empty, ErrorMessage, Loading } from './Feedback';
import { ConfirmDialog } from './Modal';
import { SecretDialog } from './SecretDialog';
import { Time } from './Time';

export function ApiKeysCard({ app }: { app: string }) {
  const client = useApi();
  const qc = useQueryClient();
  const key = ['api-keys', app];
  const list = useQuery({ queryKey: key, queryFn: () => apiKeys.list(client, { application: app, limit: 100 }) });
  const [name, setName] = useState('');
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
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
    if (!name.trim()) return setError('Name the key (who or what uses it).');
    void run(async () => {
      setCreated(await apiKeys.create(client, { name: name.trim(), scope: 'application', application: app }));
      setName('');
    });
  }

  return (
    <section className="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <p className="hint">Keys of this application reach only its own routes. A key is shown once, when it is made.</p>
      <form className="inline-form" onSubmit={create}>
        <div className="field">
          <label htmlFor="key-name">New key's name</label>
          <input id="key-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="acme backend" />
        </div>
        <button type="submit" disabled={busy}>Create key</button>
      </form>
      <ErrorMessage error={error ?? (list.error ? describeError(list.error) : null)} />
      {list.isPending && <Loading what="Loading keys" />}
      {list.data && (list.data.items.length === 0 ? <Empty>No keys.</Empty> : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">API keys of this application</caption>
            <thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {list.data.items.map((k) => (
                <tr key={k.id} data-testid="key-row">
                  <td>{k.name}</td>
                  <td className="mono">{k.prefix}…</td>
                  <td><Time value={k.created_at} /></td>
                  <td>{k.last_used_at ? <Time value={k.last_used_at} /> : 'never'}</td>
                  <td><button type="button" className="danger" onClick={() => setRevoking(k)}>Revoke</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
      {created && (
        <SecretDialog
          title="New API key"
          label="API key"
          secret={created.key}
          doneLabel="I have stored the key"
          intro={<p>This is the only time the key is shown: Courier keeps only its hash. Send it as <code>Authorization: Bearer &lt;key&gt;</code>.</p>}
          onClose={() => setCreated(null)}
        />
      )}
      {revoking && (
        <ConfirmDialog title="Revoke this key?" confirmLabel="Revoke key" danger busy={busy} error={error} onCancel={() => setRevoking(null)}
          onConfirm={() => run(async () => { await apiKeys.revoke(client, revoking.id); setRevoking(null); })}>
          <p>Requests with <strong>{revoking.name}</strong> ({revoking.prefix}…) are refused from now on, and its browser sessions end.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
