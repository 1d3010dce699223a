/**
 * The browser test's harness: configuration from the environment, the API called directly,
 * Chromium launched with a fresh profile, numbered steps that save a screenshot and stop on
 * the first failure or console error, and a count of the page's delivery-list requests.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const FRONTEND = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BASE = (process.env.COURIER_URL ?? 'http://127.0.0.1:8000').replace(/\/+$/, '');
export const KEY = process.env.COURIER_API_KEY;
export const RECEIVER = (process.env.RECEIVER_URL ?? '').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SHOTS = process.env.SCREENSHOT_DIR ? path.resolve(process.env.SCREENSHOT_DIR) : path.resolve(FRONTEND, '../docs/screenshots');
export const TIMEOUT = Number(process.env.STEP_TIMEOUT_MS ?? 30_000);
export const RUN = Math.random().toString(36).slice(2, 8);

function die(message) {
  console.error(`\nE2E FAILED: ${message}`);
  process.exit(1);
}
if (!KEY) die('set COURIER_API_KEY');
if (!RECEIVER) die('set RECEIVER_URL (the e2e receiver of e2e/run.sh, e.g. http://127.0.0.1:9100)');

/** Calls the API directly (not through the page), for ingesting and for cross-checking the UI. */
export async function api(method, pathname, body) {
  const res = await fetch(`${BASE}${pathname}`, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${pathname} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

export async function until(what, check, ms = TIMEOUT) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const consoleErrors = [];
/** Console errors a step expects (e.g. the browser refusing to frame a page), by pattern. */
const expectedErrors = [];
export function expectConsoleError(pattern) {
  expectedErrors.push(pattern);
}
/** The page under test, set by `launch`. */
export let page;
let context;
let userDataDir;
/** Steps run so far. */
export let stepNo = 0;

export async function step(name, fn) {
  stepNo += 1;
  const label = `${String(stepNo).padStart(2, '0')} ${name}`;
  const started = Date.now();
  try {
    await fn();
  } catch (e) {
    process.stdout.write(`✗ ${label}\n`);
    if (page) {
      const file = path.join(SHOTS, `FAILED-${stepNo}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`  page: ${page.url()}  (screenshot ${file})`);
    }
    await finish(1, `step "${name}": ${e?.stack ?? e}`);
  }
  if (consoleErrors.length) await finish(1, `console error during "${name}":\n  ${consoleErrors.join('\n  ')}`);
  process.stdout.write(`✓ ${label} (${Date.now() - started} ms)\n`);
}

export async function finish(code, message) {
  await context?.close().catch(() => {});
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  if (code) die(message);
  console.log(`\n${message}`);
  process.exit(0);
}

export async function shot(name, opts = {}) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true, ...opts });
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

export const heading = (text) => page.getByRole('heading', { level: 1, name: text }).waitFor({ timeout: TIMEOUT });
export const nav = (name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
export const deliveryRow = (id) => page.locator(`[data-testid="delivery-row"][data-delivery-id="${id}"]`);

/** GET requests the page makes for delivery lists, counted to prove the live tail refetches nothing. */
export const counters = { listRequests: 0 };

export async function launch() {
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
    colorScheme: 'light',
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  context.setDefaultTimeout(TIMEOUT);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location()?.url ?? '?';
    // A server from before browser sessions answers POST /auth/session with 404; the live tail
    // then falls back to ?api_key=. That 404 is the only console error allowed.
    if (/\/auth\/session$/.test(where) && msg.text().includes('404')) return;
    if (expectedErrors.some((p) => p.test(msg.text()))) return;
    consoleErrors.push(`${msg.text()} @ ${where}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`));
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (req.method() === 'GET' && u.pathname === '/deliveries') counters.listRequests += 1;
  });
}
