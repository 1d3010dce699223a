/** What every portal page reads: the session's application, brand and limits. */
import { createContext, useContext } from 'react';
import type { PortalSession } from '../api/tenancy';

export interface PortalState {
  session: PortalSession;
  readOnly: boolean;
  /** Ends the session on the server and shows the signed-out screen. */
  signOut: () => void;
}

export const PortalContext = createContext<PortalState | null>(null);

export function usePortal(): PortalState {
  const ctx = useContext(PortalContext);
  if (!ctx) throw new Error('usePortal outside PortalProvider');
  return ctx;
}
