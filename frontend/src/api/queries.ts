/**
 * Server state through TanStack Query: one hook per read, the query keys they share, and
 * the cache updates the live tail makes (rows change in place; nothing is refetched per
 * attempt). Pages never hold fetched data in their own state.
 */
import { QueryClient, keepPreviousData, useQuery, type QueryKey } from '@tanstack/react-query';
import { useApi } from '../authContext';
import { ApiError } from './client';
import type {
  AttemptEvent,
  Delivery,
  DeliveryFilters,
  DeliverySummary,
  MessageFilters,
  Page,
  SubscriptionStatus,
} from './types';
import { resolveRange, type RangeValue } from '../timeRange';

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        // A 4xx will not change by asking again; a network blip may.
        retry: (count, e) => !(e instanceof ApiError && e.status >= 400 && e.status < 500) && count < 2,
      },
    },
  });
}

export const keys = {
  subscription: (id: string) => ['subscription', id] as const,
  subscriptions: (status: SubscriptionStatus | undefined, cursor: string | undefined) => ['subscriptions', status ?? '', cursor ?? ''] as const,
  deliveries: (filters: DeliveryFilters, range: RangeValue, cursor: string | undefined) => ['deliveries', filters, range, cursor ?? ''] as const,
  messages: (filters: MessageFilters, range: RangeValue, cursor: string | undefined) => ['messages', filters, range, cursor ?? ''] as const,
  delivery: (id: string) => ['delivery', id] as const,
  message: (id: string) => ['message', id] as const,
  overview: ['overview'] as const,
  health: (range: RangeValue) => ['health', range] as const,
  subscriptionStats: (id: string, range: RangeValue) => ['subscription-stats', id, range] as const,
};

export function useSubscription(id: string) {
  const client = useApi();
  return useQuery({ queryKey: keys.subscription(id), queryFn: () => client.getSubscription(id), enabled: !!id });
}

export function useSubscriptions(status: SubscriptionStatus | undefined, cursor: string | undefined, limit = 50) {
  const client = useApi();
  return useQuery({
    queryKey: keys.subscriptions(status, cursor),
    queryFn: () => client.listSubscriptions({ status, cursor, limit }),
    placeholderData: keepPreviousData,
  });
}

/** A page of `GET /deliveries`; a preset range is resolved against the clock at each fetch. */
export function useDeliverySearch(filters: DeliveryFilters, range: RangeValue, cursor: string | undefined, limit = 50) {
  const client = useApi();
  return useQuery({
    queryKey: keys.deliveries(filters, range, cursor),
    queryFn: () => client.searchDeliveries({ ...filters, ...resolveRange(range), cursor, limit }),
    placeholderData: keepPreviousData,
  });
}

export function useMessageSearch(filters: MessageFilters, range: RangeValue, cursor: string | undefined, limit = 50) {
  const client = useApi();
  return useQuery({
    queryKey: keys.messages(filters, range, cursor),
    queryFn: () => client.searchMessages({ ...filters, ...resolveRange(range), cursor, limit }),
    placeholderData: keepPreviousData,
  });
}

const IN_FLIGHT = new Set(['pending', 'delivering', 'retrying']);

/** A delivery; polled every 2 s while it is in flight (or `watch` holds, e.g. after a retry). */
export function useDelivery(id: string, watch = false) {
  const client = useApi();
  return useQuery({
    queryKey: keys.delivery(id),
    queryFn: () => client.getDelivery(id),
    enabled: !!id,
    refetchInterval: (q) => (watch || (q.state.data && IN_FLIGHT.has(q.state.data.status)) ? 2_000 : false),
  });
}

export function useMessage(id: string) {
  const client = useApi();
  return useQuery({ queryKey: keys.message(id), queryFn: () => client.getMessage(id), enabled: !!id });
}

export function useOverview() {
  const client = useApi();
  return useQuery({ queryKey: keys.overview, queryFn: () => client.getOverview(), refetchInterval: 15_000 });
}

export function useSubscriptionsHealth(range: RangeValue) {
  const client = useApi();
  return useQuery({
    queryKey: keys.health(range),
    queryFn: () => client.getSubscriptionsHealth(resolveRange(range)),
    refetchInterval: 30_000,
    placeholderData: keepPreviousData,
  });
}

export function useSubscriptionStats(id: string, range: RangeValue) {
  const client = useApi();
  return useQuery({
    queryKey: keys.subscriptionStats(id, range),
    queryFn: () => client.getSubscriptionStats(id, resolveRange(range)),
    refetchInterval: 30_000,
    placeholderData: keepPreviousData,
    enabled: !!id,
  });
}

/** A list row after the attempt `e` of its delivery. */
export function patchSummary(row: DeliverySummary, e: AttemptEvent): DeliverySummary {
  if (row.id !== e.delivery_id) return row;
  const a = e.attempt;
  if (row.attempt_count > a.attempt_number) return row; // an older attempt arriving late
  return {
    ...row,
    status: e.delivery_status,
    attempt_count: a.attempt_number,
    last_attempt_at: a.attempted_at,
    last_status_code: a.status_code ?? null,
    last_error: a.succeeded ? null : (a.error_message ?? row.last_error ?? null),
    next_attempt_at: a.succeeded ? null : row.next_attempt_at,
  };
}

/** A delivery after the attempt `e`: its status, and the attempt added once. */
export function patchDelivery(d: Delivery, e: AttemptEvent): Delivery {
  if (d.id !== e.delivery_id || d.attempts.some((a) => a.id === e.attempt.id)) return d;
  return {
    ...d,
    status: e.delivery_status,
    attempt_count: Math.max(d.attempt_count, e.attempt.attempt_number),
    last_attempt_at: e.attempt.attempted_at,
    last_status_code: e.attempt.status_code ?? null,
    attempts: [...d.attempts, e.attempt],
  };
}

/**
 * Applies a live attempt to every cached list and delivery that shows it. Returns whether
 * any cached list held that delivery (if none did, it is new to the lists on screen).
 */
export function applyAttemptEvent(qc: QueryClient, e: AttemptEvent): boolean {
  let seen = false;
  qc.setQueriesData<Page<DeliverySummary>>({ queryKey: ['deliveries'] satisfies QueryKey }, (page) => {
    if (!page || !page.items.some((r) => r.id === e.delivery_id)) return page;
    seen = true;
    return { ...page, items: page.items.map((r) => patchSummary(r, e)) };
  });
  qc.setQueryData<Delivery>(keys.delivery(e.delivery_id), (d) => (d ? patchDelivery(d, e) : d));
  return seen;
}
