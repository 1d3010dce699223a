/**
 * Time ranges as the URL keeps them: a preset relative to now (`range=24h`) or fixed bounds
 * (`since=…&until=…`, RFC 3339). Pure, so it is tested without rendering; a preset is
 * resolved to times only when a query runs, so refetches move with the clock.
 */

export const PRESETS = {
  '15m': 15 * 60_000,
  '1h': 60 * 60_000,
  '6h': 6 * 60 * 60_000,
  '24h': 24 * 60 * 60_000,
  '7d': 7 * 24 * 60 * 60_000,
  '30d': 30 * 24 * 60 * 60_000,
} as const;

export type Preset = keyof typeof PRESETS;

export const PRESET_LABELS: Record<Preset, string> = {
  '15m': 'Last 15 minutes',
  '1h': 'Last hour',
  '6h': 'Last 6 hours',
  '24h': 'Last 24 hours',
  '7d': 'Last 7 days',
  '30d': 'Last 30 days',
};

/** A preset, fixed bounds, or neither (no time filter). */
export interface RangeValue {
  preset?: Preset;
  since?: string;
  until?: string;
}

export function isPreset(s: string | null | undefined): s is Preset {
  return !!s && Object.hasOwn(PRESETS, s);
}

/** The bounds to send to the server. */
export function resolveRange(r: RangeValue, now = Date.now()): { since?: string; until?: string } {
  if (r.preset) return { since: new Date(now - PRESETS[r.preset]).toISOString() };
  return { since: r.since || undefined, until: r.until || undefined };
}

/** Reads `range`, `since` and `until` (each after `prefix`); `fallback` when none is there. */
export function rangeFromParams(params: URLSearchParams, fallback: RangeValue = {}, prefix = ''): RangeValue {
  const preset = params.get(`${prefix}range`);
  if (isPreset(preset)) return { preset };
  const since = params.get(`${prefix}since`) || undefined;
  const until = params.get(`${prefix}until`) || undefined;
  if (since || until) return { since, until };
  return fallback;
}

/** The URL parameters of a range (the other two are cleared). */
export function rangeParams(r: RangeValue, prefix = ''): Record<string, string | undefined> {
  if (r.preset) return { [`${prefix}range`]: r.preset, [`${prefix}since`]: undefined, [`${prefix}until`]: undefined };
  return { [`${prefix}range`]: undefined, [`${prefix}since`]: r.since, [`${prefix}until`]: r.until };
}

export function describeRange(r: RangeValue): string {
  if (r.preset) return PRESET_LABELS[r.preset].toLowerCase();
  const fmt = (s: string) => new Date(s).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  if (r.since && r.until) return `from ${fmt(r.since)} to ${fmt(r.until)}`;
  if (r.since) return `since ${fmt(r.since)}`;
  if (r.until) return `until ${fmt(r.until)}`;
  return 'all time';
}
