#!/usr/bin/env node
/**
 * End-to-end check of the dashboard against a running Courier server, in headless Chromium.
 * `e2e/run.sh` starts everything (the release binary alone, a receiver, a database) and runs
 * this; it can also be pointed at a server by hand:
 *
 *   COURIER_URL=http://127.0.0.1:8000 COURIER_API_KEY=... RECEIVER_URL=http://127.0.0.1:9100 \
 *     node e2e/dashboard.e2e.mjs
 *
 * Env: COURIER_URL (default http://127.0.0.1:8000), COURIER_API_KEY (required), RECEIVER_URL
 * (required: the e2e receiver of run.sh on 127.0.0.1 — `/hook` answers 200, `/flaky` answers
 * 500 until `POST /control/heal`; the server must allow private targets and retry quickly,
 * COURIER_RETRY_SCHEDULE=1s,2s), CHROMIUM_PATH (default /usr/bin/chromium), SCREENSHOT_DIR
 * (default ../docs/screenshots, relative to frontend/), STEP_TIMEOUT_MS (default 30000).
 *
 * The operator journeys, in order: sign in; create a subscription (its timeout left null) and
 * edit it with its null fields; flow control (e2e/flowControl.mjs: filter, retry schedule,
 * filtered, skip of a keyed delivery); a failing endpoint found from the subscriptions list's health
 * columns and its charts; an attempt inspected (target, request and response headers, body,
 * copy as curl); deliveries searched by filters (pattern, status, HTTP class, page 2 in the
 * URL, reload) and by id (the tail the table shows, and an id's start); the live tail updating
 * rows in place with no list refetch; bulk retry of the failed set once the receiver heals;
 * cancelling held deliveries; retry now; dark mode; 375 px pages; delete; sign out. Any failed
 * step or any console error on the page exits 1.
 */
import {
  api,
  assert,
  BASE,
  counters,
  deliveryRow,
  finish,
  heading,
  KEY,
  launch,
  nav,
  page,
  RECEIVER,
  RUN,
  SHOTS,
  shot,
  step,
  stepNo,
  until,
} from './harness.mjs';
import { flowControlJourney } from './flowControl.mjs';

const HOOK = `${RECEIVER}/hook`;
const FLAKY = `${RECEIVER}/flaky`;
/** More failing deliveries than one explorer page (50) holds, so paging is exercised. */
const FAILING_EVENTS = 55;

/** Fans an event out through the API and returns the delivery id of `subscriptionId`. */
async function send(eventType, subscriptionId, payload = {}) {
  const accepted = await api('POST', '/events', { event_type: eventType, payload: { run: RUN, ...payload } });
  const rows = await api('GET', `/deliveries?subscription_id=${subscriptionId}&limit=5`);
  const mine = rows.find((d) => d.message_id === accepted.message_id);
  assert(mine, `no delivery of message ${accepted.message_id} for ${subscriptionId}`);
  return { deliveryId: mine.id, messageId: accepted.message_id };
}

