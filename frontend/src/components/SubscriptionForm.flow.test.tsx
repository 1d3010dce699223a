import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeFetch, renderApp, subscription, SUB_ID } from '../test/helpers';
import { emptyValues, toCreateBody, toReplaceBody, validate, valuesFrom } from './subscriptionFormModel';

const FILTER = { payload: { amount: { $gte: 100 } } };
const base = { ...emptyValues(), target_url: 'https://x.test/h' };

describe('filter and retry schedule in the form model', () => {
  it('leaves both out of a create body when empty, and sends them parsed when filled', () => {
    expect(toCreateBody(base)).toEqual({ target_url: 'https://x.test/h', event_types: [] });
    expect(toCreateBody({ ...base, filter: JSON.stringify(FILTER), retry_schedule: '10s, 1m,50ms' })).toEqual({
      target_url: 'https://x.test/h',
      event_types: [],
      filter: FILTER,
      retry_schedule: ['10s', '1m', '50ms'],
    });
    expect(toCreateBody({ ...base, retry_schedule: 'none' }).retry_schedule).toEqual([]);
  });

  it('sends empty fields as null in a replace body: the server default', () => {
    const body = toReplaceBody({ ...base, max_in_flight: '4' });
    expect(body.filter).toBeNull();
    expect(body.retry_schedule).toBeNull();
    expect(toReplaceBody({ ...base, max_in_flight: '4', filter: ' {"a": 1} ', retry_schedule: '5s' })).toMatchObject({
      filter: { a: 1 },
      retry_schedule: ['5s'],
    });
  });

  it('refuses a filter that is not a JSON object and a bad schedule, one message each', () => {
    const errors = validate({ ...base, filter: '[{"a": 1}]', retry_schedule: '10s, soon' }, false);
    expect(errors.filter).toMatch(/must be a JSON object/);
    expect(errors.retry_schedule).toBe('"soon" is not a duration like 50ms, 10s, 1m, 2h or 1d.');
    expect(validate({ ...base, filter: '{"a": ' }, false).filter).toMatch(/not valid JSON/);
    expect(() => toReplaceBody({ ...base, filter: 'nope' })).toThrow(/not valid JSON/);
  });

  it('fills the fields from a stored subscription and saves them back unchanged', () => {
    const values = valuesFrom(subscription({ filter: FILTER, retry_schedule: ['10s', '1m'] }) as never);
    expect(JSON.parse(values.filter)).toEqual(FILTER);
    expect(values.retry_schedule).toBe('10s, 1m');
    expect(validate(values, true)).toEqual({});
    expect(toReplaceBody(values)).toMatchObject({ filter: FILTER, retry_schedule: ['10s', '1m'] });
    const none = valuesFrom(subscription({ filter: null, retry_schedule: [] }) as never);
    expect(none.filter).toBe('');
    expect(toReplaceBody(none)).toMatchObject({ filter: null, retry_schedule: [] });
  });
});

function postBodies(fetch: ReturnType<typeof fakeFetch>, method: string) {
  return fetch.mock.calls
    .filter(([, init]) => (init as RequestInit).method === method)
    .map(([, init]) => JSON.parse((init as RequestInit).body as string) as Record<string, unknown>);
}

