import { describe, expect, it } from 'vitest';
import {
  canSkip,
  concurrencyText,
  describeSchedule,
  filterText,
  parseFilter,
  parseSchedule,
  scheduleText,
  serverFieldError,
} from './flowFields';

describe('content filter field', () => {
  it('is null when empty or blank', () => {
    expect(parseFilter('')).toEqual({ ok: true, value: null });
    expect(parseFilter('  \n ')).toEqual({ ok: true, value: null });
  });

  it('takes a JSON object, operators and all, as typed', () => {
    const text = '{"payload": {"amount": {"$gte": 100}}, "$or": [{"event_type": "order.created"}, {"headers.x-team": {"$exists": true}}]}';
    expect(parseFilter(text)).toEqual({ ok: true, value: JSON.parse(text) });
  });

  it('refuses text that is not JSON, saying why', () => {
    const r = parseFilter('{"payload": {amount: 1}}');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/^The filter is not valid JSON: /);
  });

  it('refuses JSON that is not an object: arrays, null, numbers, strings', () => {
    for (const text of ['[1]', 'null', '5', '"order"', 'true']) {
      const r = parseFilter(text);
      expect(r.ok, text).toBe(false);
      expect(!r.ok && r.error, text).toMatch(/must be a JSON object/);
    }
  });

  it('shows a stored filter indented, and none as empty', () => {
    expect(filterText(null)).toBe('');
    expect(filterText(undefined)).toBe('');
    expect(filterText({ payload: { a: 1 } })).toBe('{\n  "payload": {\n    "a": 1\n  }\n}');
    expect(parseFilter(filterText({ payload: { a: 1 } }))).toEqual({ ok: true, value: { payload: { a: 1 } } });
  });
});

describe('retry schedule field', () => {
  it('is null (the server default) when empty, and [] for "none"', () => {
    expect(parseSchedule('')).toEqual({ ok: true, value: null });
    expect(parseSchedule('   ')).toEqual({ ok: true, value: null });
    expect(parseSchedule('none')).toEqual({ ok: true, value: [] });
    expect(parseSchedule(' None ')).toEqual({ ok: true, value: [] });
  });

  it('splits on commas (and spaces) and keeps each step as written', () => {
    expect(parseSchedule('10s, 1m,50ms ,2h, 7d')).toEqual({ ok: true, value: ['10s', '1m', '50ms', '2h', '7d'] });
    expect(parseSchedule('10s,,1m,')).toEqual({ ok: true, value: ['10s', '1m'] });
  });

  it('names a step that is not a duration', () => {
    expect(parseSchedule('10s, 10x')).toEqual({ ok: false, error: '"10x" is not a duration like 50ms, 10s, 1m, 2h or 1d.' });
    expect(parseSchedule('10').ok).toBe(false);
    expect(parseSchedule('1.5s').ok).toBe(false);
    expect(parseSchedule('-1s').ok).toBe(false);
    expect(parseSchedule('10 s').ok).toBe(false);
  });

  it('refuses zero and steps over 7 days', () => {
    expect(parseSchedule('0s')).toEqual({ ok: false, error: '"0s": each delay must be more than 0 and at most 7d.' });
    expect(parseSchedule('8d').ok).toBe(false);
    expect(parseSchedule('169h').ok).toBe(false);
    expect(parseSchedule('168h').ok).toBe(true);
    expect(parseSchedule('604800000ms').ok).toBe(true);
    expect(parseSchedule('604800001ms').ok).toBe(false);
  });

  it('allows at most 20 steps', () => {
    expect(parseSchedule(Array(20).fill('1s').join(',')).ok).toBe(true);
    expect(parseSchedule(Array(21).fill('1s').join(','))).toEqual({ ok: false, error: 'At most 20 retries: this schedule has 21.' });
  });

  it('shows a stored schedule as the field text and in words', () => {
    expect(scheduleText(null)).toBe('');
    expect(scheduleText([])).toBe('none');
    expect(scheduleText(['10s', '1m'])).toBe('10s, 1m');
    expect(parseSchedule(scheduleText(['10s', '1m']))).toEqual({ ok: true, value: ['10s', '1m'] });
    expect(describeSchedule(null)).toMatch(/^server default/);
    expect(describeSchedule([])).toBe('no retries (one attempt)');
    expect(describeSchedule(['10s', '1m'])).toBe('10s, 1m (3 attempts)');
  });
});

describe('words and checks for flow control', () => {
  it('shows the adaptive concurrency beside its ceiling, saying why when it is lower', () => {
    expect(concurrencyText(16, 16)).toBe('16 of 16');
    expect(concurrencyText(8, 16)).toBe('8 of 16 (reduced after timeouts/429/503)');
    expect(concurrencyText(undefined, 4)).toBe('4 of 4');
  });

  it('places a server refusal next to the field its path names', () => {
    expect(serverFieldError('filter.payload.amount.$between: is not a known operator ($eq …)')).toBe('filter');
    expect(serverFieldError('filter: must be an object')).toBe('filter');
    expect(serverFieldError('retry_schedule[0]: "10x": unknown unit "x" (use ms, s, m, h or d)')).toBe('retry_schedule');
    expect(serverFieldError('retry_schedule: at most 20 steps are allowed')).toBe('retry_schedule');
    expect(serverFieldError('target_url must be absolute')).toBeNull();
    expect(serverFieldError('filtering is off')).toBeNull();
  });

  it('offers skip only for a keyed delivery that is pending, retrying or held', () => {
    for (const status of ['pending', 'retrying', 'paused'] as const) {
      expect(canSkip({ status, ordering_key: 'k' }), status).toBe(true);
      expect(canSkip({ status, ordering_key: null }), status).toBe(false);
    }
    for (const status of ['delivering', 'succeeded', 'failed', 'filtered'] as const) {
      expect(canSkip({ status, ordering_key: 'k' }), status).toBe(false);
    }
  });
});
