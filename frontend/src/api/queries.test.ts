import { describe, expect, it } from 'vitest';
import { applyAttemptEvent, keys, makeQueryClient, patchSummary } from './queries';
import type { AttemptEvent, Delivery, DeliverySummary, Page } from './types';

const row: DeliverySummary = {
  id: 'd1',
  message_id: 'm1',
  subscription_id: 's1',
  target_url: 'https://x.test',
  event_type: 'a.b',
  status: 'retrying',
  attempt_count: 1,
  next_attempt_at: '2026-01-01T00:00:10Z',
  last_attempt_at: '2026-01-01T00:00:00Z',
  last_status_code: 503,
  last_error: 'receiver answered 503',
  created_at: '2026-01-01T00:00:00Z',
};

function event(n: number, ok: boolean, id = 'd1'): AttemptEvent {
  return {
    subscription_id: 's1',
    delivery_id: id,
    message_id: 'm1',
    event_type: 'a.b',
    delivery_status: ok ? 'succeeded' : 'retrying',
    attempt: {
      id: `a${n}`,
      delivery_id: id,
      attempt_number: n,
      attempted_at: `2026-01-01T00:00:0${n}Z`,
      request_headers: {},
      status_code: ok ? 200 : 503,
      response_body: null,
      duration_ms: 5,
      error_class: ok ? null : 'http_status',
      error_message: ok ? null : 'receiver answered 503',
      succeeded: ok,
    },
  };
}

describe('live attempts update what is on screen in place', () => {
  it('moves a row to its new status, attempt count and result', () => {
    const next = patchSummary(row, event(2, true));
    expect(next).toMatchObject({ status: 'succeeded', attempt_count: 2, last_status_code: 200, last_error: null, next_attempt_at: null });
  });

  it('ignores an older attempt that arrives late, and other deliveries', () => {
    expect(patchSummary({ ...row, attempt_count: 3 }, event(2, true))).toEqual({ ...row, attempt_count: 3 });
    expect(patchSummary(row, event(2, true, 'other'))).toBe(row);
  });

  it('patches every cached list holding the delivery and the delivery itself, without fetching', () => {
    const qc = makeQueryClient();
    const listKey = keys.deliveries({ subscription_id: 's1' }, {}, undefined);
    qc.setQueryData<Page<DeliverySummary>>(listKey, { items: [row], nextCursor: null });
    const delivery = { ...row, task_id: 'd1', updated_at: row.created_at, payload: {}, attempts: [event(1, false).attempt] } as Delivery;
    qc.setQueryData(keys.delivery('d1'), delivery);

    expect(applyAttemptEvent(qc, event(2, true))).toBe(true);
    expect(qc.getQueryData<Page<DeliverySummary>>(listKey)!.items[0].status).toBe('succeeded');
    const d = qc.getQueryData<Delivery>(keys.delivery('d1'))!;
    expect(d.attempts.map((a) => a.attempt_number)).toEqual([1, 2]);
    expect(applyAttemptEvent(qc, event(2, true))).toBe(true);
    expect(qc.getQueryData<Delivery>(keys.delivery('d1'))!.attempts).toHaveLength(2);
    expect(applyAttemptEvent(qc, event(1, false, 'unseen'))).toBe(false);
  });
});
