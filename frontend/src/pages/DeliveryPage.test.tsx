import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeFetch, renderApp, subscription, SUB_ID } from '../test/helpers';

const D = '0193ab6e-7d1c-7b3e-9f00-3f9a1c2b7d4e';

function delivery(overrides: Record<string, unknown> = {}) {
  return {
    id: D,
    task_id: D,
    application_id: '00000000-0000-0000-0000-000000000001',
    message_id: '0193ab6e-7d1c-7b3e-9f00-00000000aaaa',
    subscription_id: SUB_ID,
    event_type: 'order.created',
    status: 'retrying',
    attempt_count: 1,
    next_attempt_at: '2026-01-01T10:01:00Z',
    last_attempt_at: '2026-01-01T10:00:00Z',
    last_status_code: 500,
    last_error: 'receiver answered 500',
    created_at: '2026-01-01T10:00:00Z',
    updated_at: '2026-01-01T10:00:00Z',
    ordering_key: 'customer-42',
    payload: { n: 1 },
    attempts: [],
    ...overrides,
  };
}

function server(initial: Record<string, unknown>, skip: (current: Record<string, unknown>) => { status: number; body: unknown }) {
  let current = initial;
  return fakeFetch(({ method, url }) => {
    if (method === 'POST' && url.pathname === `/deliveries/${D}/skip`) {
      const r = skip(current);
      if (r.status === 202) current = r.body as Record<string, unknown>;
      return r;
    }
    if (url.pathname === `/deliveries/${D}`) return { body: current };
    if (url.pathname === `/subscriptions/${SUB_ID}`) return { body: subscription() };
    return undefined;
  });
}

const skipped = (d: Record<string, unknown>) => ({ ...d, status: 'failed', next_attempt_at: null, last_error: 'skipped by operator' });

describe('delivery page: ordering key and skip', () => {
  it('shows the ordering key, and skips after asking: the delivery is failed and its key released', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    const fetch = server(delivery(), (d) => ({ status: 202, body: skipped(d) }));
    renderApp(`/ui/deliveries/${D}`, fetch);
    expect(await screen.findByTestId('ordering-key')).toHaveTextContent('customer-42');
    const button = screen.getByRole('button', { name: 'Skip' });
    expect(button).toHaveAccessibleDescription(/marks this delivery failed and releases its ordering key customer-42/i);
    await user.click(button);
    const dialog = screen.getByRole('dialog', { name: 'Skip this delivery?' });
    await user.click(within(dialog).getByRole('button', { name: 'Skip delivery' }));
    expect(await screen.findByText(/Skipped: marked failed\. Ordering key customer-42 is released/)).toBeInTheDocument();
    expect(screen.getByText('failed', { selector: '.badge' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Skip' })).not.toBeInTheDocument();
    expect(fetch.mock.calls.filter(([u, init]) => String(u) === `/deliveries/${D}/skip` && (init as RequestInit).method === 'POST')).toHaveLength(1);
  });

  it("shows the server's words when the delivery finished meanwhile (409), and where it stands now", async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    let finished = false;
    const fetch = fakeFetch(({ method, url }) => {
      if (method === 'POST' && url.pathname === `/deliveries/${D}/skip`) {
        finished = true;
        return { status: 409, body: { code: 'conflict', message: 'the delivery is already succeeded; only an unfinished one can be skipped' } };
      }
      if (url.pathname === `/deliveries/${D}`) return { body: delivery(finished ? { status: 'succeeded', next_attempt_at: null } : {}) };
      if (url.pathname === `/subscriptions/${SUB_ID}`) return { body: subscription() };
      return undefined;
    });
    renderApp(`/ui/deliveries/${D}`, fetch);
    await user.click(await screen.findByRole('button', { name: 'Skip' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Skip delivery' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('the delivery is already succeeded; only an unfinished one can be skipped');
    expect(await screen.findByText('succeeded', { selector: '.badge' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Skip' })).not.toBeInTheDocument();
  });

  it('offers no skip without an ordering key or once final, and explains a filtered delivery', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const never = () => ({ status: 500, body: {} });
    const { unmount } = renderApp(`/ui/deliveries/${D}`, server(delivery({ ordering_key: null }), never));
    expect(await screen.findByTestId('ordering-key')).toHaveTextContent('none');
    expect(screen.queryByRole('button', { name: 'Skip' })).not.toBeInTheDocument();
    unmount();
    renderApp(`/ui/deliveries/${D}`, server(delivery({ status: 'filtered', attempt_count: 0, last_status_code: null, last_error: null }), never));
    expect(await screen.findByTestId('filtered-note')).toHaveTextContent(/content filter did not take this event/);
    expect(screen.getByText('filtered', { selector: '.badge' })).toHaveClass('badge-muted');
    expect(screen.queryByRole('button', { name: 'Skip' })).not.toBeInTheDocument();
  });
});

describe('message page: delivery rows show their ordering key', () => {
  it('badges a keyed delivery and not an unkeyed one', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const M = '0193ab6e-7d1c-7b3e-9f00-00000000aaaa';
    const other = '0193ab6e-7d1c-7b3e-9f00-0000000000b2';
    const message = {
      id: M,
      application_id: '00000000-0000-0000-0000-000000000001',
      event_type: 'order.created',
      payload: {},
      subscription_id: null,
      created_at: '2026-01-01T10:00:00Z',
      deliveries: [delivery(), delivery({ id: other, task_id: other, ordering_key: null, status: 'filtered' })],
    };
    renderApp(`/ui/messages/${M}`, fakeFetch(({ url }) => (url.pathname === `/messages/${M}` ? { body: message } : undefined)));
    const rows = await screen.findAllByTestId('delivery-row');
    expect(within(rows[0]).getByTestId('row-ordering-key')).toHaveTextContent('key customer-42');
    expect(within(rows[1]).queryByTestId('row-ordering-key')).not.toBeInTheDocument();
    expect(rows[1]).toHaveAttribute('data-status', 'filtered');
  });
});
