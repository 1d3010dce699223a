/** "Recover everything failed since <time>": re-queues a subscription's failed deliveries. */
import { useState, type FormEvent } from 'react';
import { describeError } from '../api/client';
import { useApi } from '../authContext';
import { formatTime, localInputToRfc3339, rfc3339ToLocalInput } from '../format';
import { ConfirmDialog } from './Modal';
import { Notice } from './Feedback';

export function RecoverForm({ subscriptionId, onRecovered }: { subscriptionId: string; onRecovered: () => void }) {
  const client = useApi();
  const [since, setSince] = useState(() => rfc3339ToLocalInput(new Date(Date.now() - 3600_000).toISOString()));
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [fieldError, setFieldError] = useState<string | null>(null);

  function submit(e: FormEvent) {
    e.preventDefault();
    const iso = localInputToRfc3339(since);
    if (!iso) {
      setFieldError('Choose the time to recover from.');
      return;
    }
    setFieldError(null);
    setError(null);
    setConfirming(iso);
  }

  async function recover(iso: string) {
    setBusy(true);
    try {
      const r = await client.recoverFailed(subscriptionId, iso);
      setResult(`${r.requeued} failed ${r.requeued === 1 ? 'delivery was' : 'deliveries were'} queued again.`);
      setConfirming(null);
      onRecovered();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="recover-title">
      <h2 id="recover-title">Recover failed deliveries</h2>
      <form className="inline-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor="recover-since">Recover everything failed since (local time)</label>
          <input
            id="recover-since"
            type="datetime-local"
            value={since}
            onChange={(e) => setSince(e.target.value)}
            aria-invalid={fieldError ? true : undefined}
          />
        </div>
        <button type="submit">Recover…</button>
      </form>
      {fieldError && <p className="field-error" role="alert">{fieldError}</p>}
      {result && <Notice onDismiss={() => setResult(null)}>{result}</Notice>}
      {confirming && (
        <ConfirmDialog
          title="Recover failed deliveries?"
          confirmLabel="Recover"
          busy={busy}
          error={error}
          onConfirm={() => recover(confirming)}
          onCancel={() => setConfirming(null)}
        >
          <p>Every delivery of this subscription that failed since {formatTime(confirming)} will be sent again.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
