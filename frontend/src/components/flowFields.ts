/**
 * Flow control, pure. The subscription form's content filter (a JSON object typed as text)
 * and retry schedule (durations separated by commas): parsed and checked before anything is
 * sent, shown back as text, and the server's refusal of either placed next to its field; an
 * empty field means `null`, the server's default (every event; its own schedule). Also the
 * words for the adaptive concurrency and whether a delivery can be skipped.
 */
import type { ContentFilter, DeliveryStatus } from '../api/types';

/** Operators the server knows, for the hint (it checks them and names a bad path itself). */
export const FILTER_OPERATORS = ['$eq', '$neq', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$startsWith', '$and', '$or', '$not'];

export const FILTER_EXAMPLE = '{"payload": {"amount": {"$gte": 100}}}';

/** At most this many steps, each at most 7 days (as the server allows). */
export const MAX_RETRY_STEPS = 20;
const MAX_STEP_MS = 7 * 86_400_000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+)(ms|s|m|h|d)$/;

/** The word that stands for an empty schedule: one attempt, no retries. */
export const NO_RETRIES = 'none';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** The filter field: empty → `null`; otherwise it must be a JSON object. */
export function parseFilter(text: string): Parsed<ContentFilter | null> {
  const t = text.trim();
  if (!t) return { ok: true, value: null };
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { ok: false, error: `The filter is not valid JSON: ${why}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: `The filter must be a JSON object such as ${FILTER_EXAMPLE}, or empty for every event.` };
  }
  return { ok: true, value: value as ContentFilter };
}

/** A stored filter as the field's text (indented JSON), empty when there is none. */
export function filterText(filter: ContentFilter | null | undefined): string {
  return filter == null ? '' : JSON.stringify(filter, null, 2);
}

function durationMs(step: string): number | null {
  const m = DURATION.exec(step);
  return m ? Number(m[1]) * UNIT_MS[m[2]] : null;
}

/**
 * The retry schedule field: empty → `null` (the server's schedule), `none` → `[]` (one
 * attempt, no retries), else durations such as `10s, 1m, 50ms` separated by commas.
 */
export function parseSchedule(text: string): Parsed<string[] | null> {
  const t = text.trim();
  if (!t) return { ok: true, value: null };
  if (t.toLowerCase() === NO_RETRIES) return { ok: true, value: [] };
  const steps = t
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (steps.length > MAX_RETRY_STEPS) {
    return { ok: false, error: `At most ${MAX_RETRY_STEPS} retries: this schedule has ${steps.length}.` };
  }
  for (const step of steps) {
    const ms = durationMs(step);
    if (ms === null) return { ok: false, error: `"${step}" is not a duration like 50ms, 10s, 1m, 2h or 1d.` };
    if (ms <= 0 || ms > MAX_STEP_MS) return { ok: false, error: `"${step}": each delay must be more than 0 and at most 7d.` };
  }
  return { ok: true, value: steps };
}

/** A stored schedule as the field's text: `null` → empty, `[]` → `none`. */
export function scheduleText(schedule: string[] | null | undefined): string {
  if (schedule == null) return '';
  return schedule.length ? schedule.join(', ') : NO_RETRIES;
}

/** A schedule in words for the subscription page. */
export function describeSchedule(schedule: string[] | null | undefined): string {
  if (schedule == null) return 'server default (COURIER_RETRY_SCHEDULE)';
  if (schedule.length === 0) return 'no retries (one attempt)';
  return `${schedule.join(', ')} (${schedule.length + 1} attempts)`;
}

/** The adaptive concurrency beside its ceiling, e.g. "8 of 16 (reduced after timeouts/429/503)". */
export function concurrencyText(current: number | null | undefined, max: number): string {
  const now = current ?? max;
  return now < max ? `${now} of ${max} (reduced after timeouts/429/503)` : `${now} of ${max}`;
}

export type FlowField = 'filter' | 'retry_schedule';

/**
 * Which flow field a server refusal names: its messages start with the path, e.g.
 * `filter.payload.amount.$between: …` or `retry_schedule[0]: …`.
 */
export function serverFieldError(message: string): FlowField | null {
  if (/^filter(?=[.:[\s])/.test(message)) return 'filter';
  if (/^retry_schedule(?=[.:[\s])/.test(message)) return 'retry_schedule';
  return null;
}

const SKIPPABLE: ReadonlySet<DeliveryStatus> = new Set(['pending', 'retrying', 'paused']);

/** Whether "Skip" applies: unfinished but not mid-attempt, and holding an ordering key. */
export function canSkip(d: { status: DeliveryStatus; ordering_key?: string | null }): boolean {
  return SKIPPABLE.has(d.status) && !!d.ordering_key;
}
