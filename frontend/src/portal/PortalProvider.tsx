/**
 * Opens the portal: exchanges the link in the address for a session (or resumes this tab's
 * session), then provides the API client — the session token as its Bearer, kept in memory
 * — to every page through the same context the dashboard's pages use, so the shared hooks
 * and components work unchanged. A 401 later (expired, revoked) ends the portal with a
 * message; it never falls back to anything else.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiError, CourierClient, describeError } from '../api/client';
import { portalSession } from '../api/tenancy';
import { AuthContext } from '../authContext';
import { Loading } from '../components/Feedback';
import { PortalContext } from './portalContext';
import { dropTokenFromAddress, forget, linkTokenFrom, openLink, readStored, store, type Session } from './session';

type Phase = { phase: 'opening' } | { phase: 'ready'; session: Session } | { phase: 'ended'; why: string };

const WHY = {
  none: 'This page opens with a portal link. Ask the service that sent you here for a new one.',
  invalid: 'This portal link cannot be opened: it was already used, it expired, or it was revoked. Ask for a new link.',
  ended: 'Your portal session has ended (it expired or its link was revoked). Ask for a new link.',
  signedOut: 'You signed out of the portal.',
};

function applyBrand(color: string | null | undefined) {
  const root = document.documentElement;
  if (color) {
    root.style.setProperty('--accent', color);
    root.style.setProperty('--accent-dark', color);
  }
}

export function PortalProvider({ children, fetchImpl }: { children: ReactNode; fetchImpl?: typeof fetch }) {
  // Read once, before the effect takes the link out of the address.
  const [start] = useState(() => ({ link: linkTokenFrom(window.location.search), stored: readStored() }));
  const [state, setState] = useState<Phase>(() =>
    start.link || start.stored ? { phase: 'opening' } : { phase: 'ended', why: WHY.none },
  );
  const tokenRef = useRef<string | null>(null);

  const end = useCallback((why: string) => {
    tokenRef.current = null;
    forget();
    setState({ phase: 'ended', why });
  }, []);

  const client = useMemo(
    () =>
      // The ref is read only inside the callbacks, at request time, never during render.
      // oxlint-disable-next-line react/refs
      new CourierClient({
        getKey: () => tokenRef.current,
        fetch: fetchImpl,
        onUnauthorized: () => {
          if (tokenRef.current) end(WHY.ended);
        },
      }),
    [fetchImpl, end],
  );

  useEffect(() => {
    const ready = (session: Session) => {
      tokenRef.current = session.token;
      store(session);
      applyBrand(session.view.brand.brand_color);
      document.title = `${session.view.brand.name ?? session.view.application.name} · Webhooks`;
      setState({ phase: 'ready', session });
    };
    const { link, stored } = start;
    if (link) {
      dropTokenFromAddress();
      openLink(link, fetchImpl).then(ready, (e: unknown) => {
        // A reload of a tab whose link was already opened here resumes its session.
        const stored = readStored();
        if (stored) return ready(stored);
        end(e instanceof ApiError && e.status === 401 ? WHY.invalid : describeError(e));
      });
      return;
    }
    if (!stored) return;
    tokenRef.current = stored.token;
    portalSession.get(client).then(
      (view) => ready({ token: stored.token, view }),
      (e: unknown) => end(e instanceof ApiError && e.status === 401 ? WHY.ended : describeError(e)),
    );
  }, [client, end, fetchImpl, start]);

  const signOut = useCallback(() => {
    void portalSession.end(client).catch(() => undefined);
    end(WHY.signedOut);
  }, [client, end]);

  const auth = useMemo(
    () => ({
      apiKey: state.phase === 'ready' ? state.session.token : null,
      client,
      notice: null,
      signIn: async () => undefined,
      signOut,
      app: null,
      setApp: () => undefined,
    }),
    [state, client, signOut],
  );
  const portal = useMemo(
    () => (state.phase === 'ready' ? { session: state.session.view, readOnly: state.session.view.read_only, signOut } : null),
    [state, signOut],
  );

  if (state.phase === 'opening') {
    return (
      <main className="portal-message" id="main">
        <Loading what="Opening the portal" />
      </main>
    );
  }
  // `portal` holds no ref: only the client's callbacks read the token ref, at request time.
  // oxlint-disable-next-line react/refs
  if (state.phase === 'ended' || !portal) {
    return (
      <main className="portal-message" id="main">
        <h1>Webhook portal</h1>
        <p role="alert" data-testid="portal-ended">
          {state.phase === 'ended' ? state.why : WHY.none}
        </p>
      </main>
    );
  }
  return (
    <AuthContext.Provider value={auth}>
      <PortalContext.Provider value={portal}>{children}</PortalContext.Provider>
    </AuthContext.Provider>
  );
}
