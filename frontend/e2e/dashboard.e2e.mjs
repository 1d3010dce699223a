#!/usr/bin/env node
/**
 * End-to-end check of the dashboard against a running Courier server, in headless Chromium.
 *
 *   COURIER_URL=http://127.0.0.1:8000 COURIER_API_KEY=... RECEIVER_URL=http://127.0.0.1:9100/hook \
 *     node e2e/dashboard.e2e.mjs
 *
 * Env: COURIER_URL (default http://127.0.0.1:8000), COURIER_API_KEY (required), RECEIVER_URL
 * (required: an HTTP receiver on 127.0.0.1 that answers 200; the server must allow private
 * targets, COURIER_ALLOW_PRIVATE_TARGETS=true), CHROMIUM_PATH (default /usr/bin/chromium),
 * SCREENSHOT_DIR (default ../docs/screenshots, relative to frontend/), STEP_TIMEOUT_MS (default 30000).
 *
 * It signs in, creates a subscription to RECEIVER_URL, ingests an event with POST /events,
 * watches the attempt arrive in the overview's live tail, opens the subscription's deliveries
 * and the delivery's attempts, presses "Retry now" and waits for the second attempt, looks the
 * message up by id, deletes the subscription and signs out, saving screenshots on the way.
 * Any failed step or any console error on the page exits 1.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const FRONTEND = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BASE = (process.env.COURIER_URL ?? 'http://127.0.0.1:8000').replace(/\/+$/, '');
const KEY = process.env.COURIER_API_KEY;
const RECEIVER = process.env.RECEIVER_URL;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = process.env.SCREENSHOT_DIR ? path.resolve(process.env.SCREENSHOT_DIR) : path.resolve(FRONTEND, '../docs/screenshots');
const TIMEOUT = Number(process.env.STEP_TIMEOUT_MS ?? 30_000);
const RUN = Math.random().toString(36).slice(2, 8);
const EVENT_TYPE = `e2e.r${RUN}.created`;

function die(message) {
  console.error(`\nE2E FAILED: ${message}`);
  process.exit(1);
}
if (!KEY) die('set COURIER_API_KEY');
if (!RECEIVER) die('set RECEIVER_URL (a local receiver answering 200, e.g. http://127.0.0.1:9100/hook)');

/** Calls the API directly (not through the page), for ingesting and for cross-checking the UI. */
async function api(method, pathname, body) {
  const res = await fetch(`${BASE}${pathname}`, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${pathname} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

const consoleErrors = [];
/** Console errors we provoke on purpose: `{ test(msg) → bool, why }`, used up once matched. */
const expectedErrors = [];
let page;
let context;
let userDataDir;
let stepNo = 0;

async function step(name, fn) {
  stepNo += 1;
  const label = `${String(stepNo).padStart(2, '0')} ${name}`;
  const started = Date.now();
  const tty = process.stdout.isTTY;
  if (tty) process.stdout.write(`… ${label}`);
  try {
    await fn();
  } catch (e) {
    process.stdout.write(`${tty ? '\n' : ''}✗ ${label}\n`);
    if (page) {
      const file = path.join(SHOTS, `FAILED-${stepNo}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`  page: ${page.url()}  (screenshot ${file})`);
    }
    await finish(1, `step "${name}": ${e?.stack ?? e}`);
  }
  if (consoleErrors.length) await finish(1, `console error during "${name}":\n  ${consoleErrors.join('\n  ')}`);
  process.stdout.write(`${tty ? '\r' : ''}✓ ${label} (${Date.now() - started} ms)\n`);
}

async function finish(code, message) {
  await context?.close().catch(() => {});
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  if (code) die(message);
  console.log(`\n${message}`);
  process.exit(0);
}

async function shot(name, opts = {}) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, ...opts });
  return file;
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function waitForHeading(text) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor({ timeout: TIMEOUT });
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  userDataDir = mkdtempSync(path.join(os.tmpdir(), 'courier-e2e-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(TIMEOUT);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const i = expectedErrors.findIndex((x) => x.test(msg));
    if (i >= 0) {
      console.log(`  (expected console error: ${expectedErrors[i].why})`);
      expectedErrors.splice(i, 1);
      return;
    }
    consoleErrors.push(`${msg.text()} @ ${msg.location()?.url ?? '?'}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`));

  let subscriptionId;
  let deliveryId;
  let messageId;

  await step('the server is up and the key works', async () => {
    const health = await fetch(`${BASE}/health`);
    assert(health.ok, `/health answered ${health.status}`);
    await api('GET', '/subscriptions/?limit=1');
  });

  await step('an unsigned visitor is sent to sign-in', async () => {
    await page.goto(`${BASE}/`);
    await waitForHeading('Courier');
    assert(page.url().endsWith('/ui/sign-in'), `expected /ui/sign-in, at ${page.url()}`);
    await shot('sign-in');
  });

  await step('sign in with the API key', async () => {
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForHeading('Overview');
    const stored = await page.evaluate(() => sessionStorage.getItem('courier.apiKey'));
    assert(stored === KEY, 'the key is not in sessionStorage');
  });

  await step('create a subscription to RECEIVER_URL', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Subscriptions' }).click();
    await waitForHeading('Subscriptions');
    await page.getByRole('link', { name: 'New subscription' }).click();
    await waitForHeading('New subscription');
    await page.getByLabel('Target URL (required)').fill(RECEIVER);
    await page.getByLabel('Event types').fill(`e2e.r${RUN}.*`);
    await page.getByLabel('Description').fill(`e2e run ${RUN}`);
    await page.getByRole('button', { name: 'Add header' }).click();
    await page.getByLabel('Header 1 name').fill('X-E2e-Run');
    await page.getByLabel('Header 1 value').fill(RUN);
    await shot('subscription-new');
    await page.getByRole('button', { name: 'Create subscription' }).click();
    const dialog = page.getByRole('dialog', { name: 'Subscription created' });
    await dialog.waitFor();
    const secret = await dialog.getByLabel('Signing secret').inputValue();
    assert(secret.length >= 8, `the secret shown is "${secret}"`);
    await shot('subscription-secret-once');
    await dialog.getByRole('button', { name: 'I have stored the secret' }).click();
    await page.waitForURL(/\/ui\/subscriptions\/[0-9a-f-]{36}$/);
    subscriptionId = page.url().split('/').pop();
    await waitForHeading(RECEIVER);
    assert(!(await page.content()).includes(secret), 'the secret is still on the page after the dialog closed');
    const stored = await api('GET', `/subscriptions/${subscriptionId}`);
    assert(!('secret' in stored), 'GET /subscriptions/{id} returns the secret');
    assert(stored.headers?.['X-E2e-Run'] === RUN || stored.headers?.['x-e2e-run'] === RUN, `extra header not saved: ${JSON.stringify(stored.headers)}`);
  });

  await step('an ingested event appears live in the overview tail', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
    await waitForHeading('Overview');
    await page.getByTestId('tail-connection').filter({ hasText: 'Live' }).waitFor();
    const accepted = await api('POST', '/events', { event_type: EVENT_TYPE, payload: { run: RUN, order: 42 } });
    messageId = accepted.message_id;
    const ids = Array.isArray(accepted.task_id) ? accepted.task_id : [accepted.task_id];
    const mine = [];
    for (const id of ids) {
      const d = await api('GET', `/deliveries/${id}`);
      if (d.subscription_id === subscriptionId) mine.push(id);
    }
    assert(mine.length === 1, `expected one delivery for the new subscription, task ids ${JSON.stringify(accepted.task_id)}`);
    deliveryId = mine[0];
    const row = page.locator(`[data-testid="tail-row"][data-delivery-id="${deliveryId}"]`).first();
    await row.waitFor();
    const text = await row.innerText();
    if (!text.includes('200')) {
      throw new Error(`the attempt did not succeed (${text.replace(/\s+/g, ' ')}); is COURIER_ALLOW_PRIVATE_TARGETS=true and RECEIVER_URL answering 200?`);
    }
    // Give the overview's stats one refresh so the chart shows the attempt.
    await page.getByRole('button', { name: 'Refresh' }).first().click();
    await page.locator('.chart svg').waitFor();
    await shot('overview');
  });

  await step("the subscription's deliveries list the delivery", async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Subscriptions' }).click();
    await waitForHeading('Subscriptions');
    const row = page.locator(`[data-testid="subscription-row"][data-subscription-id="${subscriptionId}"]`);
    await row.waitFor();
    await shot('subscriptions');
    await row.getByRole('link').click();
    await waitForHeading(RECEIVER);
    await page.locator(`[data-testid="delivery-row"][data-delivery-id="${deliveryId}"]`).waitFor();
    // Filters: a status that does not match hides it, the event type that matches shows it.
    await page.getByLabel('Status', { exact: true }).selectOption('failed');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No delivery matches these filters.').waitFor();
    await page.getByLabel('Status', { exact: true }).selectOption('');
    await page.getByLabel('Event type', { exact: true }).fill(EVENT_TYPE);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.locator(`[data-testid="delivery-row"][data-delivery-id="${deliveryId}"]`).waitFor();
    assert(page.url().includes('event_type='), 'filters are not kept in the URL');
    await shot('subscription');
  });

  await step('the delivery page shows its attempt', async () => {
    await page.getByRole('link', { name: `Delivery ${deliveryId}` }).click();
    await waitForHeading(/^Delivery/);
    const attempt = page.getByTestId('attempt').filter({ has: page.getByRole('heading', { name: 'Attempt 1' }) });
    await attempt.waitFor();
    const text = await attempt.innerText();
    assert(text.includes('200'), `attempt 1 does not show status 200: ${text}`);
    assert(/x-courier-event-type|webhook-id/i.test(text), `attempt 1 does not list the request headers: ${text}`);
    assert((await page.getByTestId('payload').innerText()).includes(RUN), 'the payload is not shown');
    await shot('delivery');
  });

  await step('retry now makes a second attempt', async () => {
    await page.getByRole('button', { name: 'Retry now' }).click();
    await page.getByText('Retry queued.').waitFor();
    await page.getByRole('heading', { name: 'Attempt 2' }).waitFor();
    const d = await api('GET', `/deliveries/${deliveryId}`);
    assert(d.attempts.length >= 2, `the API shows ${d.attempts.length} attempts after retry`);
    await shot('delivery-retried');
  });

  await step('look up the message by id from the header', async () => {
    // The box tries GET /deliveries/{id} first; for a message id that answers 404, which
    // Chromium logs as a console error. That one is expected; any other is not.
    expectedErrors.push({
      why: `404 from GET /deliveries/${messageId} while looking up a message id`,
      test: (msg) => msg.text().includes('404') && (msg.location()?.url ?? '').includes(`/deliveries/${messageId}`),
    });
    await page.getByLabel('Message or delivery id').fill(messageId);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.waitForURL(`**/ui/messages/${messageId}`);
    await page.locator(`[data-testid="delivery-row"][data-delivery-id="${deliveryId}"]`).waitFor();
    await shot('message');
  });

  await step('look up the delivery by id from the header', async () => {
    await page.getByLabel('Message or delivery id').fill(deliveryId);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.waitForURL(`**/ui/deliveries/${deliveryId}`);
    await page.getByRole('heading', { name: 'Attempt 1' }).waitFor();
  });

  await step('a reload of a deep link keeps the page (server serves index.html)', async () => {
    await page.reload();
    await page.getByRole('heading', { name: 'Attempt 1' }).waitFor();
  });

  await step('the pages fit a 375 px phone', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    for (const [name, url, heading] of [
      ['mobile-overview', '/', 'Overview'],
      ['mobile-subscription', `/ui/subscriptions/${subscriptionId}`, RECEIVER],
      ['mobile-delivery', `/ui/deliveries/${deliveryId}`, /^Delivery/],
    ]) {
      await page.goto(`${BASE}${url}`);
      await waitForHeading(heading);
      await page.waitForLoadState('networkidle').catch(() => {});
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 1, `${url} is ${overflow}px wider than the 375 px viewport`);
      await shot(name);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step('delete the subscription after confirming', async () => {
    await page.goto(`${BASE}/ui/subscriptions/${subscriptionId}`);
    await waitForHeading(RECEIVER);
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this subscription?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Delete subscription' }).click();
    await waitForHeading('Subscriptions');
    const res = await fetch(`${BASE}/subscriptions/${subscriptionId}`, { headers: { Authorization: `Bearer ${KEY}` } });
    assert(res.status === 404, `GET of the deleted subscription answered ${res.status}`);
    subscriptionId = undefined;
  });

  await step('sign out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await waitForHeading('Courier');
    await page.getByText('You signed out.').waitFor();
    const stored = await page.evaluate(() => sessionStorage.getItem('courier.apiKey'));
    assert(stored === null, 'the key is still in sessionStorage');
  });

  if (expectedErrors.length) {
    console.log(`note: expected console error(s) did not occur: ${expectedErrors.map((e) => e.why).join('; ')}`);
  }
  await finish(0, `E2E PASSED: ${stepNo} steps, screenshots in ${SHOTS}`);
}

main().catch((e) => finish(1, e?.stack ?? String(e)));
