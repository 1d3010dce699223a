/**
 * An endpoint's form: its URL, a description, and which events it takes — picked from the
 * application's event-type catalog (deprecated types marked), or every event, plus any
 * patterns typed by hand (`order.*`).
 */
import { useQuery } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { eventTypes } from '../../api/tenancy';
import type { Subscription } from '../../api/types';
import { useApi } from '../../authContext';
import { ErrorMessage } from '../../components/Feedback';
import { splitPatterns } from '../../components/subscriptionFormModel';

export interface EndpointValues {
  target_url: string;
  description: string;
  event_types: string[];
}

interface Props {
  initial?: Subscription;
  submitLabel: string;
  onSubmit: (v: EndpointValues) => Promise<void>;
  onCancel: () => void;
}

export function EndpointForm({ initial, submitLabel, onSubmit, onCancel }: Props) {
  const client = useApi();
  const uid = useId();
  const catalog = useQuery({ queryKey: ['event-types'], queryFn: () => eventTypes.list(client) });
  const names = new Set((catalog.data?.items ?? []).map((t) => t.name));
  const initialTypes = initial?.event_types ?? [];
  const [url, setUrl] = useState(initial?.target_url ?? '');
  const [description, setDescription] = useState(initial?.description ?? '');
  const [all, setAll] = useState(initial ? initialTypes.length === 0 : false);
  const [picked, setPicked] = useState<Set<string>>(() => new Set(initialTypes));
  const [extra, setExtra] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const typed = initialTypes.filter((t) => !names.has(t));
  const others = extra ?? (catalog.data ? typed.join(', ') : '');

  function toggle(name: string, on: boolean) {
    setPicked((old) => {
      const next = new Set(old);
      if (on) next.add(name);
      else next.delete(name);
      return next;
    });
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    let target: URL;
    try {
      target = new URL(url.trim());
    } catch {
      return setError('Enter the endpoint as a full URL, such as https://example.com/webhooks.');
    }
    if (target.protocol !== 'https:' && target.protocol !== 'http:') return setError('The endpoint URL must start with https:// or http://.');
    const chosen = all ? [] : [...[...picked].filter((p) => names.has(p)), ...splitPatterns(others)];
    if (!all && chosen.length === 0) return setError('Pick at least one event type, or choose “All events”.');
    setBusy(true);
    try {
      await onSubmit({ target_url: url.trim(), description: description.trim(), event_types: [...new Set(chosen)] });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="form card" onSubmit={submit} noValidate aria-label={submitLabel}>
      <ErrorMessage error={error} />
      <div className="field">
        <label htmlFor={`${uid}-url`}>Endpoint URL (required)</label>
        <input id={`${uid}-url`} type="url" inputMode="url" autoComplete="off" placeholder="https://example.com/webhooks" value={url} onChange={(e) => setUrl(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${uid}-description`}>Description</label>
        <input id={`${uid}-description`} type="text" value={description} onChange={(e) => setDescription(e.target.value)} />
      </div>
      <fieldset className="headers">
        <legend>Events to receive</legend>
        <label className="check">
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> All events
        </label>
        {!all && (
          <>
            {catalog.isPending && <p className="hint">Loading the event catalog…</p>}
            {catalog.data && catalog.data.items.length === 0 && <p className="hint">The catalog is empty: type the event types below.</p>}
            <div className="picker" role="group" aria-label="Event types from the catalog">
              {(catalog.data?.items ?? []).map((t) => (
                <label key={t.name}>
                  <input type="checkbox" checked={picked.has(t.name)} onChange={(e) => toggle(t.name, e.target.checked)} />
                  <span>
                    <code>{t.name}</code>
                    {t.deprecated && <span className="badge badge-warn"> deprecated</span>}
                    {t.description && <small>{t.description}</small>}
                  </span>
                </label>
              ))}
            </div>
            <div className="field">
              <label htmlFor={`${uid}-patterns`}>Other event types or patterns</label>
              <input id={`${uid}-patterns`} type="text" placeholder="order.*" value={others} onChange={(e) => setExtra(e.target.value)} />
              <p className="hint">Comma-separated: an exact type, or a prefix such as <code>order.*</code>.</p>
            </div>
          </>
        )}
      </fieldset>
      <div className="actions">
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : submitLabel}
        </button>
      </div>
    </form>
  );
}
