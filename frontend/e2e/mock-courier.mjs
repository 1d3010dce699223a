#!/usr/bin/env node
/**
 * A small in-memory stand-in for the Courier server, for developing the dashboard and checking
 * the end-to-end script before the real server exists. It is NOT Courier: no persistence, no
 * signatures, no retry schedule beyond one immediate attempt. It follows the API contract of
 * SPEC.md §2 as the dashboard uses it, serves dist/ with an index.html fallback, and really
 * POSTs each delivery to its target URL so a local receiver sees it.
 *
 *   node e2e/mock-courier.mjs            # PORT=8000 COURIER_API_KEY=dev-key
 *   RECEIVER_PORT=9100 node e2e/mock-courier.mjs   # also start a receiver answering 200
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist');
const PORT = Number(process.env.PORT ?? 8000);
const KEY = process.env.COURIER_API_KEY ?? 'dev-key';

const subs = new Map();
const deliveries = new Map();
const messages = new Map();
const streams = new Set();
const now = () => new Date().toISOString();

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}
const problem = (res, status, code, message) => send(res, status, { code, message, title: code, status, detail: message });

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  return JSON.parse(text);
}

function page(res, items, url) {
  const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 50), 1), 500);
  const start = Number(url.searchParams.get('cursor') ?? 0);
  const slice = items.slice(start, start + limit);
  const headers = start + limit < items.length ? { 'X-Next-Cursor': String(start + limit) } : {};
  send(res, 200, slice, headers);
}

const matches = (patterns, type) =>
  patterns.length === 0 || patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));

function publicSub(s) {
  const { secret: _secret, ...rest } = s;
  return rest;
}

function makeDelivery(sub, message) {
  const id = randomUUID();
  const d = {
    id, task_id: id, message_id: message.id, subscription_id: sub.id, event_type: message.event_type,
    status: sub.status === 'active' ? 'pending' : 'paused', attempt_count: 0, next_attempt_at: now(),
    last_attempt_at: null, last_status_code: null, last_error: null, created_at: now(), updated_at: now(),
    payload: message.payload, attempts: [],
  };
  deliveries.set(id, d);
  message.deliveries.push(id);
  if (d.status === 'pending') setTimeout(() => attempt(d), 150);
  return d;
}

async function attempt(d) {
  const sub = subs.get(d.subscription_id);
  if (!sub) return;
  d.status = 'delivering';
  const headers = { 'content-type': 'application/json', 'webhook-id': d.message_id, 'x-courier-event-type': d.event_type, 'x-courier-attempt': String(d.attempt_count + 1), 'user-agent': 'Courier/mock', ...sub.headers };
  const started = Date.now();
  const a = { id: randomUUID(), delivery_id: d.id, attempt_number: d.attempt_count + 1, attempted_at: now(), request_headers: headers, status_code: null, response_body: null, duration_ms: 0, error_class: null, error_message: null, succeeded: false };
  try {
    const r = await fetch(sub.target_url, { method: 'POST', headers, body: JSON.stringify(d.payload), signal: AbortSignal.timeout(sub.timeout_ms) });
    a.status_code = r.status;
    a.response_body = (await r.text()).slice(0, 4096);
    a.succeeded = r.ok;
    if (!r.ok) { a.error_class = 'http_status'; a.error_message = `target answered ${r.status}`; }
  } catch (e) {
    a.error_class = e?.name === 'TimeoutError' ? 'timeout' : 'connect';
    a.error_message = String(e?.cause?.message ?? e?.message ?? e);
  }
  a.duration_ms = Date.now() - started;
  d.attempts.push(a);
  d.attempt_count += 1;
  d.last_attempt_at = a.attempted_at;
  d.last_status_code = a.status_code;
  d.last_error = a.error_message;
  d.status = a.succeeded ? 'succeeded' : 'failed';
  d.next_attempt_at = null;
  d.updated_at = now();
  const event = { subscription_id: d.subscription_id, delivery_id: d.id, message_id: d.message_id, event_type: d.event_type, delivery_status: d.status, attempt: a };
  for (const s of streams) if (!s.subscriptionId || s.subscriptionId === d.subscription_id) s.res.write(`event: attempt\ndata: ${JSON.stringify(event)}\n\n`);
}

function overview() {
  const end = Math.floor(Date.now() / 60000) * 60000;
  const per = [];
  for (let i = 59; i >= 0; i--) per.push({ minute: new Date(end - i * 60000).toISOString(), succeeded: 0, failed: 0 });
  const failedBy = new Map();
  for (const d of deliveries.values())
    for (const a of d.attempts) {
      const idx = 59 - Math.floor((end - Math.floor(Date.parse(a.attempted_at) / 60000) * 60000) / 60000);
      if (idx < 0 || idx > 59) continue;
      per[idx][a.succeeded ? 'succeeded' : 'failed'] += 1;
      if (!a.succeeded) failedBy.set(d.subscription_id, (failedBy.get(d.subscription_id) ?? 0) + 1);
    }
  const counts = { active: 0, paused: 0, disabled: 0 };
  for (const s of subs.values()) counts[s.status] += 1;
  return {
    per_minute: per,
    pending_retries: [...deliveries.values()].filter((d) => d.status === 'retrying').length,
    subscriptions: counts,
    failing_subscriptions: [...failedBy].filter(([id]) => subs.has(id)).map(([id, n]) => ({ id, target_url: subs.get(id).target_url, status: subs.get(id).status, failed_last_hour: n })),
  };
}

function validUrl(u) {
  try { const p = new URL(u); return /^https?:$/.test(p.protocol); } catch { return false; }
}

function subscriptionFrom(body, old) {
  const s = {
    ...(old ?? { id: randomUUID(), created_at: now(), status: 'active', disabled_reason: null, secret: body.secret ?? `whsec_${randomUUID().replaceAll('-', '')}` }),
    target_url: body.target_url ?? old?.target_url,
    event_types: body.event_types ?? old?.event_types ?? [],
    description: body.description !== undefined ? body.description : old?.description ?? null,
    headers: body.headers ?? old?.headers ?? {},
    rate_limit_per_second: body.rate_limit_per_second !== undefined ? body.rate_limit_per_second : old?.rate_limit_per_second ?? null,
    max_in_flight: body.max_in_flight ?? old?.max_in_flight ?? 10,
    timeout_ms: body.timeout_ms ?? old?.timeout_ms ?? 10000,
    updated_at: now(),
  };
  s.is_active = s.status === 'active';
  s.requires_signature = !!body.secret || !!old?.requires_signature;
  return s;
}

async function api(req, res, url) {
  const parts = url.pathname.split('/').filter(Boolean);
  const m = req.method;
  if (parts[0] === 'health') return send(res, 200, { status: 'ok' });
  if (parts[0] === 'stream') {
    if (url.searchParams.get('api_key') !== KEY) return problem(res, 401, 'unauthorized', 'Missing or wrong API key.');
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.write(': hello\n\n');
    const s = { res, subscriptionId: url.searchParams.get('subscription_id') };
    streams.add(s);
    req.on('close', () => streams.delete(s));
    return;
  }
  if (req.headers.authorization !== `Bearer ${KEY}`) return problem(res, 401, 'unauthorized', 'Missing or wrong API key.');
  let body = {};
  if (m === 'POST' || m === 'PUT' || m === 'PATCH') {
    try { body = await readBody(req); } catch { return problem(res, 400, 'invalid_json', 'The body is not valid JSON.'); }
  }
  const [root, id, action] = parts;
  if (root === 'stats' && id === 'overview') return send(res, 200, overview());
  if (root === 'events' && m === 'POST') {
    if (!body.event_type || body.event_type.includes('*')) return problem(res, 400, 'invalid_event_type', 'event_type must be a concrete type.');
    const msg = { id: randomUUID(), event_type: body.event_type, payload: body.payload ?? null, created_at: now(), deliveries: [] };
    messages.set(msg.id, msg);
    const ds = [...subs.values()].filter((s) => s.status !== 'disabled' && matches(s.event_types, msg.event_type)).map((s) => makeDelivery(s, msg));
    return send(res, 202, { task_id: ds.map((d) => d.id), message_id: msg.id, status: ds.length ? 'accepted' : 'filtered', delivery_id: ds[0]?.id ?? null });
  }
  if (root === 'messages' && id && m === 'GET') {
    const msg = messages.get(id);
    if (!msg) return problem(res, 404, 'not_found', `No message with id ${id}.`);
    return send(res, 200, { ...msg, deliveries: msg.deliveries.map((d) => deliveries.get(d)) });
  }
  if (root === 'deliveries' && id) {
    const d = deliveries.get(id);
    if (!d) return problem(res, 404, 'not_found', `No delivery with id ${id}.`);
    if (m === 'GET' && !action) return send(res, 200, d);
    if (m === 'POST' && action === 'retry') {
      d.status = 'pending';
      d.next_attempt_at = now();
      setTimeout(() => attempt(d), 150);
      return send(res, 202, d);
    }
  }
  if (root === 'subscriptions') {
    if (!id && m === 'POST') {
      if (!validUrl(body.target_url)) return problem(res, 400, 'invalid_target_url', 'target_url must be an absolute http(s) URL.');
      const s = subscriptionFrom(body);
      subs.set(s.id, s);
      return send(res, 201, s);
    }
    if (!id && m === 'GET') {
      const status = url.searchParams.get('status');
      return page(res, [...subs.values()].filter((s) => !status || s.status === status).reverse().map(publicSub), url);
    }
    const s = subs.get(id);
    if (!s) return problem(res, 404, 'not_found', `No subscription with id ${id}.`);
    if (!action && m === 'GET') return send(res, 200, publicSub(s));
    if (!action && (m === 'PUT' || m === 'PATCH')) {
      if (m === 'PUT' && !validUrl(body.target_url)) return problem(res, 400, 'invalid_target_url', 'target_url must be an absolute http(s) URL.');
      const next = subscriptionFrom(body, s);
      subs.set(id, next);
      return send(res, 200, publicSub(next));
    }
    if (!action && m === 'DELETE') { subs.delete(id); res.writeHead(204); return res.end(); }
    if (m === 'POST' && (action === 'pause' || action === 'resume')) {
      s.status = action === 'pause' ? 'paused' : 'active';
      s.is_active = s.status === 'active';
      s.disabled_reason = null;
      return send(res, 200, publicSub(s));
    }
    if (m === 'POST' && action === 'rotate-secret') {
      s.secret = body.secret ?? `whsec_${randomUUID().replaceAll('-', '')}`;
      return send(res, 200, s);
    }
    if (m === 'POST' && action === 'test') {
      const msg = { id: randomUUID(), event_type: 'courier.test', payload: { test: true }, created_at: now(), deliveries: [] };
      messages.set(msg.id, msg);
      const d = makeDelivery(s, msg);
      return send(res, 202, { task_id: d.id, message_id: msg.id, status: 'accepted', delivery_id: d.id });
    }
    if (m === 'POST' && action === 'recover') {
      const since = Date.parse(url.searchParams.get('since') ?? '');
      if (Number.isNaN(since)) return problem(res, 400, 'invalid_since', 'since must be an RFC 3339 time.');
      let requeued = 0;
      for (const d of deliveries.values())
        if (d.subscription_id === id && d.status === 'failed' && Date.parse(d.created_at) >= since) {
          requeued += 1;
          d.status = 'pending';
          setTimeout(() => attempt(d), 150);
        }
      return send(res, 202, { requeued });
    }
    if (m === 'GET' && action === 'deliveries') {
      const q = url.searchParams;
      const list = [...deliveries.values()]
        .filter((d) => d.subscription_id === id)
        .filter((d) => !q.get('status') || d.status === q.get('status'))
        .filter((d) => !q.get('event_type') || d.event_type === q.get('event_type'))
        .filter((d) => !q.get('since') || d.created_at >= q.get('since'))
        .filter((d) => !q.get('until') || d.created_at <= q.get('until'))
        .reverse();
      return page(res, list, url);
    }
  }
  return problem(res, 404, 'not_found', `No route for ${m} ${url.pathname}.`);
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };

function staticFile(res, url) {
  let file = path.join(DIST, path.normalize(url.pathname));
  if (!file.startsWith(DIST) || !existsSync(file) || statSync(file).isDirectory()) file = path.join(DIST, 'index.html');
  if (!existsSync(file)) return problem(res, 404, 'not_built', 'Run npm run build first.');
  res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
}

const API_ROOTS = new Set(['subscriptions', 'deliveries', 'messages', 'stats', 'stream', 'events', 'health']);

http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const root = url.pathname.split('/')[1];
    if (API_ROOTS.has(root)) {
      api(req, res, url).catch((e) => {
        console.error(e);
        problem(res, 500, 'internal', 'Mock server error.');
      });
    } else {
      staticFile(res, url);
    }
  })
  .listen(PORT, '127.0.0.1', () => console.log(`mock courier on http://127.0.0.1:${PORT} (API key ${KEY})`));

if (process.env.RECEIVER_PORT) {
  http
    .createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"ok":true}');
      });
    })
    .listen(Number(process.env.RECEIVER_PORT), '127.0.0.1', () => console.log(`receiver on http://127.0.0.1:${process.env.RECEIVER_PORT}/hook`));
}
