import { describe, expect, it } from 'vitest';
import { fakeFetch } from '../test/helpers';
import { CourierClient } from './client';
import { applications, portalLinks, portalSession } from './tenancy';

describe('the application switcher', () => {
  it('sends per-application calls under /applications/{app} and narrows the explorer', async () => {
    const fetch = fakeFetch(() => ({ body: [] }));
    let app: string | null = 'acme';
    const api = new CourierClient({ getKey: () => 'k', getApp: () => app, fetch });
    await api.listSubscriptions();
    await api.getDelivery('d1');
    await api.searchDeliveries({ status: 'failed' });
    await api.getOverview();
    app = null;
    await api.listSubscriptions();
    expect(fetch.mock.calls.map((c) => String(c[0]))).toEqual([
      '/applications/acme/subscriptions/',
      '/applications/acme/deliveries/d1',
      '/deliveries?status=failed&application=acme',
      '/applications/acme/stats/overview',
      '/subscriptions/',
    ]);
    expect(api.streamUrl()).toBe('/stream');
  });
});

describe('tenancy calls', () => {
  it('make portal links for an application and open one without credentials', async () => {
    const fetch = fakeFetch(({ method }) => ({ status: method === 'POST' ? 201 : 200, body: { url: 'u', session_token: 'cps_x' } }));
    const api = new CourierClient({ getKey: () => null, fetch });
    await portalLinks.create(api, 'ac me', { ttl: '1d', read_only: true });
    await portalSession.open(api, 'cpl_t');
    await applications.patch(api, 'acme', { metadata: { portal: { brand_color: '#0a7' } } });
    const [link, open, patch] = fetch.mock.calls;
    expect(String(link[0])).toBe('/applications/ac%20me/portal-links');
    expect(JSON.parse(String((link[1] as RequestInit).body))).toEqual({ ttl: '1d', read_only: true });
    expect(String(open[0])).toBe('/portal/session');
    expect(new Headers((open[1] as RequestInit).headers).get('Authorization')).toBeNull();
    expect((patch[1] as RequestInit).method).toBe('PATCH');
  });
});