describe('the form with a filter and a retry schedule', () => {
  it('creates a subscription with both', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    const fetch = fakeFetch(({ method, url, body }) => {
      if (method === 'POST' && url.pathname === '/subscriptions/') return { status: 201, body: { ...subscription(body as Record<string, unknown>), secret: 's' } };
      return undefined;
    });
    renderApp('/ui/subscriptions/new', fetch);
    await user.type(await screen.findByLabelText('Target URL (required)'), 'https://example.com/hook');
    // userEvent.type reads { and [ as key names: paste the JSON.
    await user.click(screen.getByLabelText('Content filter (JSON)'));
    await user.paste(JSON.stringify(FILTER));
    await user.type(screen.getByLabelText('Retry schedule'), '10s, 1m, 50ms');
    await user.click(screen.getByRole('button', { name: 'Create subscription' }));
    await screen.findByRole('dialog', { name: 'Subscription created' });
    expect(postBodies(fetch, 'POST')[0]).toEqual({
      target_url: 'https://example.com/hook',
      event_types: [],
      filter: FILTER,
      retry_schedule: ['10s', '1m', '50ms'],
    });
  });

  it('refuses a filter that is not a JSON object before sending anything', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    const fetch = fakeFetch(() => undefined);
    renderApp('/ui/subscriptions/new', fetch);
    await user.type(await screen.findByLabelText('Target URL (required)'), 'https://example.com/hook');
    await user.click(screen.getByLabelText('Content filter (JSON)'));
    await user.paste('["order.created"]');
    await user.click(screen.getByRole('button', { name: 'Create subscription' }));
    const field = screen.getByLabelText('Content filter (JSON)');
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(field).toHaveAccessibleDescription(/must be a JSON object/);
    expect(postBodies(fetch, 'POST')).toHaveLength(0);
  });

  it("shows the server's refusal of a filter next to the filter, naming the path", async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    const message = 'filter.payload.amount.$between: is not a known operator ($eq $neq $gt $gte $lt $lte $in $nin $exists $startsWith)';
    renderApp('/ui/subscriptions/new', fakeFetch(() => ({ status: 400, body: { code: 'validation_error', message } })));
    await user.type(await screen.findByLabelText('Target URL (required)'), 'https://example.com/hook');
    await user.click(screen.getByLabelText('Content filter (JSON)'));
    await user.paste('{"payload": {"amount": {"$between": 1}}}');
    await user.click(screen.getByRole('button', { name: 'Create subscription' }));
    const field = screen.getByLabelText('Content filter (JSON)');
    await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
    expect(field).toHaveAccessibleDescription(expect.stringContaining(message));
    expect(screen.getByLabelText('Retry schedule')).not.toHaveAttribute('aria-invalid');
  });

  it('edits a subscription: cleared fields are saved as null, and its page shows what is stored', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    let stored: Record<string, unknown> = subscription({ filter: FILTER, retry_schedule: ['10s', '1m'], max_in_flight: 16, current_concurrency: 8 });
    const fetch = fakeFetch(({ method, url, body }) => {
      if (url.pathname === `/subscriptions/${SUB_ID}` && method === 'PUT') {
        // The answer to PUT carries max_in_flight as the concurrency; GET the recorded one.
        stored = { ...stored, ...(body as object) };
        return { body: { ...stored, current_concurrency: stored.max_in_flight } };
      }
      if (url.pathname === `/subscriptions/${SUB_ID}`) return { body: stored };
      if (url.pathname === '/deliveries') return { body: [] };
      return undefined;
    });
    renderApp(`/ui/subscriptions/${SUB_ID}`, fetch);
    expect(await screen.findByTestId('concurrency')).toHaveTextContent('8 of 16 (reduced after timeouts/429/503)');
    expect(screen.getByTestId('retry-schedule')).toHaveTextContent('10s, 1m (3 attempts)');
    expect(JSON.parse(screen.getByTestId('filter').textContent ?? '')).toEqual(FILTER);

    await user.click(screen.getByRole('link', { name: 'Edit' }));
    const filter = await screen.findByLabelText('Content filter (JSON)');
    expect(JSON.parse((filter as HTMLTextAreaElement).value)).toEqual(FILTER);
    expect(screen.getByLabelText('Retry schedule')).toHaveValue('10s, 1m');
    await user.clear(filter);
    await user.clear(screen.getByLabelText('Retry schedule'));
    await user.click(screen.getByRole('button', { name: 'Save changes' }));
    expect(await screen.findByText('Changes saved.')).toBeInTheDocument();
    expect(postBodies(fetch, 'PUT')[0]).toMatchObject({ filter: null, retry_schedule: null });
    expect(screen.getByTestId('filter')).toHaveTextContent('none: every event its types take');
    expect(screen.getByTestId('retry-schedule')).toHaveTextContent(/^server default/);
    await expect.poll(() => screen.getByTestId('concurrency').textContent).toBe('8 of 16 (reduced after timeouts/429/503)');
  });
});
