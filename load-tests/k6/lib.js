// Shared helpers for Courier's k6 scenarios.
//
// Environment (all scenarios):
//   COURIER_URL        base URL, default http://127.0.0.1:8000 (only 127.0.0.1 targets)
//   COURIER_API_KEY    management/ingest key (Authorization: Bearer ...)
//   SUBSCRIPTION_ID    one subscription id, or SUBSCRIPTION_IDS=id1,id2,... for several
//   BODY_SIZE          payload size in bytes (default 1024)
// Every payload carries "sent_at_us" (epoch microseconds; k6 clocks have millisecond
// resolution, so it is ms * 1000) for the sink's end-to-end latency histogram.
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

export const BASE = (__ENV.COURIER_URL || 'http://127.0.0.1:8000').replace(/\/+$/, '');
export const API_KEY = __ENV.COURIER_API_KEY || '';
export const BODY_SIZE = parseInt(__ENV.BODY_SIZE || '1024', 10);

// Accepted ingests (2xx; Courier answers 202) and their latency, separate from other calls.
export const accepted = new Counter('accepted');
export const rejected = new Counter('rejected');
// Accepted POST /events calls alone: each fans out to every matching subscription.
export const acceptedEvents = new Counter('accepted_events');
export const ingestLatency = new Trend('ingest_ms', true);

export function ids(name, fallbackName) {
  const raw = __ENV[name] || (fallbackName ? __ENV[fallbackName] : '') || '';
  const list = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return list;
}

export function requireIds(name, fallbackName) {
  const list = ids(name, fallbackName);
  if (list.length === 0) {
    throw new Error(`set ${name}${fallbackName ? ' or ' + fallbackName : ''} (comma-separated subscription ids)`);
  }
  return list;
}

export function env(name, dflt) {
  const v = __ENV[name];
  return v === undefined || v === '' ? dflt : v;
}

export function num(name, dflt) {
  return parseFloat(env(name, String(dflt)));
}

const LINES = [1, 2, 3, 4, 5, 6].map((i) => ({
  sku: `SKU-${String(i).padStart(5, '0')}`,
  description: `Widget model ${i}`,
  quantity: i * 2,
  unit_price_cents: 1999 + i * 100,
  currency: 'EUR',
}));

let seq = 0;

// A ~BODY_SIZE-byte invoice-like event, as a JSON string. sent_at_us comes first so the
// sink finds it quickly.
export function payload() {
  seq += 1;
  const doc = {
    sent_at_us: Date.now() * 1000,
    seq: seq,
    vu: __VU,
    invoice: {
      id: `inv_${__VU}_${seq}`,
      customer: { id: 'cus_8f14e45f', name: 'ACME GmbH', email: 'billing@example.com', country: 'DE' },
      lines: LINES,
      total_cents: 158220,
      status: 'open',
      notes: '',
    },
  };
  const base = JSON.stringify(doc).length;
  doc.invoice.notes = 'x'.repeat(Math.max(0, BODY_SIZE - base));
  return JSON.stringify(doc);
}

function headers(extra) {
  return Object.assign(
    { 'Content-Type': 'application/json', Authorization: `Bearer ${API_KEY}` },
    extra || {},
  );
}

function record(res, tag) {
  const ok = res.status >= 200 && res.status < 300;
  check(res, { [`${tag} accepted (2xx)`]: () => ok });
  if (ok) {
    accepted.add(1, { kind: tag });
    if (tag === 'events') acceptedEvents.add(1);
    ingestLatency.add(res.timings.duration, { kind: tag });
  } else {
    rejected.add(1, { kind: tag, status: String(res.status) });
  }
  return res;
}

// POST /ingest/{id}?event_type=... with the raw payload as body (subscription without secret).
export function ingest(subscriptionId, eventType) {
  const url = `${BASE}/ingest/${subscriptionId}?event_type=${encodeURIComponent(eventType)}`;
  return record(http.post(url, payload(), { headers: headers(), tags: { name: 'ingest' } }), 'ingest');
}

// POST /events: fan-out to every subscription whose filter matches.
export function fanout(eventType) {
  const body = `{"event_type":${JSON.stringify(eventType)},"payload":${payload()}}`;
  return record(http.post(`${BASE}/events`, body, { headers: headers(), tags: { name: 'events' } }), 'events');
}

export function get(path, name) {
  return http.get(`${BASE}${path}`, { headers: headers(), tags: { name: name || path } });
}

export function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}
