/** Routes: the sign-in page, and every other page behind the API key inside the layout. */
import { QueryClientProvider } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router';
import { makeQueryClient } from './api/queries';
import { AuthProvider } from './auth';
import { useAuth } from './authContext';
import { Layout } from './components/Layout';
import { DeliveriesPage } from './pages/DeliveriesPage';
import { DeliveryPage } from './pages/DeliveryPage';
import { LookupPage } from './pages/LookupPage';
import { MessagePage } from './pages/MessagePage';
import { MessagesPage } from './pages/MessagesPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { OverviewPage } from './pages/OverviewPage';
import { SignInPage } from './pages/SignInPage';
import { EditSubscriptionPage, NewSubscriptionPage } from './pages/SubscriptionFormPages';
import { SubscriptionPage } from './pages/SubscriptionPage';
import { SubscriptionsPage } from './pages/SubscriptionsPage';
import { paths } from './paths';
import { ApplicationPage } from './pages/tenancy/ApplicationPage';
import { ApplicationsPage, NewApplicationPage } from './pages/tenancy/ApplicationsPage';
import { EventTypeFormPage, EventTypesPage } from './pages/tenancy/EventTypesPage';

function RequireKey({ children }: { children: ReactNode }) {
  const { apiKey } = useAuth();
  const location = useLocation();
  if (!apiKey) {
    return <Navigate to={paths.signIn} replace state={{ from: location.pathname + location.search }} />;
  }
  return children;
}

export function AppRoutes() {
  return (
    <Routes>
      <Route path={paths.signIn} element={<SignInPage />} />
      <Route
        element={
          <RequireKey>
            <Layout />
          </RequireKey>
        }
      >
        <Route index element={<OverviewPage />} />
        <Route path="/ui" element={<Navigate to={paths.overview} replace />} />
        <Route path="/ui/subscriptions" element={<SubscriptionsPage />} />
        <Route path="/ui/subscriptions/new" element={<NewSubscriptionPage />} />
        <Route path="/ui/subscriptions/:id" element={<SubscriptionPage />} />
        <Route path="/ui/subscriptions/:id/edit" element={<EditSubscriptionPage />} />
        <Route path="/ui/deliveries" element={<DeliveriesPage />} />
        <Route path="/ui/deliveries/:id" element={<DeliveryPage />} />
        <Route path="/ui/messages" element={<MessagesPage />} />
        <Route path="/ui/messages/:id" element={<MessagePage />} />
        <Route path="/ui/lookup/:id" element={<LookupPage />} />
        <Route path={paths.applications} element={<ApplicationsPage />} />
        <Route path={paths.newApplication} element={<NewApplicationPage />} />
        <Route path="/ui/applications/:app" element={<ApplicationPage />} />
        <Route path={paths.eventTypes} element={<EventTypesPage />} />
        <Route path={paths.newEventType} element={<EventTypeFormPage />} />
        <Route path="/ui/event-types/:name" element={<EventTypeFormPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

export default function App() {
  const [queryClient] = useState(makeQueryClient);
  return (
    <BrowserRouter>
      <QueryClientProvider client={queryClient}>
        <AuthProvider onSignOut={() => queryClient.clear()}>
          <AppRoutes />
        </AuthProvider>
      </QueryClientProvider>
    </BrowserRouter>
  );
}
