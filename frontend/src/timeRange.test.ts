import { describe, expect, it } from 'vitest';
import { describeRange, rangeFromParams, rangeParams, resolveRange } from './timeRange';
import { patchParams } from './urlState';

describe('time ranges in the URL', () => {
  it('reads a preset or fixed bounds, under a prefix when given', () => {
    expect(rangeFromParams(new URLSearchParams('range=6h'))).toEqual({ preset: '6h' });
    expect(rangeFromParams(new URLSearchParams('since=2026-01-01T00:00:00Z'))).toEqual({ since: '2026-01-01T00:00:00Z', until: undefined });
    expect(rangeFromParams(new URLSearchParams('range=bogus'), { preset: '24h' })).toEqual({ preset: '24h' });
    expect(rangeFromParams(new URLSearchParams('stats_range=7d&range=1h'), {}, 'stats_')).toEqual({ preset: '7d' });
  });

  it('writes one form and clears the other', () => {
    expect(rangeParams({ preset: '1h' })).toEqual({ range: '1h', since: undefined, until: undefined });
    expect(rangeParams({ since: 'a' }, 'stats_')).toEqual({ stats_range: undefined, stats_since: 'a', stats_until: undefined });
  });

  it('resolves a preset against the clock', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(resolveRange({ preset: '24h' }, now)).toEqual({ since: '2026-01-01T00:00:00.000Z' });
    expect(resolveRange({})).toEqual({ since: undefined, until: undefined });
    expect(describeRange({ preset: '1h' })).toBe('last hour');
    expect(describeRange({})).toBe('all time');
  });

  it('patches search parameters, dropping empty values', () => {
    const next = patchParams(new URLSearchParams('status=failed&after=c1'), { status: '', event_type: 'order.*', after: undefined });
    expect(next.toString()).toBe('event_type=order.*');
  });
});
