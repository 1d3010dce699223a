/** The event-type catalog: the list, and creating or editing a type (description, schema, example, deprecated). */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { describeError } from '../../api/client';
import { eventTypes, type EventType, type EventTypeCreate } from '../../api/tenancy';
import { useApi } from '../../authContext';
import { Empty, ErrorMessage, Loading } from '../../components/Feedback';
import { JsonField } from '../../components/JsonField';
import { parseJson, toJsonText } from '../../json';
import { Time } from '../../components/Time';
import { paths } from '../../paths';

function useCatalog() {
  const client = useApi();
  return useQuery({ queryKey: ['event-types'], queryFn: () => eventTypes.list(client) });
}

export function EventTypesPage() {
  const list = useCatalog();
  return (
    <div className="page">
      <div className="page-head">
        <h1>Event types</h1>
        <Link to={paths.newEventType} className="button primary">New event type</Link>
      </div>
      <p className="hint">The catalog customers pick from in the consumer portal. A type with a JSON Schema can be checked at ingest (COURIER_VALIDATE_PAYLOADS).</p>
      <section className="card">
        <ErrorMessage error={list.error ? describeError(list.error) : null} onRetry={() => list.refetch()} />
        {list.isPending && <Loading what="Loading the catalog" />}
        {list.data && (list.data.items.length === 0 ? <Empty>The catalog is empty.</Empty> : (
          <div className="table-wrap">
            <table>
              <caption className="sr-only">Event types by name</caption>
              <thead><tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Schema</th><th scope="col">Version</th><th scope="col">Updated</th></tr></thead>
              <tbody>
                {list.data.items.map((t) => (
                  <tr key={t.name} data-testid="event-type-row">
                    <td><Link to={paths.eventType(t.name)} className="mono">{t.name}</Link>{t.deprecated && <span className="badge badge-warn"> deprecated</span>}</td>
                    <td>{t.description || '—'}</td>
                    <td>{t.schema ? 'yes' : 'no'}</td>
                    <td>{t.version}</td>
                    <td><Time value={t.updated_at} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      </section>
    </div>
  );
}

function EventTypeForm({ initial, onSubmit }: { initial?: EventType; onSubmit: (body: EventTypeCreate) => Promise<void> }) {
  const uid = useId();
  const navigate = useNavigate();
  const [name, setName] = useState(initial?.name ?? '');
  const [description, setDescription] = useState(initial?.description ?? '');
  const [schema, setSchema] = useState(toJsonText(initial?.schema));
  const [example, setExample] = useState(toJsonText(initial?.example));
  const [deprecated, setDeprecated] = useState(initial?.deprecated ?? false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const s = parseJson(schema);
  const x = parseJson(example);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (!name.trim()) return setError('Name the type, e.g. order.created.');
    if (s.error || x.error) return setError(`Fix the JSON first: ${s.error ?? x.error}.`);
    setBusy(true);
    try {
      await onSubmit({ name: name.trim(), description, schema: (s.value as Record<string, unknown> | undefined) ?? null, example: x.value ?? null, deprecated });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="form card" onSubmit={submit} noValidate aria-label="Event type">
      <ErrorMessage error={error} />
      <div className="field">
        <label htmlFor={`${uid}-name`}>Name (required)</label>
        <input id={`${uid}-name`} className="mono" value={name} disabled={!!initial} placeholder="order.created" onChange={(e) => setName(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${uid}-description`}>Description</label>
        <input id={`${uid}-description`} value={description} onChange={(e) => setDescription(e.target.value)} />
      </div>
      <JsonField id={`${uid}-schema`} label="JSON Schema of the payload" value={schema} onChange={setSchema} error={s.error} rows={8} hint="Empty: no schema." />
      <JsonField id={`${uid}-example`} label="Example payload" value={example} onChange={setExample} error={x.error} hint="Must match the schema." />
      <label className="check"><input type="checkbox" checked={deprecated} onChange={(e) => setDeprecated(e.target.checked)} /> Deprecated</label>
      <div className="actions">
        <button type="button" onClick={() => navigate(paths.eventTypes)} disabled={busy}>Cancel</button>
        <button type="submit" className="primary" disabled={busy}>{busy ? 'Saving…' : initial ? 'Save event type' : 'Create event type'}</button>
      </div>
    </form>
  );
}

export function EventTypeFormPage() {
  const { name } = useParams();
  const client = useApi();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const list = useCatalog();
  const initial = name ? list.data?.items.find((t) => t.name === name) : undefined;
  const done = () => {
    void qc.invalidateQueries({ queryKey: ['event-types'] });
    navigate(paths.eventTypes);
  };
  return (
    <div className="page">
      <p className="crumbs"><Link to={paths.eventTypes}>Event types</Link> /</p>
      <h1>{name ? name : 'New event type'}</h1>
      {name && list.isPending && <Loading what="Loading the event type" />}
      {name && list.data && !initial && <ErrorMessage error={`There is no event type ${name}.`} />}
      {(!name || initial) && (
        <EventTypeForm
          key={initial?.version ?? 'new'}
          initial={initial}
          onSubmit={async (body) => {
            if (initial) {
              const { name: _n, ...patch } = body;
              void _n;
              await eventTypes.patch(client, initial.name, patch);
            } else {
              await eventTypes.create(client, body);
            }
            done();
          }}
        />
      )}
    </div>
  );
}
