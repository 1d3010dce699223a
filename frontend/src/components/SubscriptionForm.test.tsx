import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeFetch, renderApp, subscription, SUB_ID } from '../test/helpers';
import { emptyValues, toCreateBody, toReplaceBody, validate, valuesFrom } from './subscriptionFormModel';

describe('subscription form validation (pure)', () => {
  it('requires an absolute http(s) target URL', () => {
    expect(validate(emptyValues(), false).target_url).toMatch(/Enter the URL/);
    expect(validate({ ...emptyValues(), target_url: 'ftp://x.test' }, false).target_url).toMatch(/http/);
    expect(validate({ ...emptyValues(), target_url: '/relative' }, false).target_url).toBeDefined();
    expect(validate({ ...emptyValues(), target_url: 'https://x.test/h' }, false)).toEqual({});
  });

  it('accepts exact, prefix-wildcard and * patterns and refuses others', () => {
    const ok = { ...emptyValues(), target_url: 'https://x.test', event_types: 'order.created, order.*\n*' };
    expect(validate(ok, false).event_types).toBeUndefined();
    const bad = { ...ok, event_types: 'order.*.created *.created' };
    expect(validate(bad, false).event_types).toBe(
      'Not a valid pattern: order.*.created, *.created. Use an exact type (order.created), a prefix wildcard (order.*) or *.',
    );
  });

  it('requires positive whole numbers, and max in flight (not the timeout) when editing', () => {
    const v = { ...emptyValues(), target_url: 'https://x.test', rate_limit_per_second: '0', timeout_ms: '1.5' };
    const errors = validate(v, false);
    expect(errors.rate_limit_per_second).toBeDefined();
    expect(errors.timeout_ms).toBeDefined();
    expect(errors.max_in_flight).toBeUndefined();
    expect(validate({ ...emptyValues(), target_url: 'https://x.test' }, true).max_in_flight).toBeDefined();
    expect(validate({ ...emptyValues(), target_url: 'https://x.test', max_in_flight: '3' }, true)).toEqual({});
  });

  it('checks header names, duplicates and values, and ignores blank rows', () => {
    const v = {
      ...emptyValues(),
      target_url: 'https://x.test',
      headers: [
        { name: 'X-Team', value: 'a' },
        { name: 'x-team', value: 'b' },
        { name: 'Bad Name', value: 'c' },
        { name: 'X-Empty', value: '' },
        { name: '', value: '' },
      ],
    };
    const errors = validate(v, false).headers!;
    expect(errors[0]).toBeUndefined();
    expect(errors[1]).toMatch(/already set/);
    expect(errors[2]).toMatch(/not a valid header name/);
    expect(errors[3]).toMatch(/Enter a value/);
    expect(errors[4]).toBeUndefined();
  });

  it('builds a create body with only what was filled in', () => {
    const body = toCreateBody({
      ...emptyValues(),
      target_url: ' https://x.test/h ',
      event_types: 'a.*, b.c',
      rate_limit_per_second: '5',
      headers: [{ name: 'X-A', value: '1' }],
    });
    expect(body).toEqual({ target_url: 'https://x.test/h', event_types: ['a.*', 'b.c'], rate_limit_per_second: 5, headers: { 'X-A': '1' } });
  });
});

describe('a subscription whose optional fields are null', () => {
  it('fills empty fields, needs nothing more, and saves them as null', () => {
    const values = valuesFrom(subscription({ timeout_ms: null, rate_limit_per_second: null, description: null }) as never);
    expect(values.timeout_ms).toBe('');
    expect(values.rate_limit_per_second).toBe('');
    expect(validate(values, true)).toEqual({});
    expect(toReplaceBody(values)).toMatchObject({ timeout_ms: null, rate_limit_per_second: null, description: null, max_in_flight: 10 });
  });

  it('is edited and saved from the page, and its detail page says the timeout is the default', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    let stored = subscription({ timeout_ms: null });
    const fetch = fakeFetch(({ method, url, body }) => {
      if (url.pathname === `/subscriptions/${SUB_ID}` && method === 'PUT') {
        stored = { ...stored, ...(body as object) };
        return { body: stored };
      }
      if (url.pathname === `/subscriptions/${SUB_ID}`) return { body: stored };
      if (url.pathname === `/subscriptions/${SUB_ID}/stats`) return { status: 404, body: { code: 'not_found', message: 'no stats' } };
      if (url.pathname === '/deliveries') return { body: [] };
      return undefined;
    });
    renderApp(`/ui/subscriptions/${SUB_ID}/edit`, fetch);
    const timeout = await screen.findByLabelText('Timeout (ms)');
    expect(timeout).toHaveValue('');
    expect(timeout).not.toHaveAttribute('aria-invalid');
    await user.click(screen.getByRole('button', { name: 'Save changes' }));
    expect(await screen.findByText('Changes saved.')).toBeInTheDocument();
    const put = fetch.mock.calls.find(([, init]) => (init as RequestInit).method === 'PUT')!;
    expect(JSON.parse((put[1] as RequestInit).body as string).timeout_ms).toBeNull();
    expect(screen.getByTestId('timeout')).toHaveTextContent('server default');
    expect(document.body.textContent).not.toContain('null');
  });
});

