#!/usr/bin/env node
/**
 * End-to-end check of the consumer portal in headless Chromium, against the server that
 * `e2e/run.sh` starts (after the dashboard's journeys). Env as for dashboard.e2e.mjs, plus:
 * EMBED_URL (the example producer page of ops/portal-embed/ on an origin listed in
 * COURIER_PORTAL_ORIGINS), FOREIGN_URL (the same page on an origin that is not listed),
 * PORTAL_APP_UID (the application both pages make links for), E2E_DATABASE_URL (to age a
 * link past its expiry with psql).
 *
 * The customer's journeys: open a link (the token leaves the address bar; the brand shows);
 * create an endpoint from the catalog and read its secret once; see a delivery arrive and
 * inspect its attempts (credentials masked); retry it; recover failed ones since a time;
 * send a test event; rotate the secret (overlap shown); filter deliveries; a read-only link
 * whose changes the server refuses; used, expired and revoked links refused, and a session
 * ended by revocation; another application's ids unreachable by every portal route; the
 * portal inside an iframe of an allowed origin, and refused inside one of another origin.
 */
import { execFileSync } from 'node:child_process';
import {
  api,
  assert,
  BASE,
  expectConsoleError,
  finish,
  heading,
  launch,
  page,
  RECEIVER,
  RUN,
  SHOTS,
  shot,
  step,
  stepNo,
  until,
} from './harness.mjs';

const UID = process.env.PORTAL_APP_UID ?? `acme-${RUN}`;
const EMBED = process.env.EMBED_URL;
const FOREIGN = process.env.FOREIGN_URL;
const DB = process.env.E2E_DATABASE_URL;
const FLAKY = `${RECEIVER}/flaky/portal-${RUN}`;
const LOGO =
  'data:image/svg+xml;base64,' +
  Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#0a7"/><path d="M8 22l8-12 8 12z" fill="#fff"/></svg>',
  ).toString('base64');

