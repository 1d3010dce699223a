/** Every message, newest first, with its deliveries counted; filters and page in the URL. */
import { useState, type FormEvent } from 'react';
import { describeError } from '../api/client';
import { useMessageSearch } from '../api/queries';
import type { MessageFilters, MessageSummary } from '../api/types';
import { Empty, ErrorMessage, Loading } from '../components/Feedback';
import { Id } from '../components/Id';
import { Pagination } from '../components/Pagination';
import { Time } from '../components/Time';
import { TimeRangePicker } from '../components/TimeRangePicker';
import { idFragment } from '../format';
import { paths } from '../paths';
import { rangeFromParams, rangeParams, type RangeValue } from '../timeRange';
import { useCursorTrail, useParamState } from '../urlState';

function Counts({ m }: { m: MessageSummary }) {
  const d = m.deliveries;
  if (d.total === 0) return <span className="hint">no subscription wanted it</span>;
  return (
    <span>
      {d.total} {d.total === 1 ? 'delivery' : 'deliveries'}: {d.succeeded} succeeded
      {d.failed > 0 && <>, <span className="text-bad">{d.failed} failed</span></>}
      {d.unfinished > 0 && <>, {d.unfinished} unfinished</>}
      {d.filtered > 0 && <>, {d.filtered} filtered</>}
    </span>
  );
}

function MessageFilterForm({ initial, range, onApply }: { initial: MessageFilters; range: RangeValue; onApply: (f: MessageFilters, r: RangeValue) => void }) {
  const [eventType, setEventType] = useState(initial.event_type ?? '');
  const [id, setId] = useState(initial.id ?? '');
  const [r, setR] = useState(range);
  const [error, setError] = useState<string | null>(null);
  function submit(e: FormEvent) {
    e.preventDefault();
    if (id.trim() && !idFragment(id)) return setError('Enter an id, or at least 4 of its characters.');
    setError(null);
    onApply({ event_type: eventType.trim() || undefined, id: id.trim() || undefined }, r);
  }
  return (
    <form className="filters" onSubmit={submit} aria-label="Filter messages">
      <div className="field">
        <label htmlFor="m-type">Event type</label>
        <input id="m-type" value={eventType} onChange={(e) => setEventType(e.target.value)} placeholder="order.* or order.created" />
      </div>
      <div className="field">
        <label htmlFor="m-id">Message id</label>
        <input id="m-id" value={id} onChange={(e) => setId(e.target.value)} placeholder="whole id or a piece" aria-invalid={!!error} />
        {error && <span className="field-error">{error}</span>}
      </div>
      <TimeRangePicker value={r} onChange={setR} allowAll immediate id="m-range" />
      <div className="filter-buttons">
        <button type="submit" className="primary">Apply filters</button>
        <button type="button" onClick={() => onApply({}, {})}>Clear</button>
      </div>
    </form>
  );
}

export function MessagesPage() {
  const { params, patch } = useParamState();
  const trail = useCursorTrail();
  const filters: MessageFilters = { event_type: params.get('event_type') || undefined, id: params.get('id') || undefined };
  const range = rangeFromParams(params);
  const list = useMessageSearch(filters, range, trail.cursor);
  const formKey = params.toString().replace(/(^|&)after=[^&]*/, '');
  return (
    <div className="page">
      <h1>Messages</h1>
      <p className="hint">Every event producers sent, newest first. One message fans out to one delivery per subscription that wants it.</p>
      <MessageFilterForm key={formKey} initial={filters} range={range} onApply={(f, r) => patch({ event_type: f.event_type, id: f.id, ...rangeParams(r) })} />
      <ErrorMessage error={list.error ? describeError(list.error) : null} onRetry={() => list.refetch()} />
      {list.isPending && <Loading what="Loading messages" />}
      {list.data &&
        (list.data.items.length === 0 ? (
          <Empty>No message matches.</Empty>
        ) : (
          <div className="table-wrap">
            <table data-testid="messages">
              <caption className="sr-only">Messages, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Message</th>
                  <th scope="col">Event type</th>
                  <th scope="col">Deliveries</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((m) => (
                  <tr key={m.id} data-testid="message-row" data-message-id={m.id}>
                    <td><Id value={m.id} to={paths.message(m.id)} label="Message" /></td>
                    <td className="mono">{m.event_type}</td>
                    <td><Counts m={m} /></td>
                    <td><Time value={m.created_at} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      <Pagination
        page={trail.page}
        hasPrev={trail.page > 1}
        hasNext={!!list.data?.nextCursor}
        onPrev={trail.prev}
        onNext={() => list.data?.nextCursor && trail.next(list.data.nextCursor)}
      />
    </div>
  );
}
