import { describe, expect, it, vi } from 'vitest';
import { fakeFetch } from '../test/helpers';
import { ApiError, CourierClient, plainWords, queryString } from './client';

function client(handler: Parameters<typeof fakeFetch>[0], onUnauthorized = vi.fn()) {
  const fetch = fakeFetch(handler);
  return { fetch, onUnauthorized, api: new CourierClient({ getKey: () => 'k3y', fetch, onUnauthorized }) };
}

describe('CourierClient', () => {
  it('sends the API key as a Bearer token on every call', async () => {
    const { api, fetch } = client(() => ({ body: { id: 'x' } }));
    await api.getSubscription('abc');
    const init = fetch.mock.calls[0][1] as RequestInit;
    expect(new Headers(init.headers).get('Authorization')).toBe('Bearer k3y');
  });

  it('reads the next cursor of a list from the X-Next-Cursor header', async () => {
    const { api, fetch } = client(() => ({ body: [{ id: 'a' }], headers: { 'X-Next-Cursor': 'c2' } }));
    const page = await api.listSubscriptions({ status: 'paused', limit: 5, cursor: 'c1' });
    expect(page).toEqual({ items: [{ id: 'a' }], nextCursor: 'c2' });
    expect(String(fetch.mock.calls[0][0])).toBe('/subscriptions/?status=paused&limit=5&cursor=c1');
  });

  it('reports no next page when the header is absent', async () => {
    const { api } = client(() => ({ body: [] }));
    expect((await api.listDeliveries('s1')).nextCursor).toBeNull();
  });

  it('builds delivery filters into the query and leaves out empty ones', async () => {
    const { api, fetch } = client(() => ({ body: [] }));
    await api.listDeliveries('s 1', { status: 'failed', event_type: 'order.created', since: '2026-01-01T00:00:00.000Z', until: '' });
    expect(String(fetch.mock.calls[0][0])).toBe(
      '/subscriptions/s%201/deliveries?status=failed&event_type=order.created&since=2026-01-01T00%3A00%3A00.000Z',
    );
  });

  it('sends JSON bodies with the right method', async () => {
    const { api, fetch } = client(({ method, body }) => ({ status: 201, body: { method, body, secret: 's' } }));
    const created = await api.createSubscription({ target_url: 'https://x.test/h', event_types: ['a.*'] });
    expect(created).toMatchObject({ method: 'POST', body: { target_url: 'https://x.test/h', event_types: ['a.*'] } });
    const init = fetch.mock.calls[0][1] as RequestInit;
    expect(new Headers(init.headers).get('Content-Type')).toBe('application/json');
    await api.replaceSubscription('id1', { target_url: 'https://x.test/h' });
    expect((fetch.mock.calls[1][1] as RequestInit).method).toBe('PUT');
  });

  it('passes since to recover as an RFC 3339 query value', async () => {
    const { api, fetch } = client(() => ({ status: 202, body: { requeued: 3 } }));
    expect(await api.recoverFailed('s1', '2026-05-01T12:00:00Z')).toEqual({ requeued: 3 });
    expect(String(fetch.mock.calls[0][0])).toBe('/subscriptions/s1/recover?since=2026-05-01T12%3A00%3A00Z');
  });

  it('accepts a 204 with no body on delete', async () => {
    const { api } = client(() => ({ status: 204 }));
    await expect(api.deleteSubscription('s1')).resolves.toBeUndefined();
  });

  it("turns an error answer into an ApiError carrying the server's message and code", async () => {
    const { api } = client(() => ({ status: 422, body: { code: 'invalid_target_url', message: 'target_url must be absolute', title: 'Bad' } }));
    const err = await api.getDelivery('d1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 422, code: 'invalid_target_url', message: 'target_url must be absolute' });
  });

  it('falls back to the RFC 7807 detail, then the status, when there is no message', async () => {
    const { api } = client(({ url }) =>
      url.pathname.includes('a') ? { status: 400, body: { code: 'x', detail: 'the detail' } } : { status: 503, body: undefined },
    );
    await expect(api.getDelivery('a')).rejects.toThrow('the detail');
    await expect(api.getDelivery('b')).rejects.toThrow('The server answered 503');
  });

  it('calls onUnauthorized on a 401', async () => {
    const { api, onUnauthorized } = client(() => ({ status: 401, body: { code: 'unauthorized', message: 'bad key' } }));
    await expect(api.getOverview()).rejects.toThrow('bad key');
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('says the server could not be reached when fetch itself fails', async () => {
    const api = new CourierClient({ getKey: () => 'k', fetch: vi.fn().mockRejectedValue(new TypeError('Failed to fetch')) });
    await expect(api.getOverview()).rejects.toMatchObject({ status: 0, code: 'network_error' });
  });

  it('puts the key in the stream URL only for a server without sessions', () => {
    const api = new CourierClient({ getKey: () => 'a b' });
    expect(api.streamUrl()).toBe('/stream');
    expect(api.streamUrl('s1', 'query')).toBe('/stream?api_key=a+b&subscription_id=s1');
  });

  it('queryString skips empty values', () => {
    expect(queryString({ a: 1, b: undefined, c: '', d: null, e: 'x' })).toBe('?a=1&e=x');
    expect(queryString({})).toBe('');
  });

  it("puts the framework's parse errors in plain words", async () => {
    const { api } = client(() => ({ status: 400, body: { code: 'invalid_id', message: 'a path segment is not valid: Path deserialize error: UUID parsing failed: invalid length' } }));
    await expect(api.getDelivery('abc')).rejects.toThrow('The id in the address is not a valid id');
    expect(plainWords('Query deserialize error: invalid digit found in string')).toBe('A filter is not valid.');
    expect(plainWords('since must be an RFC 3339 time')).toBe('since must be an RFC 3339 time');
  });

  it('starts one browser session for the live tail, and keeps the key out of its URL', async () => {
    const { api, fetch } = client(({ url }) => (url.pathname === '/auth/session' ? { status: 201, body: { kind: 'bootstrap' } } : undefined));
    expect(await api.ensureSession()).toBe('cookie');
    expect(await api.ensureSession()).toBe('cookie');
    expect(fetch.mock.calls.filter(([u]) => String(u) === '/auth/session')).toHaveLength(1);
    expect(api.streamUrl('s1', 'cookie')).toBe('/stream?subscription_id=s1');
  });

  it('falls back to the key in the stream URL on a server without sessions', async () => {
    const { api } = client(() => undefined);
    expect(await api.ensureSession()).toBe('query');
    expect(api.streamUrl(undefined, 'query')).toBe('/stream?api_key=k3y');
  });
});
