/**
 * The portal's session, outside React: the one-time link token taken from the address (and
 * removed from it at once, so it is not left in history, bookmarks or a screenshot), the
 * exchange for a session token (once per token, even if React mounts twice), and the copy
 * in `sessionStorage` that lets a reload of this tab keep the session. Storage may be
 * refused in a third-party iframe; the session then lives in memory for this page only.
 */
import { ApiError, CourierClient } from '../api/client';
import { portalSession, type PortalSession } from '../api/tenancy';

const STORE = 'courier.portal.session';

export interface Session {
  token: string;
  view: PortalSession;
}

/** The `token` query parameter of a portal link, if the address has one. */
export function linkTokenFrom(search: string): string | null {
  const t = new URLSearchParams(search).get('token');
  return t && t.trim() ? t.trim() : null;
}

/** Takes `token` out of the address bar without reloading. */
export function dropTokenFromAddress(): void {
  const url = new URL(window.location.href);
  if (!url.searchParams.has('token')) return;
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
}

export function readStored(now = Date.now()): Session | null {
  try {
    const raw = window.sessionStorage.getItem(STORE);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (!s?.token || !s.view || Date.parse(s.view.expires_at) <= now) return null;
    return s;
  } catch {
    return null;
  }
}

export function store(s: Session): void {
  try {
    window.sessionStorage.setItem(STORE, JSON.stringify({ token: s.token, view: { ...s.view, session_token: undefined } }));
  } catch {
    /* storage refused (e.g. a third-party iframe): the session lives in memory only */
  }
}

export function forget(): void {
  try {
    window.sessionStorage.removeItem(STORE);
  } catch {
    /* nothing stored */
  }
}

const opening = new Map<string, Promise<Session>>();

/** Exchanges a link token for a session, once per token. */
export function openLink(token: string, fetchImpl?: typeof fetch): Promise<Session> {
  let p = opening.get(token);
  if (!p) {
    const anonymous = new CourierClient({ getKey: () => null, fetch: fetchImpl });
    p = portalSession.open(anonymous, token).then((view) => {
      if (!view.session_token) throw new ApiError(0, 'bad_response', 'The server opened the link but sent no session.');
      return { token: view.session_token, view };
    });
    opening.set(token, p);
  }
  return p;
}
