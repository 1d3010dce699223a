/**
 * Every attempt of a delivery, newest first: when, how long, what came back (status and body),
 * why it failed (error class and message), and exactly which headers were sent.
 */
import type { Attempt, ErrorClass } from '../api/types';
import { formatDuration, prettyBody } from '../format';
import { KeyValueTable } from './KeyValueTable';
import { Time } from './Time';

const ERROR_CLASS_TEXT: Record<ErrorClass, string> = {
  timeout: 'Timed out',
  connect: 'Could not connect',
  dns: 'DNS lookup failed',
  tls: 'TLS handshake failed',
  http_status: 'Non-2xx answer',
  blocked_target: 'Target blocked (private or metadata address)',
};

export function AttemptList({ attempts }: { attempts: Attempt[] }) {
  if (attempts.length === 0) {
    return <p className="empty">No attempts yet. The first one is made as soon as the subscription can take it.</p>;
  }
  const sorted = [...attempts].sort((a, b) => b.attempt_number - a.attempt_number);
  return (
    <ol className="attempts" aria-label="Attempts, newest first">
      {sorted.map((a, i) => (
        <li key={a.id}>
          <AttemptCard attempt={a} open={i === 0} />
        </li>
      ))}
    </ol>
  );
}

function AttemptCard({ attempt: a, open }: { attempt: Attempt; open: boolean }) {
  return (
    <article className={`attempt ${a.succeeded ? 'attempt-ok' : 'attempt-fail'}`} data-testid="attempt">
      <header className="attempt-head">
        <h3>Attempt {a.attempt_number}</h3>
        <span className={`badge ${a.succeeded ? 'badge-good' : 'badge-bad'}`}>{a.succeeded ? 'succeeded' : 'failed'}</span>
        <Time value={a.attempted_at} />
      </header>
      <dl className="facts">
        <div>
          <dt>Response status</dt>
          <dd>{a.status_code ?? 'none'}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(a.duration_ms)}</dd>
        </div>
        {a.error_class && (
          <div>
            <dt>Error</dt>
            <dd>
              <span className="mono">{a.error_class}</span> — {ERROR_CLASS_TEXT[a.error_class] ?? a.error_class}
            </dd>
          </div>
        )}
        {a.error_message && (
          <div className="wide">
            <dt>Error message</dt>
            <dd className="break">{a.error_message}</dd>
          </div>
        )}
      </dl>
      <details open={open}>
        <summary>Response body</summary>
        {a.response_body ? (
          <pre className="code" data-testid="response-body">{prettyBody(a.response_body)}</pre>
        ) : (
          <p className="hint">No response body.</p>
        )}
      </details>
      <details open={open}>
        <summary>Request headers</summary>
        <KeyValueTable values={a.request_headers} caption={`Headers sent with attempt ${a.attempt_number}`} />
      </details>
    </article>
  );
}
