/**
 * Create or edit an application: uid, name, retention, the consumer portal's brand
 * (`metadata.portal`: name, colour, logo) and the rest of its metadata as JSON.
 */
import { useId, useState, type FormEvent } from 'react';
import type { Application, ApplicationCreate } from '../api/tenancy';
import { ErrorMessage } from './Feedback';
import { parseJson, toJsonText } from '../json';
import { JsonField } from './JsonField';

type Json = Record<string, unknown>;

interface Props {
  initial?: Application;
  submitLabel: string;
  onSubmit: (body: ApplicationCreate) => Promise<void>;
  onCancel: () => void;
}

function brandOf(meta: Json | undefined): Record<string, string> {
  const p = meta?.portal;
  return p && typeof p === 'object' ? (p as Record<string, string>) : {};
}

export function ApplicationForm({ initial, submitLabel, onSubmit, onCancel }: Props) {
  const uid = useId();
  const f = (n: string) => `${uid}-${n}`;
  const { portal: _p, ...rest } = initial?.metadata ?? {};
  void _p;
  const brand = brandOf(initial?.metadata);
  const [values, setValues] = useState({
    uid: initial?.uid ?? '',
    name: initial?.name ?? '',
    retention: initial?.retention ?? '',
    brandName: brand.name ?? '',
    brandColor: brand.brand_color ?? '',
    logoUrl: brand.logo_url ?? '',
    metadata: Object.keys(rest).length ? toJsonText(rest) : '',
  });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof values) => (e: { target: { value: string } }) => setValues((v) => ({ ...v, [k]: e.target.value }));
  const meta = parseJson(values.metadata);
  const metaError = meta.error ?? (meta.value !== undefined && (typeof meta.value !== 'object' || Array.isArray(meta.value)) ? 'metadata must be a JSON object' : null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (!values.uid.trim() || !values.name.trim()) return setError('uid and name are required.');
    if (metaError) return setError(`Metadata: ${metaError}.`);
    if (values.brandColor && !/^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.test(values.brandColor.trim())) {
      return setError('Brand colour must be a hex colour such as #0a7 or #00aa77.');
    }
    const portal = Object.fromEntries(
      [['name', values.brandName], ['brand_color', values.brandColor], ['logo_url', values.logoUrl]]
        .map(([k, v]) => [k, v.trim()])
        .filter(([, v]) => v),
    );
    const metadata: Json = { ...((meta.value as Json | undefined) ?? {}), ...(Object.keys(portal).length ? { portal } : {}) };
    setBusy(true);
    try {
      await onSubmit({ uid: values.uid.trim(), name: values.name.trim(), metadata, retention: values.retention.trim() || null });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="form card" onSubmit={submit} noValidate aria-label={submitLabel}>
      <ErrorMessage error={error} />
      <div className="field-row">
        <div className="field">
          <label htmlFor={f('uid')}>uid (required)</label>
          <input id={f('uid')} value={values.uid} onChange={set('uid')} disabled={initial?.builtin} autoComplete="off" />
          <p className="hint">Your own id for this customer: letters, digits, <code>.</code>, <code>_</code>, <code>-</code>.</p>
        </div>
        <div className="field">
          <label htmlFor={f('name')}>Name (required)</label>
          <input id={f('name')} value={values.name} onChange={set('name')} />
        </div>
        <div className="field">
          <label htmlFor={f('retention')}>Retention</label>
          <input id={f('retention')} value={values.retention} placeholder="30d" onChange={set('retention')} />
          <p className="hint">How long its delivery log is kept. Empty: the server's COURIER_RETENTION.</p>
        </div>
      </div>
      <fieldset className="headers">
        <legend>Consumer portal brand</legend>
        <div className="field-row">
          <div className="field">
            <label htmlFor={f('brandName')}>Portal title</label>
            <input id={f('brandName')} value={values.brandName} placeholder={values.name} onChange={set('brandName')} />
          </div>
          <div className="field">
            <label htmlFor={f('brandColor')}>Brand colour</label>
            <input id={f('brandColor')} value={values.brandColor} placeholder="#0a7" onChange={set('brandColor')} />
          </div>
          <div className="field">
            <label htmlFor={f('logoUrl')}>Logo URL</label>
            <input id={f('logoUrl')} value={values.logoUrl} placeholder="https://…/logo.svg" onChange={set('logoUrl')} />
            <p className="hint">An https: URL, or a small data:image URL.</p>
          </div>
        </div>
      </fieldset>
      <JsonField id={f('metadata')} label="Other metadata (JSON object)" value={values.metadata} onChange={(t) => setValues((v) => ({ ...v, metadata: t }))} error={metaError} />
      <div className="actions">
        <button type="button" onClick={onCancel} disabled={busy}>Cancel</button>
        <button type="submit" className="primary" disabled={busy}>{busy ? 'Saving…' : submitLabel}</button>
      </div>
    </form>
  );
}
