/** Small pure helpers for showing API values to people. */

/** Local, readable date-time for an RFC 3339 string; the raw value is kept for `<time dateTime>`. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** `HH:MM` in local time, for chart axes. */
export function formatClock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function prettyJson(value: unknown): string {
  if (value === undefined) return '';
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** Response bodies are text; show JSON ones indented. */
export function prettyBody(body: string): string {
  const t = body.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return body;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return body;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID.test(s);
}

/** `<input type="datetime-local">` value (local time) → RFC 3339 UTC, or undefined if empty/invalid. */
export function localInputToRfc3339(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** RFC 3339 → `<input type="datetime-local">` value in local time (minute precision). */
export function rfc3339ToLocalInput(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** `task_id` is one id for per-subscription ingests and a list for fan-out. */
export function taskIds(taskId: string | string[]): string[] {
  return Array.isArray(taskId) ? taskId : [taskId];
}

/**
 * The part of an id that tells it apart: ids are time-ordered (UUIDv7), so their first
 * characters are shared by everything made in the same minute; the last 12 hex digits are
 * random. The look-up box and `GET /deliveries?id=` accept this form as it is shown.
 */
export function shortId(id: string): string {
  return `…${id.replace(/-/g, '').slice(-12)}`;
}

/** A hex piece of an id as typed or copied (dashes, spaces and a leading ellipsis allowed). */
export function idFragment(text: string): string | null {
  const hex = text.trim().replace(/^(…|\.\.\.)/, '').replace(/-/g, '').toLowerCase();
  return /^[0-9a-f]{4,32}$/.test(hex) ? hex : null;
}

/** A share from 0 to 1 as a percentage, or a dash when there is nothing to divide. */
export function formatPercent(share: number | null | undefined): string {
  if (share === null || share === undefined || Number.isNaN(share)) return '—';
  const pct = share * 100;
  return `${pct >= 99.95 || pct === 0 ? pct.toFixed(0) : pct.toFixed(1)}%`;
}

export function formatMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : formatDuration(ms);
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
