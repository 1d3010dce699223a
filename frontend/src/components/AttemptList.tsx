/**
 * Every attempt of a delivery, newest first: when, how long, what came back (status, headers
 * and body), why it failed (error class and message), exactly which headers were sent, and
 * the request as a curl command.
 */
import type { Attempt, ErrorClass } from '../api/types';
import { bodyText, curlCommand, maskedHeaders } from '../curl';
import { formatDuration, prettyBody } from '../format';
import { CopyButton } from './Id';
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

interface Props {
  attempts: Attempt[];
  /** Where the request went (the subscription's target URL); without it there is no curl. */
  targetUrl?: string;
  payload?: unknown;
}

export function AttemptList({ attempts, targetUrl, payload }: Props) {
  if (attempts.length === 0) {
    return <p className="empty">No attempts yet. The first one is made as soon as the subscription can take it.</p>;
  }
  const sorted = [...attempts].sort((a, b) => b.attempt_number - a.attempt_number);
  return (
    <ol className="attempts" aria-label="Attempts, newest first">
      {sorted.map((a, i) => (
        <li key={a.id}>
          <AttemptCard attempt={a} open={i === 0} targetUrl={targetUrl} payload={payload} />
        </li>
      ))}
    </ol>
  );
}

function Curl({ attempt: a, targetUrl, payload }: { attempt: Attempt; targetUrl: string; payload: unknown }) {
  const command = curlCommand(targetUrl, a.request_headers ?? {}, bodyText(payload));
  const masked = maskedHeaders(a.request_headers ?? {});
  return (
    <details>
      <summary>Copy as curl</summary>
      <div className="curl-head">
        <CopyButton text={command} label="Copy" what="curl command" />
      </div>
      <pre className="code" data-testid="curl">{command}</pre>
      {masked.length > 0 && (
        <p className="hint" data-testid="curl-masked">
          Masked by Courier: <span className="mono">{masked.join(', ')}</span>. Put the real values in before running it.
        </p>
      )}
      <p className="hint">
        The URL is the subscription&apos;s current target. Receivers that check signatures may refuse a replay: the timestamp is old and
        the body is re-encoded from the stored payload.
      </p>
    </details>
  );
}

function AttemptCard({ attempt: a, open, targetUrl, payload }: { attempt: Attempt; open: boolean; targetUrl?: string; payload?: unknown }) {
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
        <summary>Response headers</summary>
        {a.response_headers ? (
          <KeyValueTable values={a.response_headers} caption={`Headers received for attempt ${a.attempt_number}`} />
        ) : (
          <p className="hint" data-testid="no-response-headers">
            {a.status_code == null ? 'No response: nothing came back.' : 'This server does not record response headers.'}
          </p>
        )}
      </details>
      <details open={open}>
        <summary>Request headers</summary>
        <KeyValueTable values={a.request_headers ?? {}} caption={`Headers sent with attempt ${a.attempt_number}`} />
      </details>
      {targetUrl && <Curl attempt={a} targetUrl={targetUrl} payload={payload} />}
    </article>
  );
}
