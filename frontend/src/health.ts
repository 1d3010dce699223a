/** Pure arithmetic and words for subscription health: tones for rates, totals, the timeout. */
import type { SubscriptionHealth } from './api/types';
import { formatDuration } from './format';

/** A CSS class for a success share: bad under 90 %, a warning under 99 %. */
export function rateTone(share: number | null | undefined): string {
  if (share === null || share === undefined) return '';
  if (share < 0.9) return 'text-bad';
  if (share < 0.99) return 'text-warn';
  return 'text-good';
}

/** Totals over every subscription's health rows. */
export function totals(rows: SubscriptionHealth[]) {
  const sum = (f: (h: SubscriptionHealth) => number) => rows.reduce((n, h) => n + f(h), 0);
  const firstAttempts = sum((h) => h.first_attempts);
  const firstOk = sum((h) => h.first_attempts_succeeded);
  const finished = sum((h) => h.deliveries.succeeded + h.deliveries.failed);
  return {
    deliveries: sum((h) => h.deliveries.total),
    attempts: sum((h) => h.attempts),
    failed: sum((h) => h.deliveries.failed),
    firstTry: firstAttempts ? firstOk / firstAttempts : null,
    eventual: finished ? sum((h) => h.deliveries.succeeded) / finished : null,
  };
}

export function timeoutText(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? 'server default (COURIER_DELIVERY_TIMEOUT, 10 s unless changed)' : formatDuration(ms);
}
