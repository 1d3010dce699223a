/**
 * The Courier API's types, taken from the generated `schema.d.ts` (openapi-typescript over
 * the server's `/openapi.json`, snapshot in `openapi.json`; `npm run api:refresh`). Only
 * names and a few narrowings live here: where the document says `string`, the statuses are
 * narrowed to the values the server sends, so pages can switch on them.
 *
 * Ids are UUID strings and times RFC 3339 UTC strings; optional fields may be absent or null.
 */
import type { components } from './schema';

type Schemas = components['schemas'];

export type SubscriptionStatus = 'active' | 'paused' | 'disabled';

export type DeliveryStatus = 'pending' | 'delivering' | 'retrying' | 'succeeded' | 'failed' | 'filtered' | 'paused';

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

/**
 * A content filter: a JSON object matched against `{"event_type", "payload", "headers"}`
 * (the document says only "object", which openapi-typescript turns into an empty record).
 */
export type ContentFilter = Record<string, unknown>;

type WithFilter<T> = Omit<T, 'filter'> & { filter?: ContentFilter | null };

export type Subscription = WithFilter<Omit<Schemas['SubscriptionView'], 'secret'>> & { status: SubscriptionStatus };

/** The answer to create and rotate-secret: the only time the secret is ever shown. */
export type SubscriptionWithSecret = Subscription & { secret: string };

/** Body of `POST /subscriptions/` and of `PUT /subscriptions/{id}`. */
export type SubscriptionCreate = WithFilter<Schemas['SubscriptionBody']>;
export type SubscriptionReplace = WithFilter<Schemas['SubscriptionBody']>;
export type SubscriptionPatch = WithFilter<Schemas['SubscriptionPatch']>;

export type IngestAccepted = Schemas['IngestAccepted'];

/**
 * One attempt. `response_headers` is newer than some servers' documents: it is absent or
 * null when the server does not record them; credential-looking request headers arrive masked.
 */
export type Attempt = Omit<Schemas['AttemptView'], 'request_headers' | 'error_class'> & {
  request_headers: Record<string, string>;
  response_headers?: Record<string, string> | null;
  error_class?: ErrorClass | null;
};

export type Delivery = Omit<Schemas['DeliveryView'], 'status' | 'attempts'> & {
  status: DeliveryStatus;
  attempts: Attempt[];
};

/** A delivery in a list: no payload, no attempts. */
export type DeliverySummary = Omit<Schemas['DeliverySummary'], 'status'> & { status: DeliveryStatus };

export type Message = Omit<Schemas['MessageView'], 'deliveries'> & { deliveries: Delivery[] };
export type MessageSummary = Schemas['MessageSummary'];
export type DeliveryCounts = Schemas['DeliveryCounts'];

export type RecoverResult = Schemas['Recovered'];
export type BulkFilter = Schemas['BulkFilter'];
export type BulkRetried = Schemas['BulkRetried'];
export type BulkCancelled = Schemas['BulkCancelled'];

export type MinuteStats = Schemas['MinuteStats'];
export type FailingSubscription = Schemas['FailingSubscription'];
export type OverviewStats = Schemas['Overview'];

export type SubscriptionHealth = Omit<Schemas['SubscriptionHealth'], 'status'> & { status: SubscriptionStatus };
export type SubscriptionsHealth = Omit<Schemas['SubscriptionsHealth'], 'subscriptions'> & {
  subscriptions: SubscriptionHealth[];
};
export type StatsBucket = Schemas['StatsBucket'];
export type SubscriptionStats = Omit<Schemas['SubscriptionStats'], 'health'> & { health: SubscriptionHealth };

/** Data of an SSE `attempt` event on `GET /stream` (the stream is not in the document). */
export interface AttemptEvent {
  subscription_id: string;
  delivery_id: string;
  message_id: string;
  event_type: string;
  delivery_status: DeliveryStatus;
  attempt: Attempt;
}

/** The error body of every 4xx/5xx answer (RFC 7807 fields included). */
export type ApiErrorBody = Schemas['ErrorBody'];

/** Filters of `GET /deliveries` (and, without `subscription_id`/`http_status`/`id`, of a subscription's log). */
export interface DeliveryFilters {
  /** One status or several, comma-separated. */
  status?: string;
  /** Exact type, `order.*` or `*`. */
  event_type?: string;
  subscription_id?: string;
  /** A code (`503`) or a class (`5xx`). */
  http_status?: string;
  since?: string;
  until?: string;
  /** A whole id or a piece of one (its start or its end). */
  id?: string;
}

export interface MessageFilters {
  event_type?: string;
  since?: string;
  until?: string;
  id?: string;
}

export interface StatsRange {
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
