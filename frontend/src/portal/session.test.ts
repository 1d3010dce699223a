import { afterEach, describe, expect, it } from 'vitest';
import type { PortalSession } from '../api/tenancy';
import { forget, linkTokenFrom, readStored, store } from './session';

const view = (expires: string): PortalSession => ({
  application: { id: 'a', uid: 'acme', name: 'Acme' },
  brand: { name: 'Acme', brand_color: '#0a7', logo_url: null },
  expires_at: expires,
  read_only: false,
  secret_overlap_secs: 86400,
  session_token: 'cps_secret',
});

afterEach(() => forget());

describe('the portal session', () => {
  it('takes the link token from the address', () => {
    expect(linkTokenFrom('?token=cpl_abc&x=1')).toBe('cpl_abc');
    expect(linkTokenFrom('?token=')).toBeNull();
    expect(linkTokenFrom('')).toBeNull();
  });

  it('keeps a live session for this tab and forgets an expired one', () => {
    const later = new Date(Date.now() + 60_000).toISOString();
    store({ token: 'cps_1', view: view(later) });
    const back = readStored();
    expect(back?.token).toBe('cps_1');
    expect(back?.view.session_token).toBeUndefined();
    expect(readStored(Date.now() + 120_000)).toBeNull();
  });
});
