/**
 * The consumer portal: the application's customer manages their own endpoints (the
 * subscriptions of one application) and sees their deliveries. Its own entry and routes
 * under `/portal`, the application's brand colour and logo, the session from its link.
 */
import { QueryClientProvider } from '@tanstack/react-query';
import { useState } from 'react';
import { BrowserRouter, Link, Outlet, Route, Routes } from 'react-router';
import { makeQueryClient } from '../api/queries';
import { PortalProvider } from './PortalProvider';
import { usePortal } from './portalContext';
import { portalPaths } from './paths';
import { EndpointsPage } from './pages/EndpointsPage';
import { EditEndpointPage, NewEndpointPage } from './pages/EndpointFormPages';
import { EndpointPage } from './pages/EndpointPage';
import { PortalDeliveryPage } from './pages/PortalDeliveryPage';

function PortalLayout() {
  const { session, readOnly, signOut } = usePortal();
  const name = session.brand.name ?? session.application.name;
  return (
    <div className="app portal">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="portal-top">
        <Link to={portalPaths.endpoints} className="portal-brand">
          {session.brand.logo_url && <img src={session.brand.logo_url} alt="" className="portal-logo" data-testid="portal-logo" />}
          <span data-testid="portal-name">{name}</span>
          <span className="portal-sub">Webhooks</span>
        </Link>
        {readOnly && (
          <span className="badge badge-warn" data-testid="read-only">
            read-only
          </span>
        )}
        <button type="button" className="portal-signout" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main">
        <Outlet />
      </main>
      <footer className="footer">
        <span>Webhook deliveries for {session.application.name}, powered by Courier</span>
      </footer>
    </div>
  );
}

export function PortalRoutes() {
  return (
    <Routes>
      <Route element={<PortalLayout />}>
        <Route path={portalPaths.endpoints} element={<EndpointsPage />} />
        <Route path={portalPaths.newEndpoint} element={<NewEndpointPage />} />
        <Route path="/portal/endpoints/:id" element={<EndpointPage />} />
        <Route path="/portal/endpoints/:id/edit" element={<EditEndpointPage />} />
        <Route path="/portal/deliveries/:id" element={<PortalDeliveryPage />} />
        <Route path="*" element={<EndpointsPage />} />
      </Route>
    </Routes>
  );
}

export function PortalApp() {
  const [queryClient] = useState(makeQueryClient);
  return (
    <BrowserRouter>
      <QueryClientProvider client={queryClient}>
        <PortalProvider>
          <PortalRoutes />
        </PortalProvider>
      </QueryClientProvider>
    </BrowserRouter>
  );
}
