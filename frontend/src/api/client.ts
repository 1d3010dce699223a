/**
 * The one typed client for Courier's management API.
 *
 * Every request carries `Authorization: Bearer <key>`. Every non-2xx answer becomes an
 * `ApiError` whose `message` is the server's own words; a 401 also calls `onUnauthorized`
 * so the app can send the user back to sign-in. Pages never call `fetch` themselves.
 */
import type {
  ApiErrorBody,
  BulkCancelled,
  BulkFilter,
  BulkRetried,
  Delivery,
  DeliveryFilters,
  DeliverySummary,
  IngestAccepted,
  Message,
  MessageFilters,
  MessageSummary,
  OverviewStats,
  Page,
  PageQuery,
  RecoverResult,
  StatsRange,
  Subscription,
  SubscriptionCreate,
  SubscriptionPatch,
  SubscriptionReplace,
  SubscriptionStats,
  SubscriptionStatus,
  SubscriptionsHealth,
  SubscriptionWithSecret,
} from './types';

export class ApiError extends Error {
  /** HTTP status; 0 when the server could not be reached at all. */
  readonly status: number;
  /** The server's stable error code, e.g. `not_found`; `network_error` / `bad_response` for client-side failures. */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export interface ClientOptions {
  /** The API key to send, read on every request so sign-in/out needs no new client. */
  getKey: () => string | null;
  /** Called once per 401 answer. */
  onUnauthorized?: (error: ApiError) => void;
  /** Origin prefix; empty for same-origin (the dashboard is served by Courier itself). */
  baseUrl?: string;
  /**
   * The application the operator is looking at (id or uid), read on every request: calls
   * that act on one application then go to `/applications/{app}/…`. `null`: the plain
   * routes (the key's home application; lists of every application for admin keys).
   */
  getApp?: () => string | null;
  /** Injected for tests; defaults to the global `fetch`. */
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | undefined | null>;

/** Builds `?a=1&b=2`, skipping empty values. */
export function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

const enc = encodeURIComponent;

/** How the live tail authenticates: the session cookie, or (older servers) `?api_key=`. */
export type StreamAuth = 'cookie' | 'query';

export class CourierClient {
  private readonly opts: ClientOptions;
  private session: Promise<StreamAuth> | undefined;

  constructor(opts: ClientOptions) {
    this.opts = opts;
  }

  /** `path` under the chosen application, when there is one. */
  private scoped(path: string): string {
    const app = this.opts.getApp?.();
    return app ? `/applications/${enc(app)}${path}` : path;
  }

  // ---- subscriptions ----

  listSubscriptions(q: PageQuery & { status?: SubscriptionStatus } = {}): Promise<Page<Subscription>> {
    return this.page(this.scoped(`/subscriptions/${queryString({ status: q.status, limit: q.limit, cursor: q.cursor })}`));
  }

  getSubscription(id: string): Promise<Subscription> {
    return this.json('GET', this.scoped(`/subscriptions/${enc(id)}`));
  }

  createSubscription(body: SubscriptionCreate): Promise<SubscriptionWithSecret> {
    return this.json('POST', this.scoped('/subscriptions/'), body);
  }

  replaceSubscription(id: string, body: SubscriptionReplace): Promise<Subscription> {
    return this.json('PUT', this.scoped(`/subscriptions/${enc(id)}`), body);
  }

  patchSubscription(id: string, body: SubscriptionPatch): Promise<Subscription> {
    return this.json('PATCH', this.scoped(`/subscriptions/${enc(id)}`), body);
  }

  async deleteSubscription(id: string): Promise<void> {
    await this.request('DELETE', this.scoped(`/subscriptions/${enc(id)}`));
  }

  pauseSubscription(id: string): Promise<Subscription> {
    return this.json('POST', this.scoped(`/subscriptions/${enc(id)}/pause`));
  }

  resumeSubscription(id: string): Promise<Subscription> {
    return this.json('POST', this.scoped(`/subscriptions/${enc(id)}/resume`));
  }

  /** New signing secret; pass one to choose it, or let the server generate it. */
  rotateSecret(id: string, secret?: string): Promise<SubscriptionWithSecret> {
    return this.json('POST', this.scoped(`/subscriptions/${enc(id)}/rotate-secret`), secret ? { secret } : undefined);
  }

  sendTestEvent(id: string): Promise<IngestAccepted> {
    return this.json('POST', this.scoped(`/subscriptions/${enc(id)}/test`));
  }

  /** Re-queues every failed delivery of the subscription since `since` (RFC 3339). */
  recoverFailed(id: string, since: string): Promise<RecoverResult> {
    return this.json('POST', this.scoped(`/subscriptions/${enc(id)}/recover${queryString({ since })}`));
  }

  // ---- deliveries and messages ----

  listDeliveries(
    subscriptionId: string,
    q: Pick<DeliveryFilters, 'status' | 'event_type' | 'since' | 'until'> & PageQuery = {},
  ): Promise<Page<Delivery>> {
    const query = queryString({
      status: q.status,
      event_type: q.event_type,
      since: q.since,
      until: q.until,
      limit: q.limit,
      cursor: q.cursor,
    });
    return this.page(this.scoped(`/subscriptions/${enc(subscriptionId)}/deliveries${query}`));
  }

  /** Every delivery (compact rows), newest first: `GET /deliveries`. */
  searchDeliveries(q: DeliveryFilters & PageQuery = {}): Promise<Page<DeliverySummary>> {
    return this.page(`/deliveries${queryString({ ...q, application: this.opts.getApp?.() ?? undefined })}`);
  }

  /** Every message with its deliveries counted, newest first: `GET /messages`. */
  searchMessages(q: MessageFilters & PageQuery = {}): Promise<Page<MessageSummary>> {
    return this.page(this.scoped(`/messages${queryString({ ...q })}`));
  }

  /** Re-queues the deliveries matching `filter` (at most 10,000 a call). */
  bulkRetry(filter: BulkFilter): Promise<BulkRetried> {
    return this.json('POST', this.scoped('/deliveries/retry'), filter);
  }

  /** Cancels the unfinished deliveries matching `filter` (at most 10,000 a call). */
  bulkCancel(filter: BulkFilter): Promise<BulkCancelled> {
    return this.json('POST', this.scoped('/deliveries/cancel'), filter);
  }

  getDelivery(taskId: string): Promise<Delivery> {
    return this.json('GET', this.scoped(`/deliveries/${enc(taskId)}`));
  }

  retryDelivery(taskId: string): Promise<Delivery> {
    return this.json('POST', this.scoped(`/deliveries/${enc(taskId)}/retry`));
  }

  /**
   * Ends an unfinished delivery as failed ("skipped by operator") and releases its ordering
   * key, so the key's next delivery goes (202 with the delivery; 409 when already final).
   */
  skipDelivery(taskId: string): Promise<Delivery> {
    return this.json('POST', `/deliveries/${enc(taskId)}/skip`);
  }

  getMessage(id: string): Promise<Message> {
    return this.json('GET', this.scoped(`/messages/${enc(id)}`));
  }

  // ---- stats and stream ----

  getOverview(): Promise<OverviewStats> {
    return this.json('GET', this.scoped('/stats/overview'));
  }

  /** Health of every subscription over a range (default the last 24 h). */
  getSubscriptionsHealth(range: StatsRange = {}): Promise<SubscriptionsHealth> {
    return this.json('GET', this.scoped(`/stats/subscriptions${queryString({ ...range })}`));
  }

  /** One subscription's health and its attempts over time. */
  getSubscriptionStats(id: string, range: StatsRange = {}): Promise<SubscriptionStats> {
    return this.json('GET', this.scoped(`/subscriptions/${enc(id)}/stats${queryString({ ...range })}`));
  }

  /**
   * Makes sure the browser holds a session cookie for `GET /stream` (EventSource cannot send
   * headers): `POST /auth/session` with the key, once per page load. Resolves `'cookie'`, or
   * `'query'` for a server from before sessions (it answers 404 or 405 there), which takes the
   * key as `?api_key=`.
   */
  ensureSession(): Promise<StreamAuth> {
    this.session ??= this.request('POST', '/auth/session').then(
      () => 'cookie' as const,
      (e: unknown) => {
        if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return 'query' as const;
        this.session = undefined; // try again next time
        throw e;
      },
    );
    return this.session;
  }

  /** Forgets the session, so the next `ensureSession` starts a new one (e.g. after it expired). */
  resetSession(): void {
    this.session = undefined;
  }

  /** Ends the browser session and clears its cookie; a server without sessions is fine. */
  async endSession(): Promise<void> {
    this.session = undefined;
    try {
      await this.request('DELETE', '/auth/session', undefined, { 'X-Courier-CSRF': '1' });
    } catch {
      /* nothing to end, or the server is gone: signing out goes on */
    }
  }

  /** URL of the SSE live tail; the key goes in it only for servers without sessions. */
  streamUrl(subscriptionId?: string, auth: StreamAuth = 'cookie'): string {
    const key = auth === 'query' ? (this.opts.getKey() ?? '') : undefined;
    return `${this.opts.baseUrl ?? ''}${this.scoped('/stream')}${queryString({ api_key: key, subscription_id: subscriptionId })}`;
  }

  // ---- plumbing (public so the tenancy and portal modules add their calls beside these) ----

  /** One call answered with JSON (or nothing); a non-2xx is thrown as an `ApiError`. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    return (await readJson(res)) as T;
  }

  /** A list call: the bare array and the `X-Next-Cursor` of the next page. */
  async page<T>(path: string): Promise<Page<T>> {
    const res = await this.request('GET', path);
    const items = await readJson(res);
    if (!Array.isArray(items)) {
      throw new ApiError(res.status, 'bad_response', 'The server answered with something that is not a list.');
    }
    return { items: items as T[], nextCursor: res.headers.get('X-Next-Cursor') || null };
  }

  private async request(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...extra };
    const key = this.opts.getKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const doFetch = this.opts.fetch ?? globalThis.fetch.bind(globalThis);
    let res: Response;
    try {
      res = await doFetch(`${this.opts.baseUrl ?? ''}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'network_error', 'Could not reach the Courier server. Check your connection and try again.');
    }
    if (res.ok) return res;
    const error = await errorFrom(res);
    if (res.status === 401) this.opts.onUnauthorized?.(error);
    throw error;
  }
}

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(res.status, 'bad_response', 'The server answered with something that is not JSON.');
  }
}

/** Turns an error answer into words: the server's `message`, else its RFC 7807 fields, else the status. */
export async function errorFrom(res: Response): Promise<ApiError> {
  let body: Partial<ApiErrorBody> | null = null;
  try {
    const parsed: unknown = JSON.parse(await res.text());
    if (parsed && typeof parsed === 'object') body = parsed as Partial<ApiErrorBody>;
  } catch {
    body = null;
  }
  const raw =
    body?.message || body?.detail || body?.title || `The server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}.`;
  return new ApiError(res.status, body?.code || `http_${res.status}`, plainWords(raw));
}

/**
 * The framework's own parse errors ("Path deserialize error: …", "Query deserialize error: …")
 * name internals; a person gets what was wrong instead.
 */
export function plainWords(message: string): string {
  const m = /^(Path|Query|Json) deserialize error:?\s*(.*)$/is.exec(message.replace(/^a path segment is not valid:\s*/i, ''));
  if (!m) return message;
  const where = m[1].toLowerCase() === 'path' ? 'The id in the address' : m[1].toLowerCase() === 'query' ? 'A filter' : 'The request body';
  const detail = /uuid/i.test(m[2]) ? 'is not a valid id (ids look like 0193ab6e-7d1c-7b3e-9f00-0123456789ab).' : 'is not valid.';
  return `${where} ${detail}`;
}

/** Human text for anything thrown by a client call. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
