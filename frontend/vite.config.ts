/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** Where `npm run dev` forwards API calls: a Courier server on its default bind. */
const API = process.env.COURIER_DEV_API ?? 'http://127.0.0.1:8000';

/** Every path prefix the Courier server answers; the dashboard's own pages live under /ui/ and at /. */
const API_PATHS = [
  '/subscriptions',
  '/deliveries',
  '/messages',
  '/stats',
  '/stream',
  '/events',
  '/applications',
  '/api-keys',
  '/event-types',
  '/auth',
  '/portal/session',
  '/ingest',
  '/webhooks',
  '/health',
  '/ready',
  '/metrics',
  '/openapi.json',
  '/redoc',
  '/docs',
];

export default defineConfig({
  base: '/',
  plugins: [react()],
  // Two entries: the operator dashboard (index.html, at / and /ui/*) and the consumer portal
  // (portal.html, at /portal/*; in `npm run dev` open /portal.html?token=…).
  build: {
    assetsDir: 'assets',
    rollupOptions: { input: { index: 'index.html', portal: 'portal.html' } },
  },
  server: {
    proxy: Object.fromEntries(API_PATHS.map((p) => [p, { target: API, changeOrigin: false }])),
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    // The machines that run this are shared and loaded: time is not what these tests check.
    testTimeout: 20_000,
  },
});
