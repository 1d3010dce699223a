import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeFetch, renderApp, SUB_ID } from '../test/helpers';

const D1 = '0193ab6e-7d1c-7b3e-9f00-3f9a1c2b7d4e';
const D2 = '0193ab6e-7d1c-7b3e-9f00-0000000000b1';

function row(id: string, status: string) {
  return {
    id,
    message_id: '0193ab6e-7d1c-7b3e-9f00-00000000aaaa',
    subscription_id: SUB_ID,
    target_url: 'https://example.com/hook',
    event_type: 'order.created',
    status,
    attempt_count: 2,
    next_attempt_at: null,
    last_attempt_at: '2026-01-01T10:00:00Z',
    last_status_code: 503,
    last_error: 'receiver answered 503',
    created_at: '2026-01-01T10:00:00Z',
  };
}

function server() {
  return fakeFetch(({ method, url }) => {
    if (method === 'GET' && url.pathname === '/deliveries') {
      const items = url.searchParams.get('id') ? [row(D1, 'failed')] : [row(D1, 'failed'), row(D2, 'succeeded')];
      return { body: items };
    }
    if (method === 'POST' && url.pathname === '/deliveries/retry') return { status: 202, body: { matched: 3, requeued: 3, truncated: false, cap: 10000 } };
    if (method === 'GET' && url.pathname === '/messages') return { body: [] };
    if (method === 'GET' && url.pathname === '/stats/subscriptions') return { body: { since: '', until: '', subscriptions: [] } };
    return undefined;
  });
}

const calls = (fetch: ReturnType<typeof server>, path: string) =>
  fetch.mock.calls.map(([u, init]) => ({ url: new URL(String(u), 'http://localhost'), init: init as RequestInit })).filter((c) => c.url.pathname === path);

describe('delivery explorer', () => {
  it('shows the random tail of each id, so rows differ, with the whole id to copy', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    renderApp('/ui/deliveries', server());
    const rows = await screen.findAllByTestId('delivery-row');
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByRole('link', { name: `Delivery ${D1}` })).toHaveTextContent('…3f9a1c2b7d4e');
    expect(within(rows[1]).getByRole('link', { name: `Delivery ${D2}` })).toHaveTextContent('…0000000000b1');
    expect(within(rows[0]).getByRole('button', { name: 'Copy id' })).toHaveAttribute('data-copy', D1);
    expect(within(rows[0]).getByText('HTTP 503')).toBeInTheDocument();
  });

  it('sends the filters it is given, pattern and HTTP class included, and refuses bad ones in words', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    const fetch = server();
    renderApp('/ui/deliveries?status=failed', fetch);
    await screen.findAllByTestId('delivery-row');
    expect(calls(fetch, '/deliveries')[0].url.searchParams.get('status')).toBe('failed');

    await user.type(screen.getByLabelText('HTTP status'), '7xx');
    await user.click(screen.getByRole('button', { name: 'Apply filters' }));
    expect(screen.getByText(/status code such as 503/)).toBeInTheDocument();

    await user.clear(screen.getByLabelText('HTTP status'));
    await user.type(screen.getByLabelText('HTTP status'), '5xx');
    await user.type(screen.getByLabelText('Event type'), 'order.*');
    await user.click(screen.getByRole('button', { name: 'Apply filters' }));
    await screen.findAllByTestId('delivery-row');
    const last = calls(fetch, '/deliveries').at(-1)!.url.searchParams;
    expect(last.get('http_status')).toBe('5xx');
    expect(last.get('event_type')).toBe('order.*');
    expect(last.get('status')).toBe('failed');
  });

  it('retries what a bounded filter matches, and will not act on an unbounded one', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    const fetch = server();
    renderApp('/ui/deliveries', fetch);
    await screen.findAllByTestId('delivery-row');
    expect(screen.getByRole('button', { name: 'Retry matching…' })).toBeDisabled();

    renderApp(`/ui/deliveries?subscription_id=${SUB_ID}&range=24h`, fetch);
    const buttons = await screen.findAllByRole('button', { name: 'Retry matching…' });
    await user.click(buttons.at(-1)!);
    const dialog = await screen.findByRole('dialog', { name: 'Retry the matching deliveries?' });
    await user.click(within(dialog).getByRole('button', { name: 'Retry them' }));
    expect(await screen.findByText('3 of 3 matching deliveries re-queued.')).toBeInTheDocument();
    const body = JSON.parse(calls(fetch, '/deliveries/retry')[0].init.body as string);
    expect(body.subscription_id).toBe(SUB_ID);
    expect(body.status).toBe('failed');
    expect(Date.now() - Date.parse(body.since)).toBeGreaterThan(23 * 3600_000);
  });

  it('the look-up box finds a delivery by the id as the table shows it', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    const fetch = server();
    renderApp('/ui/messages', fetch);
    await user.type(await screen.findByLabelText(/Look up an id/), '…3f9a1c2b7d4e');
    await user.click(screen.getByRole('button', { name: 'Look up' }));
    expect(await screen.findByRole('heading', { name: /Delivery/, level: 1 })).toBeInTheDocument();
    expect(calls(fetch, '/deliveries').at(-1)!.url.searchParams.get('id')).toBe('3f9a1c2b7d4e');
  });
});
