#!/usr/bin/env node
/**
 * The dashboard's tenancy pages in headless Chromium, against the server `e2e/run.sh` starts
 * (env as for dashboard.e2e.mjs). The operator's journeys: create an application with its
 * portal brand and edit it; make an API key (shown once; it works, then revoked it does
 * not); make a read-only portal link (URL shown once) that opens the branded portal, then
 * revoke it; add an event type to the catalog and deprecate it; switch the dashboard to the
 * application (only its subscriptions and deliveries show) and back; delete the application.
 */
import { api, assert, BASE, finish, heading, KEY, launch, nav, page, RECEIVER, RUN, SHOTS, shot, step, stepNo, until } from './harness.mjs';

const UID = `shop-${RUN}`;
const TYPE = `shop${RUN}.order.created`;

async function main() {
  await launch();

  await step('sign in and open the applications', async () => {
    await page.goto(`${BASE}/ui/sign-in`);
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Overview');
    await nav('Applications');
    await heading('Applications');
    await page.getByRole('link', { name: 'courier-ops' }).waitFor();
  });

  await step('create an application with its portal brand, then edit it', async () => {
    await page.getByRole('link', { name: 'New application' }).click();
    await heading('New application');
    await page.getByLabel('uid (required)').fill(UID);
    await page.getByLabel('Name (required)').fill('Shop Inc');
    await page.getByLabel('Retention').fill('30d');
    await page.getByLabel('Portal title').fill('Shop');
    await page.getByLabel('Brand colour').fill('#7c3aed');
    await page.getByLabel('Other metadata (JSON object)').fill('{"plan": "pro"}');
    await page.getByRole('button', { name: 'Create application' }).click();
    await heading('Shop Inc');
    await page.getByText('Application created.').waitFor();
    await page.getByLabel('Name (required)').fill('Shop Incorporated');
    await page.getByRole('button', { name: 'Save application' }).click();
    await page.getByText('Application saved.').waitFor();
    const a = await api('GET', `/applications/${UID}`);
    assert(a.name === 'Shop Incorporated' && a.retention === '30d', `saved ${JSON.stringify(a)}`);
    assert(a.metadata.plan === 'pro' && a.metadata.portal.brand_color === '#7c3aed' && a.metadata.portal.name === 'Shop', 'metadata');
  });

  await step('make an API key: shown once, it works, and revoked it does not', async () => {
    await page.getByLabel("New key's name").fill('shop backend');
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'New API key' });
    const key = await dialog.getByTestId('secret-value').inputValue();
    assert(/^ck_[0-9a-f]{12}_/.test(key), `key ${key}`);
    const ok = await fetch(`${BASE}/subscriptions`, { headers: { Authorization: `Bearer ${key}` } });
    assert(ok.status === 200, `the new key answered ${ok.status}`);
    await dialog.getByRole('button', { name: 'I have stored the key' }).click();
    const row = page.getByTestId('key-row').filter({ hasText: 'shop backend' });
    await row.waitFor();
    assert(!(await page.content()).includes(key), 'the key is shown again');
    await shot('application');
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog', { name: 'Revoke this key?' }).getByRole('button', { name: 'Revoke key' }).click();
    await until('the key row to go', async () => (await page.getByTestId('key-row').count()) === 0);
    const refused = await fetch(`${BASE}/subscriptions`, { headers: { Authorization: `Bearer ${key}` } });
    assert(refused.status === 401, `the revoked key answered ${refused.status}`);
  });

  await step('make a read-only portal link that opens the branded portal, then revoke it', async () => {
    await page.getByLabel('Valid for').selectOption('1d');
    await page.getByLabel('Read-only').check();
    await page.getByRole('button', { name: 'Create portal link' }).click();
    const dialog = page.getByRole('dialog', { name: 'New portal link' });
    const url = await dialog.getByTestId('secret-value').inputValue();
    assert(url.startsWith(`${BASE}/portal?token=cpl_`), `link ${url}`);
    await shot('portal-link-created');
    await dialog.getByRole('button', { name: 'Done' }).click();
    const row = page.getByTestId('link-row');
    await row.getByText('read-only').waitFor();
    await page.goto(url);
    await heading('Endpoints');
    assert((await page.getByTestId('portal-name').textContent()) === 'Shop', 'the brand title');
    await page.getByTestId('read-only').waitFor();
    await page.goto(`${BASE}/ui/applications/${UID}`);
    await heading('Shop Incorporated');
    await row.getByText('read-only').waitFor();
    assert(!(await row.innerText()).includes('not yet'), 'the link shows it was opened');
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog', { name: 'Revoke this portal link?' }).getByRole('button', { name: 'Revoke link' }).click();
    await page.getByText('No live portal links.').waitFor();
  });

  await step('add an event type to the catalog and deprecate it', async () => {
    await nav('Event types');
    await heading('Event types');
    await page.getByRole('link', { name: 'New event type' }).click();
    await heading('New event type');
    await page.getByLabel('Name (required)').fill(TYPE);
    await page.getByLabel('Description').fill('A shop order');
    await page.getByLabel('JSON Schema of the payload').fill('{"type": "object", "required": ["id"]}');
    await page.getByLabel('Example payload').fill('{"id": 1}');
    await page.getByRole('button', { name: 'Create event type' }).click();
    await heading('Event types');
    await page.getByRole('link', { name: TYPE }).click();
    await heading(TYPE);
    await page.getByLabel('Description').fill('A shop order (use v2)');
    await page.getByLabel('Deprecated').check();
    await page.getByRole('button', { name: 'Save event type' }).click();
    await heading('Event types');
    const row = page.getByTestId('event-type-row').filter({ hasText: TYPE });
    await row.getByText('deprecated').waitFor();
    const t = (await api('GET', '/event-types?limit=500')).find((x) => x.name === TYPE);
    assert(t.deprecated && t.description === 'A shop order (use v2)' && t.schema.required[0] === 'id' && t.version === 2, JSON.stringify(t));
    await shot('event-types');
  });

  await step("switch the dashboard to the application: only its subscriptions and deliveries", async () => {
    const sub = await api('POST', `/applications/${UID}/subscriptions`, { target_url: `${RECEIVER}/hook/${RUN}` });
    const sent = await api('POST', `/applications/${UID}/events`, { event_type: 'order.created', payload: { shop: RUN } });
    await page.getByLabel('Application').selectOption(UID);
    await heading('Subscriptions');
    await page.getByRole('link', { name: `${RECEIVER}/hook/${RUN}` }).waitFor();
    const rows = await page.locator('tbody tr').count();
    assert(rows === 1, `${rows} subscriptions shown for ${UID}`);
    await shot('application-switcher');
    await nav('Deliveries');
    await heading('Deliveries');
    await page.locator(`[data-testid="delivery-row"][data-delivery-id="${sent.task_id[0]}"]`).waitFor();
    assert((await page.locator('[data-testid="delivery-row"]').count()) === 1, 'only its delivery');
    await page.getByLabel('Application').selectOption('');
    await heading('Overview');
    await nav('Subscriptions');
    await heading('Subscriptions');
    assert((await page.getByRole('link', { name: `${RECEIVER}/hook/${RUN}` }).count()) === 0, 'the default application does not show it');
    ids.sub = sub.id;
  });

  await step('delete the application', async () => {
    await page.goto(`${BASE}/ui/applications/${UID}`);
    await heading('Shop Incorporated');
    await page.getByRole('button', { name: 'Delete application' }).click();
    await page.getByRole('dialog', { name: 'Delete this application?' }).getByRole('button', { name: 'Delete application' }).click();
    await heading('Applications');
    await until('the row to go', async () => (await page.getByRole('link', { name: UID }).count()) === 0);
    await shot('applications');
  });

  await finish(0, `TENANCY E2E PASSED: ${stepNo} steps, screenshots in ${SHOTS}`);
}

const ids = {};
main().catch((e) => finish(1, e?.stack ?? String(e)));
