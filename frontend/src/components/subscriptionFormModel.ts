/**
 * The subscription form's model: its values as typed, validation with one message per field,
 * and the conversion to the API's create (POST) and replace (PUT) bodies. Pure, so it is tested
 * without rendering. An empty filter or retry schedule is left out of a create body and sent
 * as `null` in a replace body: the server's default.
 */
import type { Subscription, SubscriptionCreate, SubscriptionReplace } from '../api/types';
import { filterText, parseFilter, parseSchedule, scheduleText } from './flowFields';

export interface HeaderRow {
  name: string;
  value: string;
}

export interface FormValues {
  target_url: string;
  event_types: string;
  secret: string;
  description: string;
  rate_limit_per_second: string;
  max_in_flight: string;
  timeout_ms: string;
  /** JSON text of the content filter; empty: none. */
  filter: string;
  /** Delays separated by commas (`10s, 1m`), `none`, or empty for the server's schedule. */
  retry_schedule: string;
  headers: HeaderRow[];
}

export type FormErrors = Partial<Record<Exclude<keyof FormValues, 'headers'>, string>> & { headers?: string[] };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** `*`, an exact type, or a prefix wildcard `order.*`; `*` anywhere else is refused. */
const PATTERN = /^(\*|[^\s*]+(\.\*)?)$/;

export function emptyValues(): FormValues {
  return {
    target_url: '',
    event_types: '',
    secret: '',
    description: '',
    rate_limit_per_second: '',
    max_in_flight: '',
    timeout_ms: '',
    filter: '',
    retry_schedule: '',
    headers: [],
  };
}

export function valuesFrom(s: Subscription): FormValues {
  return {
    target_url: s.target_url,
    event_types: s.event_types.join('\n'),
    secret: '',
    description: s.description ?? '',
    rate_limit_per_second: s.rate_limit_per_second == null ? '' : String(s.rate_limit_per_second),
    max_in_flight: String(s.max_in_flight),
    // null: the server's default timeout; the field stays empty and saving keeps it null.
    timeout_ms: s.timeout_ms == null ? '' : String(s.timeout_ms),
    filter: filterText(s.filter),
    retry_schedule: scheduleText(s.retry_schedule),
    headers: Object.entries(s.headers ?? {}).map(([name, value]) => ({ name, value })),
  };
}

export function splitPatterns(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((p) => p.trim())
    .filter(Boolean);
}

function positiveInt(text: string): boolean {
  return /^\d+$/.test(text.trim()) && Number(text) > 0 && Number.isSafeInteger(Number(text));
}

/** Pure validation; `editing` makes `max_in_flight` (always set on a stored subscription) required. */
export function validate(v: FormValues, editing: boolean): FormErrors {
  const errors: FormErrors = {};
  const url = v.target_url.trim();
  if (!url) {
    errors.target_url = 'Enter the URL Courier should deliver to.';
  } else {
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      parsed = null;
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || !parsed.host) {
      errors.target_url = 'Enter an absolute http:// or https:// URL, e.g. https://example.com/webhooks.';
    }
  }
  const bad = splitPatterns(v.event_types).filter((p) => !PATTERN.test(p));
  if (bad.length) {
    errors.event_types = `Not a valid pattern: ${bad.join(', ')}. Use an exact type (order.created), a prefix wildcard (order.*) or *.`;
  }
  if (v.rate_limit_per_second.trim() && !positiveInt(v.rate_limit_per_second)) {
    errors.rate_limit_per_second = 'Enter a whole number of deliveries per second above 0, or leave it empty for no limit.';
  }
  for (const field of ['max_in_flight', 'timeout_ms'] as const) {
    const text = v[field].trim();
    const required = editing && field === 'max_in_flight';
    if ((text || required) && !positiveInt(text)) {
      errors[field] = field === 'max_in_flight' ? 'Enter a whole number above 0.' : 'Enter a timeout in milliseconds, a whole number above 0.';
    }
  }
  const filter = parseFilter(v.filter);
  if (!filter.ok) errors.filter = filter.error;
  const schedule = parseSchedule(v.retry_schedule);
  if (!schedule.ok) errors.retry_schedule = schedule.error;
  const headerErrors: string[] = [];
  const seen = new Set<string>();
  v.headers.forEach((h, i) => {
    const name = h.name.trim();
    if (!name && !h.value.trim()) return;
    if (!name) headerErrors[i] = 'Enter a header name.';
    else if (!TOKEN.test(name)) headerErrors[i] = `"${name}" is not a valid header name (letters, digits and - only).`;
    else if (seen.has(name.toLowerCase())) headerErrors[i] = `"${name}" is already set above.`;
    else if (!h.value.trim()) headerErrors[i] = `Enter a value for ${name}.`;
    seen.add(name.toLowerCase());
  });
  if (headerErrors.length) errors.headers = headerErrors;
  return errors;
}

function headerObject(rows: HeaderRow[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of rows) if (h.name.trim()) out[h.name.trim()] = h.value.trim();
  return out;
}

export function toCreateBody(v: FormValues): SubscriptionCreate {
  const body: SubscriptionCreate = { target_url: v.target_url.trim(), event_types: splitPatterns(v.event_types) };
  if (v.secret.trim()) body.secret = v.secret.trim();
  if (v.description.trim()) body.description = v.description.trim();
  const headers = headerObject(v.headers);
  if (Object.keys(headers).length) body.headers = headers;
  if (v.rate_limit_per_second.trim()) body.rate_limit_per_second = Number(v.rate_limit_per_second);
  if (v.max_in_flight.trim()) body.max_in_flight = Number(v.max_in_flight);
  if (v.timeout_ms.trim()) body.timeout_ms = Number(v.timeout_ms);
  const filter = parsedOrNull(parseFilter(v.filter));
  if (filter) body.filter = filter;
  const schedule = parsedOrNull(parseSchedule(v.retry_schedule));
  if (schedule) body.retry_schedule = schedule;
  return body;
}

/** A field's value once `validate` has passed it; a refused one throws rather than turn into `null`. */
function parsedOrNull<T>(p: { ok: true; value: T | null } | { ok: false; error: string }): T | null {
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

export function toReplaceBody(v: FormValues): SubscriptionReplace {
  return {
    target_url: v.target_url.trim(),
    event_types: splitPatterns(v.event_types),
    description: v.description.trim() || null,
    headers: headerObject(v.headers),
    rate_limit_per_second: v.rate_limit_per_second.trim() ? Number(v.rate_limit_per_second) : null,
    max_in_flight: Number(v.max_in_flight),
    timeout_ms: v.timeout_ms.trim() ? Number(v.timeout_ms) : null,
    filter: parsedOrNull(parseFilter(v.filter)),
    retry_schedule: parsedOrNull(parseSchedule(v.retry_schedule)),
  };
}
