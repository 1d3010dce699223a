/**
 * Who is signed in: the API key, kept in sessionStorage (gone when the tab closes), and the
 * one `CourierClient` every page uses. A 401 from any call signs the user out with a message.
 * API calls carry the key as a Bearer token; the live tail, which cannot send headers, uses
 * the session cookie the client starts (`ensureSession`), ended again on sign-out.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiError, CourierClient } from './api/client';
import { AuthContext } from './authContext';

const STORAGE_KEY = 'courier.apiKey';
const APP_KEY = 'courier.app';

function readStored(name: string): string | null {
  try {
    return window.sessionStorage.getItem(name);
  } catch {
    return null;
  }
}

function writeStored(name: string, value: string | null) {
  try {
    if (value === null) window.sessionStorage.removeItem(name);
    else window.sessionStorage.setItem(name, value);
  } catch {
    /* storage unavailable: the value lives for this page only */
  }
}

export function AuthProvider({ children, fetchImpl, onSignOut }: { children: ReactNode; fetchImpl?: typeof fetch; onSignOut?: () => void }) {
  const [apiKey, setApiKey] = useState<string | null>(() => readStored(STORAGE_KEY));
  const [app, setAppState] = useState<string | null>(() => readStored(APP_KEY));
  const appRef = useRef(app);
  const [notice, setNotice] = useState<string | null>(null);
  // The client reads the key through this ref, so it never needs rebuilding; signIn/signOut keep it current.
  const keyRef = useRef(apiKey);

  const clientRef = useRef<CourierClient | null>(null);
  const signOut = useCallback((why?: string) => {
    void clientRef.current?.endSession();
    try {
      window.sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      /* storage unavailable: nothing to clear */
    }
    keyRef.current = null;
    appRef.current = null;
    writeStored(APP_KEY, null);
    setApiKey(null);
    setAppState(null);
    setNotice(why ?? null);
    onSignOut?.(); // forget every cached answer of the old key
  }, [onSignOut]);

  const client = useMemo(
    () =>
      // The ref is read only inside the callbacks, at request time, never during render.
      // oxlint-disable-next-line react/refs
      new CourierClient({
        getKey: () => keyRef.current,
        getApp: () => appRef.current,
        fetch: fetchImpl,
        onUnauthorized: () => {
          if (keyRef.current) signOut('The server no longer accepts your API key (401). Sign in again.');
        },
      }),
    [fetchImpl, signOut],
  );
  useEffect(() => {
    clientRef.current = client;
  }, [client]);

  const signIn = useCallback(
    async (key: string) => {
      const probe = new CourierClient({ getKey: () => key, fetch: fetchImpl });
      try {
        await probe.listSubscriptions({ limit: 1 });
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) {
          throw new ApiError(401, e.code, 'That API key was not accepted. Check it and try again.');
        }
        throw e;
      }
      try {
        window.sessionStorage.setItem(STORAGE_KEY, key);
      } catch {
        /* storage unavailable: the key lives for this page only */
      }
      keyRef.current = key;
      setApiKey(key);
      setNotice(null);
      client.resetSession(); // the live tail starts a session for this key
    },
    [fetchImpl, client],
  );

  const setApp = useCallback(
    (next: string | null) => {
      appRef.current = next;
      writeStored(APP_KEY, next);
      setAppState(next);
      onSignOut?.(); // every cached answer belonged to the other application
    },
    [onSignOut],
  );

  const value = useMemo(
    () => ({ apiKey, client, notice, signIn, signOut, app, setApp }),
    [apiKey, client, notice, signIn, signOut, app, setApp],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}
