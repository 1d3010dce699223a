// mixed-soak: a long, steady mix, to find leaks (RSS, connections, Redis/Postgres growth) and
// latency drift. Per-subscription ingest + fan-out events + management reads, all open model.
//
//   COURIER_URL, COURIER_API_KEY, SUBSCRIPTION_ID(S)   (see lib.js)
//   INGEST_RATE (800/s), FANOUT_RATE (50/s), READ_RATE (20/s), DURATION (10m)
//   READS=0 disables the management reads (run.sh's baseline against the bare sink).
import { ingest, fanout, get, requireIds, num, env, pick } from './lib.js';

const subs = requireIds('SUBSCRIPTION_IDS', 'SUBSCRIPTION_ID');
const duration = env('DURATION', '10m');
const reads = env('READS', '1') !== '0';

function arrival(rate, exec, vus) {
  return {
    executor: 'constant-arrival-rate',
    rate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs: vus,
    maxVUs: vus * 3,
    exec,
    gracefulStop: '10s',
  };
}

const scenarios = {
  ingest: arrival(num('INGEST_RATE', 800), 'ingestOne', 100),
  fanout: arrival(num('FANOUT_RATE', 50), 'fanoutOne', 20),
};
if (reads) {
  scenarios.reads = arrival(num('READ_RATE', 20), 'readOne', 10);
}

export const options = {
  discardResponseBodies: true,
  scenarios,
  thresholds: {
    'checks': ['rate>0.99'],
    'ingest_ms': ['p(99)<50'],
  },
};

export function ingestOne() { ingest(subs[__ITER % subs.length], 'bench.soak'); }
export function fanoutOne() { fanout('bench.soak.fanout'); }
export function readOne() {
  const which = __ITER % 3;
  if (which === 0) get('/subscriptions/?limit=20', 'list subscriptions');
  else if (which === 1) get(`/subscriptions/${pick(subs)}/deliveries?limit=20`, 'recent deliveries');
  else get('/metrics', 'metrics');
}
