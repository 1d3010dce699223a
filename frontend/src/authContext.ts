/** The signed-in state every page reads: the key, the client, sign-in and sign-out. */
import { createContext, useContext } from 'react';
import type { CourierClient } from './api/client';

export interface AuthState {
  apiKey: string | null;
  client: CourierClient;
  /** Shown on the sign-in page: why the user landed there. */
  notice: string | null;
  /** Checks the key against the server, then keeps it. Throws an `ApiError` in words if refused. */
  signIn: (key: string) => Promise<void>;
  signOut: (notice?: string) => void;
  /**
   * The application the dashboard looks at (its uid), or `null` for the plain routes (the
   * `default` application's subscriptions, every application's deliveries for an admin).
   */
  app: string | null;
  /** Switches the application; every cached answer is dropped. */
  setApp: (app: string | null) => void;
}

export const AuthContext = createContext<AuthState | null>(null);

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside AuthProvider');
  return ctx;
}

/** The API client of the signed-in user. */
export function useApi(): CourierClient {
  return useAuth().client;
}
