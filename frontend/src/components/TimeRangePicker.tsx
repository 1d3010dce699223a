/**
 * Chooses a time range: a preset relative to now, fixed bounds, or (where allowed) all time.
 * Standalone it applies custom bounds with its button; inside a form (`immediate`) every
 * change goes straight to `onChange` and the form's own submit applies it.
 */
import { useState } from 'react';
import { localInputToRfc3339, rfc3339ToLocalInput } from '../format';
import { PRESET_LABELS, PRESETS, isPreset, type RangeValue } from '../timeRange';

interface Props {
  value: RangeValue;
  onChange: (r: RangeValue) => void;
  allowAll?: boolean;
  immediate?: boolean;
  id?: string;
}

export function TimeRangePicker({ value, onChange, allowAll = false, immediate = false, id = 'range' }: Props) {
  const custom = !value.preset && !!(value.since || value.until);
  const [editing, setEditing] = useState(custom);
  const [since, setSince] = useState(rfc3339ToLocalInput(value.since));
  const [until, setUntil] = useState(rfc3339ToLocalInput(value.until));
  const [error, setError] = useState<string | null>(null);
  const selected = value.preset ?? (custom || editing ? 'custom' : 'all');

  function choose(v: string) {
    setError(null);
    if (v === 'custom') return setEditing(true);
    setEditing(false);
    onChange(isPreset(v) ? { preset: v } : {});
  }

  function bounds(s: string, u: string): RangeValue | string {
    const from = localInputToRfc3339(s);
    const to = localInputToRfc3339(u);
    if (from && to && from > to) return 'The start must be before the end.';
    return { since: from, until: to };
  }

  function edit(s: string, u: string) {
    setSince(s);
    setUntil(u);
    if (!immediate) return;
    const r = bounds(s, u);
    setError(typeof r === 'string' ? r : null);
    if (typeof r !== 'string') onChange(r);
  }

  function apply() {
    const r = bounds(since, until);
    if (typeof r === 'string') return setError(r);
    if (!r.since && !r.until) return setError('Enter a start, an end, or both.');
    setError(null);
    onChange(r);
  }

  return (
    <div className="range-picker" role="group" aria-label="Time range">
      <div className="field">
        <label htmlFor={`${id}-preset`}>Time range</label>
        <select id={`${id}-preset`} value={selected} onChange={(e) => choose(e.target.value)}>
          {allowAll && <option value="all">All time</option>}
          {(Object.keys(PRESETS) as (keyof typeof PRESETS)[]).map((p) => (
            <option key={p} value={p}>
              {PRESET_LABELS[p]}
            </option>
          ))}
          <option value="custom">Custom…</option>
        </select>
      </div>
      {(editing || custom) && (
        <div className="range-custom">
          <div className="field">
            <label htmlFor={`${id}-since`}>From (local time)</label>
            <input id={`${id}-since`} type="datetime-local" value={since} onChange={(e) => edit(e.target.value, until)} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-until`}>To (local time)</label>
            <input id={`${id}-until`} type="datetime-local" value={until} onChange={(e) => edit(since, e.target.value)} />
          </div>
          {!immediate && (
            <button type="button" onClick={apply}>
              Apply range
            </button>
          )}
          {error && (
            <p className="field-error" role="alert">
              {error}
            </p>
          )}
        </div>
      )}
    </div>
  );
}