const receiver = (what) => fetch(`${RECEIVER}/control/${what}`, { method: 'POST' });
const link = (body = {}) => api('POST', `/applications/${UID}/portal-links`, body);
/** The portal page's own session token (what its API calls carry). */
const sessionToken = () => page.evaluate(() => JSON.parse(sessionStorage.getItem('courier.portal.session') ?? 'null')?.token ?? null);
/** An API call made from inside the page, with the page's portal session. */
async function asPortal(method, path, body) {
  const token = await sessionToken();
  return page.evaluate(
    async ({ method, path, body, token }) => {
      const res = await fetch(path, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      let code = null;
      try {
        code = JSON.parse(text).code ?? null;
      } catch {
        /* not JSON */
      }
      return { status: res.status, code, text };
    },
    { method, path, body, token },
  );
}
const deliveries = () => page.locator('[data-testid="portal-delivery"]');
const ended = () => page.getByTestId('portal-ended');

async function main() {
  assert(EMBED && FOREIGN, 'set EMBED_URL and FOREIGN_URL (the ops/portal-embed pages of run.sh)');
  await launch();
  expectConsoleError(/status of 40[134]/);
  const ids = {};

  await step('a producer sets up an application with a brand and a catalog', async () => {
    await receiver('break');
    await api('POST', '/applications', {
      uid: UID,
      name: 'Acme Ltd',
      metadata: { plan: 'pro', portal: { name: 'Acme', brand_color: '#0a7', logo_url: LOGO } },
    });
    for (const [name, description, deprecated] of [
      [`order.created`, 'An order was placed', false],
      [`order.paid`, 'An order was paid', false],
      [`order.legacy`, 'The old order event', true],
    ]) {
      await api('POST', '/event-types', { name, description, deprecated }).catch((e) => {
        if (!String(e).includes('409')) throw e; // the dashboard journey may have made it
      });
    }
    const other = await api('POST', '/applications', { uid: `globex-${RUN}`, name: 'Globex' });
    const sub = await api('POST', `/applications/${other.uid}/subscriptions`, { target_url: `${RECEIVER}/hook` });
    const sent = await api('POST', `/applications/${other.uid}/events`, { event_type: 'order.created', payload: { x: 1 } });
    Object.assign(ids, { otherSub: sub.id, otherDelivery: sent.task_id[0], otherMessage: sent.message_id });
  });

  await step('open a portal link: the token leaves the address bar, the brand shows', async () => {
    const l = await link({ ttl: '2h' });
    ids.firstLink = l;
    await page.goto(l.url);
    await heading('Endpoints');
    assert(!page.url().includes('token='), `the token is still in the address: ${page.url()}`);
    assert((await page.getByTestId('portal-name').textContent()) === 'Acme', 'brand name');
    assert(await page.getByTestId('portal-logo').isVisible(), 'the logo shows');
    const accent = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim());
    assert(accent === '#0a7', `brand colour is ${accent}`);
    assert((await sessionToken())?.startsWith('cps_'), 'a portal session token');
    await shot('portal-empty');
  });

  await step('create an endpoint from the catalog and read its secret once', async () => {
    await page.getByRole('link', { name: 'Add endpoint' }).click();
    await heading('Add endpoint');
    const picker = page.getByRole('group', { name: 'Event types from the catalog' });
    const option = (name) => picker.locator('label').filter({ has: page.locator('code', { hasText: new RegExp(`^${name.replace('.', '\\.')}$`) }) });
    await option('order.legacy').waitFor();
    assert(await option('order.legacy').getByText('deprecated').isVisible(), 'deprecated types are marked');
    await page.getByLabel('Endpoint URL (required)').fill(FLAKY);
    await page.getByLabel('Description').fill('Acme ERP');
    await option('order.created').getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const dialog = page.getByRole('dialog', { name: "Your endpoint's signing secret" });
    const secret = await dialog.getByTestId('secret-value').inputValue();
    assert(secret.startsWith('whsec_'), `secret ${secret}`);
    ids.secret = secret;
    await shot('portal-secret-once');
    await dialog.getByRole('button', { name: 'I have stored the secret' }).click();
    await heading(FLAKY);
    ids.sub = page.url().split('/').pop();
    const stored = await api('GET', `/applications/${UID}/subscriptions/${ids.sub}`);
    assert(stored.event_types.join() === 'order.created', `event types ${stored.event_types}`);
    assert(!('secret' in stored), 'the API shows no secret');
    await page.reload();
    await heading(FLAKY);
    assert(!(await page.content()).includes(secret), 'the secret is shown again after a reload');
    // A credential header on the endpoint (set by the producer), to see it masked in attempts.
    await api('PATCH', `/subscriptions/${ids.sub}`, { headers: { Authorization: `Bearer e2e-credential-${RUN}` } });
  });

  await step('see a delivery arrive and inspect its attempts', async () => {
    const sent = await api('POST', `/applications/${UID}/events`, { event_type: 'order.created', payload: { order: 1 } });
    ids.delivery = sent.task_id[0];
    const row = page.locator(`[data-testid="portal-delivery"][data-delivery-id="${ids.delivery}"]`);
    await row.waitFor({ timeout: 15_000 });
    await until('three failed attempts', async () => (await row.getAttribute('data-status')) === 'failed', 20_000);
    await row.locator(':scope > summary').click();
    await row.locator('details').first().evaluate((d) => d.parentElement?.querySelectorAll('details').forEach((x) => (x.open = true)));
    const text = (await row.textContent()) ?? '';
    for (const want of ['500', 'flaky receiver is down', 'Non-2xx answer', 'x-receiver', 'webhook-signature', 'authorization']) {
      assert(text.toLowerCase().includes(want.toLowerCase()), `the attempt shows ${want}`);
    }
    assert(!text.includes(`e2e-credential-${RUN}`), 'the credential header is masked');
    await shot('portal-delivery-attempts');
  });

  await step('retry it once the receiver heals', async () => {
    await receiver('heal');
    const row = page.locator(`[data-testid="portal-delivery"][data-delivery-id="${ids.delivery}"]`);
    await row.getByRole('button', { name: 'Retry' }).click();
    await page.getByText(/Delivery queued again/).waitFor();
    await until('the retried delivery to succeed', async () => (await row.getAttribute('data-status')) === 'succeeded', 20_000);
  });

  await step('recover the failed deliveries since a time', async () => {
    await receiver('break');
    const sent = [];
    for (const n of [2, 3]) sent.push((await api('POST', `/applications/${UID}/events`, { event_type: 'order.created', payload: { order: n } })).task_id[0]);
    await until('both to fail', async () => {
      const states = await Promise.all(sent.map((id) => api('GET', `/deliveries/${id}`).then((d) => d.status)));
      return states.every((s) => s === 'failed');
    }, 25_000);
    await receiver('heal');
    await page.getByRole('button', { name: 'Recover…' }).click();
    await page.getByRole('dialog', { name: 'Recover failed deliveries?' }).getByRole('button', { name: 'Recover' }).click();
    await page.getByText(/2 failed deliveries were queued again/).waitFor();
    await until('the recovered ones to succeed', async () => {
      const states = await Promise.all(sent.map((id) => api('GET', `/deliveries/${id}`).then((d) => d.status)));
      return states.every((s) => s === 'succeeded');
    }, 20_000);
  });

  await step('send a test event and filter the deliveries to it', async () => {
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByText(/Test event sent/).waitFor();
    await page.getByLabel('Event type').fill('courier.test');
    await page.getByLabel('Status').selectOption('succeeded');
    await page.getByRole('button', { name: 'Apply' }).click();
    await until('only the test delivery listed', async () => {
      const n = await deliveries().count();
      if (n !== 1) return false;
      return (await deliveries().first().innerText()).includes('courier.test') && (await deliveries().first().getAttribute('data-status')) === 'succeeded';
    }, 20_000);
    assert(page.url().includes('event_type=courier.test'), 'filters are in the URL');
    await page.reload();
    await heading(FLAKY);
    const facts = page.getByTestId('health-facts');
    await until('the health to count the deliveries', async () => {
      const text = (await facts.innerText().catch(() => '')).replace(/\s+/g, ' ');
      return /\b4 Deliveries\b/.test(text) && /\b100(\.0)?% Eventual success/.test(text);
    }, 20_000);
    await deliveries().first().waitFor();
    await shot('portal-endpoint');
  });

  await step('rotate the secret: shown once, with the overlap', async () => {
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('dialog', { name: 'Rotate the signing secret?' }).getByRole('button', { name: 'Rotate secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'New signing secret' });
    const secret = await dialog.getByTestId('secret-value').inputValue();
    assert(secret.startsWith('whsec_') && secret !== ids.secret, 'a new secret');
    assert((await dialog.getByTestId('secret-overlap').innerText()).includes('keeps signing'), 'the overlap is shown');
    await shot('portal-rotate-overlap');
    await dialog.getByRole('button', { name: 'I have stored the secret' }).click();
    await page.getByText('Secret rotated.').waitFor();
  });

  await step('open a delivery: its payload and every attempt', async () => {
    await page.goto(`${BASE}/portal/deliveries/${ids.delivery}`);
    await heading('Delivery');
    await page.getByRole('list', { name: 'Attempts, newest first' }).waitFor();
    assert((await page.getByRole('list', { name: 'Attempts, newest first' }).locator(':scope > li').count()) === 4, 'three failures and the retry');
    await shot('portal-delivery');
  });

  await step("another application's ids are not reachable by any portal route", async () => {
    const { otherSub: s, otherDelivery: d, otherMessage: m } = ids;
    for (const [method, path] of [
      ['GET', `/subscriptions/${s}`],
      ['PATCH', `/subscriptions/${s}`],
      ['DELETE', `/subscriptions/${s}`],
      ['POST', `/subscriptions/${s}/pause`],
      ['POST', `/subscriptions/${s}/rotate-secret`],
      ['POST', `/subscriptions/${s}/test`],
      ['POST', `/subscriptions/${s}/recover?since=2020-01-01T00:00:00Z`],
      ['GET', `/subscriptions/${s}/deliveries`],
      ['GET', `/subscriptions/${s}/stats`],
      ['GET', `/deliveries/${d}`],
      ['POST', `/deliveries/${d}/retry`],
      ['GET', `/messages/${m}`],
      ['GET', `/applications/globex-${RUN}/subscriptions`],
    ]) {
      const r = await asPortal(method, path, method === 'PATCH' ? { description: 'x' } : undefined);
      assert(r.status === 404, `${method} ${path} answered ${r.status}: ${r.text}`);
    }
    for (const path of ['/api-keys', '/applications', `/applications/${UID}/portal-links`, '/stats/overview', '/deliveries']) {
      const r = await asPortal('GET', path);
      assert(r.status === 403, `GET ${path} answered ${r.status}`);
    }
    await page.goto(`${BASE}/portal/endpoints/${s}`);
    await page.getByText('subscription not found').waitFor();
  });

  await step('a read-only link shows everything and the server refuses every change', async () => {
    const l = await link({ read_only: true });
    await page.goto(l.url);
    await heading('Endpoints');
    await page.getByTestId('read-only').waitFor();
    assert((await page.getByRole('link', { name: 'Add endpoint' }).count()) === 0, 'no Add endpoint');
    await page.getByRole('link', { name: FLAKY }).click();
    await heading(FLAKY);
    assert((await page.getByRole('button', { name: 'Pause' }).count()) === 0, 'no actions');
    await deliveries().first().waitFor();
    for (const [method, path, body] of [
      ['POST', `/subscriptions/${ids.sub}/pause`],
      ['PATCH', `/subscriptions/${ids.sub}`, { description: 'changed' }],
      ['POST', `/subscriptions/${ids.sub}/rotate-secret`],
      ['POST', `/deliveries/${ids.delivery}/retry`],
      ['POST', '/subscriptions', { target_url: `${RECEIVER}/hook` }],
      ['DELETE', `/subscriptions/${ids.sub}`],
    ]) {
      const r = await asPortal(method, path, body);
      assert(r.status === 403 && r.code === 'read_only', `${method} ${path} answered ${r.status} ${r.text}`);
    }
    const after = await api('GET', `/subscriptions/${ids.sub}`);
    assert(after.status === 'active' && after.description === 'Acme ERP', 'nothing changed');
    await shot('portal-read-only');
  });

  await step('used, expired and revoked links are refused; revoking ends an open session', async () => {
    // A reload resumes this tab's session; a used link in a tab without one is refused.
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(ids.firstLink.url);
    await ended().getByText(/already used, it expired, or it was revoked/).waitFor();
    await shot('portal-link-refused');
    const stale = await link();
    execFileSync('psql', [DB, '-qc', `UPDATE portal_links SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = '${stale.id}'`]);
    await page.goto(stale.url);
    await ended().getByText(/cannot be opened/).waitFor();
    const revoked = await link();
    await api('DELETE', `/applications/${UID}/portal-links/${revoked.id}`);
    await page.goto(revoked.url);
    await ended().getByText(/cannot be opened/).waitFor();
    const live = await link();
    await page.goto(live.url);
    await heading('Endpoints');
    await page.getByRole('link', { name: FLAKY }).click();
    await heading(FLAKY);
    await api('DELETE', `/applications/${UID}/portal-links/${live.id}`);
    await ended().getByText(/session has ended/).waitFor({ timeout: 15_000 });
  });

  await step('embedded in an iframe of an allowed origin, the portal works', async () => {
    await page.goto(EMBED);
    const frame = page.frameLocator('#courier-portal');
    await frame.getByRole('heading', { level: 1, name: 'Endpoints' }).waitFor();
    await frame.getByRole('link', { name: FLAKY }).click();
    await frame.getByRole('heading', { level: 1, name: FLAKY }).waitFor();
    await frame.locator('[data-testid="portal-delivery"]').first().waitFor();
    await frame.getByRole('button', { name: 'Send test event' }).click();
    await frame.getByText(/Test event sent/).waitFor();
    const origin = new URL(EMBED).origin;
    assert(origin !== new URL(BASE).origin, 'the embedding page is another origin');
    // On another site the frame is third-party: the browser refuses it storage (and cookies),
    // and the portal still works, on its in-memory bearer session.
    const inner = page.frames().find((f) => f.url().startsWith(`${BASE}/portal`));
    assert(inner, 'the portal frame');
    const storage = await inner.evaluate(() => {
      try {
        return typeof window.sessionStorage.length === 'number' ? 'available' : 'blocked';
      } catch {
        return 'blocked';
      }
    });
    if (new URL(EMBED).hostname !== new URL(BASE).hostname) assert(storage === 'blocked', `third-party storage is ${storage}`);
    console.log(`  (embedded from ${origin}: the frame's storage is ${storage})`);
    await shot('portal-embedded');
  });

  await step('an origin not in COURIER_PORTAL_ORIGINS cannot embed it', async () => {
    expectConsoleError(/frame-ancestors/);
    const refused = page.waitForEvent('console', { predicate: (m) => /frame-ancestors/.test(m.text()), timeout: 15_000 });
    await page.goto(FOREIGN);
    await refused;
    const frame = page.frames().find((f) => f !== page.mainFrame());
    assert(frame, 'the iframe exists');
    await page.waitForTimeout(500);
    const portal = await frame.locator('[data-testid="portal-name"]').count().catch(() => 0);
    assert(portal === 0, 'the portal rendered inside a refused frame');
    assert(!frame.url().startsWith(BASE), `the frame shows ${frame.url()}`);
    await shot('portal-embed-refused');
  });

  await finish(0, `PORTAL E2E PASSED: ${stepNo} steps, screenshots in ${SHOTS}`);
}

main().catch((e) => finish(1, e?.stack ?? String(e)));
