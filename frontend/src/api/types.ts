/**
 * The Courier management API's types, mirrored one for one (SPEC.md §2).
 *
 * Ids are UUID strings and times are RFC 3339 UTC strings; they stay strings here
 * and are only turned into `Date`s where they are shown.
 */

export type SubscriptionStatus = 'active' | 'paused' | 'disabled';

export interface Subscription {
  id: string;
  target_url: string;
  event_types: string[];
  description: string | null;
  headers: { [k: string]: string };
  rate_limit_per_second: number | null;
  max_in_flight: number;
  timeout_ms: number;
  status: SubscriptionStatus;
  disabled_reason: string | null;
  is_active: boolean;
  requires_signature: boolean;
  created_at: string;
  updated_at: string;
}

/** The answer to create and rotate-secret: the only time the secret is ever shown. */
export interface SubscriptionWithSecret extends Subscription {
  secret: string;
}

/** Body of `POST /subscriptions/`. */
export interface SubscriptionCreate {
  target_url: string;
  event_types?: string[];
  secret?: string;
  description?: string;
  headers?: { [k: string]: string };
  rate_limit_per_second?: number;
  max_in_flight?: number;
  timeout_ms?: number;
}

/** Body of `PUT /subscriptions/{id}` (full: `target_url` required). */
export interface SubscriptionReplace {
  target_url: string;
  event_types?: string[];
  description?: string | null;
  headers?: { [k: string]: string };
  rate_limit_per_second?: number | null;
  max_in_flight?: number;
  timeout_ms?: number;
}

/** Body of `PATCH /subscriptions/{id}` (any subset). */
export type SubscriptionPatch = Partial<SubscriptionReplace>;

export interface IngestAccepted {
  task_id: string | string[];
  message_id: string;
  status: 'accepted' | 'filtered';
  delivery_id: string;
}

export type DeliveryStatus =
  | 'pending'
  | 'delivering'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'filtered'
  | 'paused';

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = [
  'pending',
  'delivering',
  'retrying',
  'succeeded',
  'failed',
  'filtered',
  'paused',
];

export type ErrorClass = 'timeout' | 'connect' | 'dns' | 'tls' | 'http_status' | 'blocked_target';

export interface Attempt {
  id: string;
  delivery_id: string;
  attempt_number: number;
  attempted_at: string;
  request_headers: { [k: string]: string };
  status_code: number | null;
  response_body: string | null;
  duration_ms: number;
  error_class: ErrorClass | null;
  error_message: string | null;
  succeeded: boolean;
}

export interface Delivery {
  id: string;
  /** Same as `id`. */
  task_id: string;
  message_id: string;
  subscription_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  payload: unknown;
  attempts: Attempt[];
}

export interface Message {
  id: string;
  event_type: string;
  payload: unknown;
  created_at: string;
  deliveries: Delivery[];
}

export interface RecoverResult {
  requeued: number;
}

export interface MinuteStats {
  minute: string;
  succeeded: number;
  failed: number;
}

export interface FailingSubscription {
  id: string;
  target_url: string;
  status: SubscriptionStatus;
  failed_last_hour: number;
}

export interface OverviewStats {
  /** The last 60 minutes, oldest first. */
  per_minute: MinuteStats[];
  pending_retries: number;
  subscriptions: { active: number; paused: number; disabled: number };
  failing_subscriptions: FailingSubscription[];
}

/** Data of an SSE `attempt` event on `GET /stream`. */
export interface AttemptEvent {
  subscription_id: string;
  delivery_id: string;
  message_id: string;
  event_type: string;
  delivery_status: DeliveryStatus;
  attempt: Attempt;
}

/** The error body of every 4xx/5xx answer (RFC 7807 fields included). */
export interface ApiErrorBody {
  code: string;
  message: string;
  title?: string;
  status?: number;
  detail?: string;
}

/** Query of `GET /subscriptions/{id}/deliveries`. */
export interface DeliveryFilters {
  status?: DeliveryStatus;
  event_type?: string;
  since?: string;
  until?: string;
}

export interface PageQuery {
  limit?: number;
  cursor?: string;
}

/** One page of a list; `nextCursor` comes from the `X-Next-Cursor` header, null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