async function main() {
  await launch();
  const ids = {};

  await step('the server is up, serves the embedded dashboard and the key works', async () => {
    const health = await fetch(`${BASE}/health`);
    assert(health.ok, `/health answered ${health.status}`);
    await api('GET', '/subscriptions/?limit=1');
    await fetch(`${RECEIVER}/control/break`, { method: 'POST' });
  });

  await step('an unsigned visitor is sent to sign-in, and signs in', async () => {
    await page.goto(`${BASE}/`);
    await heading('Courier');
    assert(page.url().endsWith('/ui/sign-in'), `expected /ui/sign-in, at ${page.url()}`);
    await shot('sign-in');
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Overview');
  });

  await step('create a subscription, leaving its timeout to the server default', async () => {
    await nav('Subscriptions');
    await heading('Subscriptions');
    await page.getByRole('link', { name: 'New subscription' }).click();
    await heading('New subscription');
    await page.getByLabel('Target URL (required)').fill(HOOK);
    await page.getByLabel('Event types').fill(`e2e.r${RUN}.*`);
    await page.getByRole('button', { name: 'Add header' }).click();
    await page.getByLabel('Header 1 name').fill('X-E2e-Run');
    await page.getByLabel('Header 1 value').fill(RUN);
    await shot('subscription-new');
    await page.getByRole('button', { name: 'Create subscription' }).click();
    const dialog = page.getByRole('dialog', { name: 'Subscription created' });
    const secret = await dialog.getByLabel('Signing secret').inputValue();
    assert(secret.length >= 8, `the secret shown is "${secret}"`);
    await shot('subscription-secret-once');
    await dialog.getByRole('button', { name: 'I have stored the secret' }).click();
    await page.waitForURL(/\/ui\/subscriptions\/[0-9a-f-]{36}$/);
    ids.good = page.url().split('/').pop();
    await heading(HOOK);
    assert(!(await page.content()).includes(secret), 'the secret is still on the page after the dialog closed');
    const stored = await api('GET', `/subscriptions/${ids.good}`);
    assert(stored.timeout_ms == null, `timeout_ms should be null, is ${stored.timeout_ms}`);
    assert((await page.getByTestId('timeout').innerText()).includes('server default'), 'the null timeout is not shown as the default');
  });

  await step('edit the subscription with its null fields and save', async () => {
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await heading('Edit subscription');
    const timeout = page.getByLabel('Timeout (ms)');
    assert((await timeout.inputValue()) === '', `the null timeout fills "${await timeout.inputValue()}"`);
    await page.getByLabel('Description').fill(`edited in run ${RUN}`);
    await shot('subscription-edit-null-fields');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Changes saved.').waitFor();
    const body = await page.locator('main').innerText();
    assert(!/\bnull\b/.test(body), 'the word null reaches the page');
    assert(!/Timeout\s*\n?\s*ms/.test(body), 'the page shows "Timeout: ms"');
    const stored = await api('GET', `/subscriptions/${ids.good}`);
    assert(stored.description === `edited in run ${RUN}` && stored.timeout_ms == null, `saved ${JSON.stringify(stored)}`);
  });

  await flowControlJourney();

  await step(`a failing endpoint receives ${FAILING_EVENTS} events, a healthy one some`, async () => {
    const flaky = await api('POST', '/subscriptions/', { target_url: FLAKY, event_types: [`e2e.r${RUN}.*`], description: 'flaky receiver' });
    ids.flaky = flaky.id;
    const events = [];
    for (let i = 0; i < FAILING_EVENTS; i += 1) events.push(api('POST', '/events', { event_type: `e2e.r${RUN}.order.created`, payload: { i } }));
    await Promise.all(events);
    await until('the flaky deliveries to fail for good', async () => {
      const rows = await api('GET', `/deliveries?subscription_id=${ids.flaky}&status=failed&limit=100`);
      return rows.length === FAILING_EVENTS;
    }, 60_000);
  });

  await step('find the failing endpoint from the health columns, then its health page', async () => {
    await nav('Subscriptions');
    await heading('Subscriptions');
    const row = page.locator(`[data-testid="subscription-row"][data-subscription-id="${ids.flaky}"]`);
    await row.getByTestId('health-first-try').filter({ hasText: '0%' }).waitFor();
    const healthy = page.locator(`[data-testid="subscription-row"][data-subscription-id="${ids.good}"]`);
    await healthy.getByTestId('health-eventual').filter({ hasText: '100%' }).waitFor();
    assert((await row.getByTestId('health-deliveries').innerText()).includes('attempts'), 'deliveries and attempts are not told apart');
    await shot('subscriptions');
    await row.getByRole('link', { name: FLAKY }).click();
    await heading(FLAKY);
    const facts = page.getByTestId('health-facts');
    await facts.getByText('First-try success').waitFor();
    const text = await facts.innerText();
    assert(text.includes(String(FAILING_EVENTS)), `health facts do not count ${FAILING_EVENTS} deliveries: ${text}`);
    await page.getByTestId('attempts-chart').locator('canvas').waitFor();
    await page.getByTestId('latency-chart').locator('canvas').waitFor();
    await page.locator('#stats-range-preset').selectOption('1h');
    await page.waitForURL(/stats_range=1h/);
    await shot('subscription');
  });

  await step('inspect a failed attempt: target, headers, body, copy as curl', async () => {
    const first = page.locator('[data-testid="delivery-row"]').first();
    ids.failedDelivery = await first.getAttribute('data-delivery-id');
    await first.getByRole('link', { name: /^Delivery / }).click();
    await heading(/^Delivery/);
    await page.getByTestId('target-url').filter({ hasText: FLAKY }).waitFor();
    const attempt = page.getByTestId('attempt').first();
    const text = await attempt.innerText();
    assert(text.includes('500') && /http_status/.test(text), `the last attempt does not show the 500: ${text}`);
    assert(/x-courier-event-type/i.test(text), 'request headers are not listed');
    assert(/Response headers/.test(text), 'no response headers section');
    await attempt.getByText('Copy as curl').click();
    const curl = await attempt.getByTestId('curl').innerText();
    assert(curl.startsWith(`curl -X POST '${FLAKY}'`) && /webhook-signature/i.test(curl) && curl.includes('--data-raw'), `curl: ${curl}`);
    await attempt.getByRole('button', { name: 'Copy curl command' }).click();
    await attempt.getByRole('button', { name: 'Copy curl command' }).filter({ hasText: 'Copied' }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert(copied === curl, 'the clipboard does not hold the curl command');
    await shot('delivery');
  });

  await step('search deliveries by filters: pattern, status, HTTP class, page 2 kept in the URL', async () => {
    await nav('Deliveries');
    await heading('Deliveries');
    await page.getByLabel('Event type', { exact: true }).fill(`e2e.r${RUN}.*`);
    await page.getByLabel('Status', { exact: true }).selectOption('failed');
    await page.getByLabel('HTTP status', { exact: true }).fill('5xx');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/http_status=5xx/);
    const rows = page.locator('[data-testid="delivery-row"]');
    const statuses = () => rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-status')));
    await until('50 rows, all failed', async () => {
      const s = await statuses();
      return s.length === 50 && s.every((x) => x === 'failed');
    });
    const shown = await rows.locator('a[data-id]').evaluateAll((as) => as.map((a) => a.textContent));
    assert(new Set(shown).size === shown.length, 'two rows show the same id');
    await shot('deliveries');
    await page.getByRole('button', { name: 'Next →' }).click();
    await page.waitForURL(/after=/);
    // A refused connection leaves no HTTP status: the API says how many have a 5xx.
    const all = await api('GET', `/deliveries?event_type=e2e.r${RUN}.*&status=failed&http_status=5xx&limit=100`);
    assert(all.length > 50, `only ${all.length} failed deliveries with a 5xx`);
    await until(`page 2 with the other ${all.length - 50}`, async () => (await rows.count()) === all.length - 50);
    await page.reload();
    await page.getByText('Page 2').waitFor();
    await until('page 2 after reload', async () => (await rows.count()) === all.length - 50);
    assert((await page.getByLabel('HTTP status', { exact: true }).inputValue()) === '5xx', 'filters lost on reload');
  });

  await step('look up a delivery by the id the table shows, and by its start', async () => {
    const link = page.locator('[data-testid="delivery-row"] a[data-id]').first();
    const id = await link.getAttribute('data-id');
    const shownText = await link.innerText();
    assert(shownText.startsWith('…') && id.replace(/-/g, '').endsWith(shownText.slice(1)), `shown ${shownText} for ${id}`);
    await page.getByLabel(/Look up an id/).fill(shownText);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.waitForURL(`**/ui/deliveries/${id}`);
    await heading(/^Delivery/);
    // Ids made in the same millisecond share their first 20 or so hex digits: type more.
    await page.getByLabel(/Look up an id/).fill(id.slice(0, 30));
    await page.getByRole('button', { name: 'Look up' }).click();
    await until('the look-up of an id start', async () => page.url().endsWith(`/ui/deliveries/${id}`) || (await page.getByTestId('lookup-results').count()) > 0);
    if (!page.url().endsWith(id)) await page.getByTestId('lookup-results').locator(`a[data-id="${id}"]`).waitFor();
    await page.getByLabel(/Look up an id/).fill(ids.flaky);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.waitForURL(`**/ui/subscriptions/${ids.flaky}`);
  });

  await step('the live tail updates rows in place, with no list refetch', async () => {
    await page.goto(`${BASE}/ui/subscriptions/${ids.flaky}`);
    await heading(FLAKY);
    await page.getByTestId('tail-connection').filter({ hasText: 'Live' }).waitFor();
    await page.locator('[data-testid="delivery-row"]').first().waitFor();
    const { deliveryId } = await send(`e2e.r${RUN}.live`, ids.flaky);
    await page.getByTestId('show-new').click();
    const row = deliveryRow(deliveryId);
    await row.waitFor();
    const before = counters.listRequests;
    await row.getByTestId('row-attempts').filter({ hasText: /^[23]$/ }).waitFor();
    await row.locator('[data-status="failed"], .badge-bad').first().waitFor();
    assert(counters.listRequests === before, `the list was fetched ${counters.listRequests - before} times while the tail updated it`);
    ids.liveDelivery = deliveryId;
    await shot('live-tail-in-place');
  });

  await step('bulk retry of the failed set once the receiver heals', async () => {
    await fetch(`${RECEIVER}/control/heal`, { method: 'POST' });
    await page.goto(`${BASE}/ui/deliveries?subscription_id=${ids.flaky}&status=failed&range=1h`);
    await heading('Deliveries');
    await page.locator('[data-testid="delivery-row"]').first().waitFor();
    await page.getByRole('button', { name: 'Retry matching…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Retry the matching deliveries?' });
    await shot('bulk-retry-confirm');
    await dialog.getByRole('button', { name: 'Retry them' }).click();
    await page.getByText(`${FAILING_EVENTS + 1} of ${FAILING_EVENTS + 1} matching deliveries re-queued.`).waitFor();
    await until('every flaky delivery to succeed', async () => {
      const rows = await api('GET', `/deliveries?subscription_id=${ids.flaky}&status=succeeded&limit=100`);
      return rows.length === FAILING_EVENTS + 1;
    });
    await page.goto(`${BASE}/ui/deliveries?subscription_id=${ids.flaky}&status=succeeded`);
    await until('succeeded rows', async () => (await page.locator('[data-testid="delivery-row"]').count()) === 50);
  });

  await step('cancel the deliveries a paused subscription holds', async () => {
    await page.goto(`${BASE}/ui/subscriptions/${ids.good}`);
    await heading(HOOK);
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('Paused: new deliveries are held').waitFor();
    const held = [];
    for (let i = 0; i < 3; i += 1) held.push((await send(`e2e.r${RUN}.held`, ids.good)).deliveryId);
    await until('the held deliveries', async () => {
      const rows = await api('GET', `/deliveries?subscription_id=${ids.good}&status=paused`);
      return rows.length === 3;
    });
    await page.goto(`${BASE}/ui/deliveries?subscription_id=${ids.good}&status=paused`);
    await until('3 held rows', async () => (await page.locator('[data-testid="delivery-row"]').count()) === 3);
    await page.getByRole('button', { name: 'Cancel pending…' }).click();
    await page.getByRole('dialog', { name: 'Cancel the matching pending deliveries?' }).getByRole('button', { name: 'Cancel them' }).click();
    await page.getByText('3 of 3 matching deliveries cancelled.').waitFor();
    for (const id of held) {
      const d = await api('GET', `/deliveries/${id}`);
      assert(d.status === 'failed' && d.last_error === 'cancelled by operator', `${id}: ${d.status} ${d.last_error}`);
    }
    await shot('bulk-cancelled');
    await api('POST', `/subscriptions/${ids.good}/resume`);
  });

  await step('retry now makes another attempt, shown on the delivery page', async () => {
    await page.goto(`${BASE}/ui/deliveries/${ids.liveDelivery}`);
    await heading(/^Delivery/);
    const before = await page.getByTestId('attempt').count();
    await page.getByRole('button', { name: 'Retry now' }).click();
    await page.getByText('Retry queued.').waitFor();
    await until('one more attempt', async () => (await page.getByTestId('attempt').count()) > before);
    await shot('delivery-retried');
  });

  await step('the overview names deliveries and attempts apart, in light and dark mode', async () => {
    await nav('Overview');
    await heading('Overview');
    const stats = page.getByTestId('overview-stats');
    await stats.getByText('Deliveries, last hour').waitFor();
    await stats.getByText('Attempts, last hour').waitFor();
    await stats.getByText('First-try success').waitFor();
    await stats.getByText('Eventual success').waitFor();
    await page.locator('.chart svg').waitFor();
    await shot('overview');
    await page.getByTestId('theme').click();
    assert((await page.evaluate(() => document.documentElement.dataset.theme)) === 'dark', 'dark mode did not switch on');
    await shot('overview-dark');
    await page.getByTestId('theme').click();
    await page.getByTestId('theme').click();
  });

  await step('messages list their deliveries counted', async () => {
    await nav('Messages');
    await heading('Messages');
    await page.getByLabel('Event type', { exact: true }).fill(`e2e.r${RUN}.held`);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await until('three held messages', async () => (await page.getByTestId('message-row').count()) === 3);
    await page.getByTestId('message-row').first().getByText('1 failed').waitFor();
    await shot('messages');
  });

  await step('a reload of a deep link keeps the page, and the pages fit a 375 px phone', async () => {
    await page.goto(`${BASE}/ui/deliveries/${ids.failedDelivery}`);
    await page.reload();
    await heading(/^Delivery/);
    await page.setViewportSize({ width: 375, height: 800 });
    for (const [name, url, h] of [
      ['mobile-overview', '/', 'Overview'],
      ['mobile-deliveries', `/ui/deliveries?subscription_id=${ids.flaky}`, 'Deliveries'],
      ['mobile-subscription', `/ui/subscriptions/${ids.flaky}`, FLAKY],
      ['mobile-delivery', `/ui/deliveries/${ids.failedDelivery}`, /^Delivery/],
    ]) {
      await page.goto(`${BASE}${url}`);
      await heading(h);
      await page.waitForLoadState('networkidle').catch(() => {});
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 1, `${url} is ${overflow}px wider than the 375 px viewport`);
      await shot(name);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step('delete the subscriptions after confirming, and sign out', async () => {
    for (const [id, url] of [[ids.good, HOOK], [ids.flaky, FLAKY]]) {
      await page.goto(`${BASE}/ui/subscriptions/${id}`);
      await heading(url);
      await page.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('dialog', { name: 'Delete this subscription?' }).getByRole('button', { name: 'Delete subscription' }).click();
      await heading('Subscriptions');
    }
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Courier');
    await page.getByText('You signed out.').waitFor();
    assert((await page.evaluate(() => sessionStorage.getItem('courier.apiKey'))) === null, 'the key is still in sessionStorage');
  });

  await finish(0, `E2E PASSED: ${stepNo} steps, screenshots in ${SHOTS}`);
}

main().catch((e) => finish(1, e?.stack ?? String(e)));
