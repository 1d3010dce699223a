import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Attempt } from '../api/types';
import { AttemptList } from './AttemptList';

const base: Attempt = {
  id: 'a1',
  delivery_id: 'd1',
  attempt_number: 1,
  attempted_at: '2026-03-01T10:00:00Z',
  request_headers: { 'webhook-id': 'msg_1', 'X-Courier-Attempt': '1' },
  status_code: 500,
  response_body: '{"error":"boom"}',
  duration_ms: 1234,
  error_class: 'http_status',
  error_message: 'target answered 500',
  succeeded: false,
};

describe('AttemptList', () => {
  it('shows every attempt newest first, with status, duration, error, body and headers', () => {
    const second: Attempt = {
      ...base,
      id: 'a2',
      attempt_number: 2,
      status_code: null,
      response_body: null,
      duration_ms: 10000,
      error_class: 'timeout',
      error_message: 'no answer within 10 s',
      request_headers: { 'X-Courier-Attempt': '2' },
    };
    render(<AttemptList attempts={[base, second]} />);
    const cards = screen.getAllByTestId('attempt');
    expect(cards).toHaveLength(2);
    expect(within(cards[0]).getByRole('heading')).toHaveTextContent('Attempt 2');
    expect(within(cards[1]).getByRole('heading')).toHaveTextContent('Attempt 1');

    const first = cards[1];
    expect(within(first).getByText('500')).toBeInTheDocument();
    expect(within(first).getByText('1.23 s')).toBeInTheDocument();
    expect(within(first).getByText('http_status')).toBeInTheDocument();
    expect(within(first).getByText('target answered 500')).toBeInTheDocument();
    expect(within(first).getByTestId('response-body')).toHaveTextContent('"error": "boom"');
    const headers = within(first).getByRole('table', { name: 'Headers sent with attempt 1' });
    expect(within(headers).getByRole('rowheader', { name: 'webhook-id' })).toBeInTheDocument();
    expect(within(headers).getByText('msg_1')).toBeInTheDocument();

    expect(within(cards[0]).getByText('timeout')).toBeInTheDocument();
    expect(within(cards[0]).getByText(/Timed out/)).toBeInTheDocument();
    expect(within(cards[0]).getByText('No response body.')).toBeInTheDocument();
    expect(within(cards[0]).getByText('none')).toBeInTheDocument();
  });

  it('marks a successful attempt as succeeded', () => {
    render(<AttemptList attempts={[{ ...base, status_code: 200, succeeded: true, error_class: null, error_message: null }]} />);
    const card = screen.getByTestId('attempt');
    expect(within(card).getByText('succeeded')).toBeInTheDocument();
    expect(within(card).queryByText('Error')).not.toBeInTheDocument();
  });

  it('says so when there are no attempts yet', () => {
    render(<AttemptList attempts={[]} />);
    expect(screen.getByText(/No attempts yet/)).toBeInTheDocument();
  });
});
