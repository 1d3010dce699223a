/**
 * Live tail of delivery attempts from the SSE stream (`GET /stream`, events named `attempt`).
 * Each attempt also updates, in place, every cached list row and delivery that shows it (see
 * `applyAttemptEvent`): nothing is refetched per attempt. EventSource reconnects by itself
 * after network errors; if the server closes the stream for good, the tail offers to reconnect.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { applyAttemptEvent } from '../api/queries';
import type { AttemptEvent } from '../api/types';
import { useApi } from '../authContext';
import { formatDuration, shortId } from '../format';
import { useLatest } from '../hooks';
import { paths } from '../paths';
import { StatusBadge } from './StatusBadge';
import { Time } from './Time';

const KEEP = 50;

type Connection = 'connecting' | 'live' | 'reconnecting' | 'closed' | 'unsupported';

const CONNECTION_TEXT: Record<Connection, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Connection lost, reconnecting…',
  closed: 'Disconnected',
  unsupported: 'This browser cannot show the live tail',
};

interface Props {
  subscriptionId?: string;
  /** Called for every attempt event; `known` says whether a list on screen already had its delivery. */
  onAttempt?: (event: AttemptEvent, known: boolean) => void;
  title?: string;
}

export function LiveTail({ subscriptionId, onAttempt, title = 'Live tail' }: Props) {
  const client = useApi();
  const qc = useQueryClient();
  const [events, setEvents] = useState<AttemptEvent[]>([]);
  const [connection, setConnection] = useState<Connection>('connecting');
  const [generation, setGeneration] = useState(0);
  const onAttemptRef = useLatest(onAttempt);
  const supported = typeof EventSource !== 'undefined';
  /** Whether the tail already started a new session since it last connected. */
  const renewed = useRef(false);

  useEffect(() => {
    if (!supported) return;
    let live = true;
    let source: EventSource | null = null;
    client.ensureSession().then(
      (auth) => {
        if (!live) return;
        source = new EventSource(client.streamUrl(subscriptionId, auth));
        source.onopen = () => {
          renewed.current = false;
          setConnection('live');
        };
        source.onerror = () => {
          if (source?.readyState !== EventSource.CLOSED) return setConnection('reconnecting');
          // Refused for good (e.g. the session expired): start a new session once, by itself.
          client.resetSession();
          if (renewed.current) return setConnection('closed');
          renewed.current = true;
          setGeneration((g) => g + 1);
        };
        source.addEventListener('attempt', (e: MessageEvent<string>) => {
          let event: AttemptEvent;
          try {
            event = JSON.parse(e.data) as AttemptEvent;
          } catch {
            return; // a malformed event is skipped, not fatal to the tail
          }
          setConnection('live');
          setEvents((old) => [event, ...old].slice(0, KEEP));
          const known = applyAttemptEvent(qc, event);
          onAttemptRef.current?.(event, known);
        });
      },
      () => live && setConnection('closed'),
    );
    return () => {
      live = false;
      source?.close();
    };
  }, [client, qc, subscriptionId, generation, supported, onAttemptRef]);

  return (
    <section className="card" aria-labelledby="tail-title">
      <div className="card-head">
        <h2 id="tail-title">{title}</h2>
        <span className={`conn conn-${supported ? connection : 'unsupported'}`} role="status" data-testid="tail-connection">
          {CONNECTION_TEXT[supported ? connection : 'unsupported']}
        </span>
        {connection === 'closed' && (
          <button
            type="button"
            onClick={() => {
              setConnection('connecting');
              setGeneration((g) => g + 1);
            }}
          >
            Reconnect
          </button>
        )}
        {events.length > 0 && (
          <button type="button" onClick={() => setEvents([])}>
            Clear
          </button>
        )}
      </div>
      {events.length === 0 ? (
        <p className="empty">Waiting for delivery attempts… New attempts appear here as they finish.</p>
      ) : (
        <div className="table-wrap">
          <table className="tail" data-testid="live-tail">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Delivery</th>
                <th scope="col">Event type</th>
                <th scope="col">Attempt</th>
                <th scope="col">Result</th>
                <th scope="col">Took</th>
              </tr>
            </thead>
            <tbody>
              {events.map((ev) => (
                <tr key={ev.attempt.id} data-testid="tail-row" data-delivery-id={ev.delivery_id}>
                  <td><Time value={ev.attempt.attempted_at} /></td>
                  <td>
                    <Link to={paths.delivery(ev.delivery_id)} className="mono" title={ev.delivery_id}>
                      {shortId(ev.delivery_id)}
                    </Link>{' '}
                    <StatusBadge status={ev.delivery_status} />
                  </td>
                  <td className="mono">{ev.event_type}</td>
                  <td>#{ev.attempt.attempt_number}</td>
                  <td>
                    {ev.attempt.succeeded ? '✓ ' : '✗ '}
                    {ev.attempt.status_code ?? ev.attempt.error_class ?? 'no answer'}
                  </td>
                  <td>{formatDuration(ev.attempt.duration_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
