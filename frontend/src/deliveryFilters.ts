/**
 * Delivery filters, pure: the choices the form offers, the checks it makes before anything
 * reaches the server, how the URL keeps them, and the body of a bulk call built from them.
 */
import type { BulkFilter, DeliveryFilters } from './api/types';
import { idFragment } from './format';
import { resolveRange, type RangeValue } from './timeRange';

export type BulkAction = 'retry' | 'cancel';

/** Status choices: one status, or the unfinished ones together. */
export const STATUS_CHOICES: { value: string; label: string }[] = [
  { value: '', label: 'Any' },
  { value: 'failed', label: 'failed' },
  { value: 'retrying', label: 'retrying' },
  { value: 'pending,delivering,retrying,paused', label: 'unfinished (pending, retrying, held)' },
  { value: 'succeeded', label: 'succeeded' },
  { value: 'pending', label: 'pending' },
  { value: 'delivering', label: 'delivering' },
  { value: 'paused', label: 'held (paused)' },
  { value: 'filtered', label: 'filtered' },
];

const PATTERN = /^(\*|[A-Za-z0-9_:.-]+(\.\*)?)$/;
const HTTP = /^([1-5]\d\d|[1-5]xx)$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const FILTER_KEYS = ['status', 'event_type', 'http_status', 'subscription_id', 'id'] as const;

/** The delivery filters kept in the URL. */
export function filtersFromParams(params: URLSearchParams): DeliveryFilters {
  const f: DeliveryFilters = {};
  for (const k of FILTER_KEYS) {
    const v = params.get(k);
    if (v) f[k] = v;
  }
  return f;
}

export type FieldErrors = Partial<Record<'event_type' | 'http_status' | 'subscription_id' | 'id', string>>;

/** Pure checks with one message per field, before anything reaches the server. */
export function checkFilters(f: DeliveryFilters): FieldErrors {
  const errors: FieldErrors = {};
  if (f.event_type && !PATTERN.test(f.event_type)) errors.event_type = 'Use an exact type (order.created), a prefix (order.*) or *.';
  if (f.http_status && !HTTP.test(f.http_status)) errors.http_status = 'Use a status code such as 503 or a class such as 5xx.';
  if (f.subscription_id && !UUID.test(f.subscription_id)) errors.subscription_id = 'Paste the whole subscription id (36 characters).';
  if (f.id && !idFragment(f.id)) errors.id = 'Enter an id, or at least 4 of its characters (its start or its end).';
  return errors;
}

/** The body for a bulk call: the list's filters, with the range resolved now. */
export function bulkBody(filters: DeliveryFilters, range: RangeValue, action: BulkAction): BulkFilter {
  const { since, until } = resolveRange(range);
  const status = filters.status || (action === 'retry' ? 'failed' : undefined);
  return {
    status,
    event_type: filters.event_type,
    subscription_id: filters.subscription_id,
    http_status: filters.http_status,
    since,
    until,
  };
}
