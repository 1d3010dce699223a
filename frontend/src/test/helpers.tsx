/** Test helpers: a fake `fetch` answering by route, and the app rendered at a path. */
import { QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { vi } from 'vitest';
import { AppRoutes } from '../App';
import { makeQueryClient } from '../api/queries';
import { AuthProvider } from '../auth';

export interface FakeResponse {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (req: { method: string; url: URL; body: unknown; headers: Headers }) => FakeResponse | undefined;

/** A `fetch` that calls `handler` for every request; an unhandled request answers 404 (and is recorded). */
export function fakeFetch(handler: Handler) {
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://localhost');
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const headers = new Headers(init?.headers);
    const r = handler({ method: init?.method ?? 'GET', url, body, headers }) ?? {
      status: 404,
      body: { code: 'not_found', message: `unhandled ${init?.method} ${url.pathname}` },
    };
    const status = r.status ?? 200;
    return new Response(status === 204 || r.body === undefined ? null : JSON.stringify(r.body), {
      status,
      headers: { 'Content-Type': 'application/json', ...(r.headers ?? {}) },
    });
  });
  return fn;
}

export function renderApp(path: string, fetchImpl: typeof fetch) {
  const queryClient = makeQueryClient();
  queryClient.setDefaultOptions({ queries: { ...queryClient.getDefaultOptions().queries, retry: false } });
  return render(
    <MemoryRouter initialEntries={[path]}>
      <QueryClientProvider client={queryClient}>
        <AuthProvider fetchImpl={fetchImpl} onSignOut={() => queryClient.clear()}>
          <AppRoutes />
        </AuthProvider>
      </QueryClientProvider>
    </MemoryRouter>,
  );
}

export const SUB_ID = '11111111-1111-4111-8111-111111111111';

export function subscription(overrides: Record<string, unknown> = {}) {
  return {
    id: SUB_ID,
    target_url: 'https://example.com/hook',
    event_types: ['order.*'],
    description: 'orders',
    headers: {},
    rate_limit_per_second: null,
    max_in_flight: 10,
    timeout_ms: 10000,
    status: 'active',
    disabled_reason: null,
    is_active: true,
    requires_signature: false,
    created_at: '2026-01-01T10:00:00Z',
    updated_at: '2026-01-01T10:00:00Z',
    ...overrides,
  };
}

export function emptyOverview() {
  return {
    per_minute: [],
    pending_retries: 0,
    queued: 0,
    subscriptions: { active: 0, paused: 0, disabled: 0 },
    failing_subscriptions: [],
  };
}