describe('new subscription page', () => {
  function server() {
    return fakeFetch(({ method, url, body }) => {
      if (method === 'POST' && url.pathname === '/subscriptions/') {
        return { status: 201, body: { ...subscription(body as Record<string, unknown>), secret: 'whsec_only_once' } };
      }
      if (method === 'GET' && url.pathname === `/subscriptions/${SUB_ID}`) return { body: subscription() };
      if (url.pathname.endsWith('/deliveries')) return { body: [] };
      return undefined;
    });
  }

  it('shows field errors in words, marks the fields invalid, and sends nothing', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    const fetch = server();
    renderApp('/ui/subscriptions/new', fetch);
    await user.type(await screen.findByLabelText('Target URL (required)'), 'not a url');
    await user.type(screen.getByLabelText('Event types'), 'order.*.x');
    await user.click(screen.getByRole('button', { name: 'Create subscription' }));
    const url = screen.getByLabelText('Target URL (required)');
    expect(url).toHaveAttribute('aria-invalid', 'true');
    expect(url).toHaveAccessibleDescription(/absolute http:\/\/ or https:\/\/ URL/);
    expect(screen.getByText(/Not a valid pattern: order\.\*\.x/)).toBeInTheDocument();
    expect(fetch.mock.calls.filter(([, init]) => (init as RequestInit).method === 'POST')).toHaveLength(0);
  });

  it("shows the server's message when it refuses the subscription", async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    renderApp(
      '/ui/subscriptions/new',
      fakeFetch(() => ({ status: 400, body: { code: 'blocked_target', message: 'That target resolves to a private address.' } })),
    );
    await user.type(await screen.findByLabelText('Target URL (required)'), 'https://10.0.0.1/h');
    await user.click(screen.getByRole('button', { name: 'Create subscription' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('That target resolves to a private address.');
  });

  it('creates the subscription and shows its secret once, with a copy button', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    const fetch = server();
    renderApp('/ui/subscriptions/new', fetch);
    await user.type(await screen.findByLabelText('Target URL (required)'), 'https://example.com/hook');
    await user.type(screen.getByLabelText('Event types'), 'order.*');
    await user.click(screen.getByRole('button', { name: 'Add header' }));
    await user.type(screen.getByLabelText('Header 1 name'), 'X-Team');
    await user.type(screen.getByLabelText('Header 1 value'), 'payments');
    await user.type(screen.getByLabelText('Max in flight'), '4');
    await user.click(screen.getByRole('button', { name: 'Create subscription' }));

    const dialog = await screen.findByRole('dialog', { name: 'Subscription created' });
    expect(within(dialog).getByLabelText('Signing secret')).toHaveValue('whsec_only_once');
    expect(within(dialog).getByText(/only time the secret is shown/)).toBeInTheDocument();
    await user.click(within(dialog).getByRole('button', { name: 'Copy' }));
    expect(await within(dialog).findByText(/Copied to the clipboard|Could not copy automatically/)).toBeInTheDocument();

    const post = fetch.mock.calls.find(([, init]) => (init as RequestInit).method === 'POST')!;
    expect(JSON.parse((post[1] as RequestInit).body as string)).toEqual({
      target_url: 'https://example.com/hook',
      event_types: ['order.*'],
      headers: { 'X-Team': 'payments' },
      max_in_flight: 4,
    });

    await user.click(within(dialog).getByRole('button', { name: 'I have stored the secret' }));
    expect(await screen.findByRole('heading', { name: 'https://example.com/hook', level: 1 })).toBeInTheDocument();
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(document.body.textContent).not.toContain('whsec_only_once');
  });

  it('rotating the secret shows the new one once', async () => {
    sessionStorage.setItem('courier.apiKey', 'k');
    const user = userEvent.setup();
    const fetch = fakeFetch(({ method, url }) => {
      if (method === 'POST' && url.pathname.endsWith('/rotate-secret')) return { body: { ...subscription(), secret: 'whsec_new' } };
      if (url.pathname === `/subscriptions/${SUB_ID}`) return { body: subscription() };
      if (url.pathname.endsWith('/deliveries')) return { body: [] };
      return undefined;
    });
    renderApp(`/ui/subscriptions/${SUB_ID}`, fetch);
    await user.click(await screen.findByRole('button', { name: 'Rotate secret' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Rotate secret' }));
    const dialog = await screen.findByRole('dialog', { name: 'New signing secret' });
    expect(within(dialog).getByLabelText('Signing secret')).toHaveValue('whsec_new');
    await user.click(within(dialog).getByRole('button', { name: 'I have stored the secret' }));
    expect(await screen.findByText('Secret rotated.')).toBeInTheDocument();
    expect(document.body.textContent).not.toContain('whsec_new');
  });
});
