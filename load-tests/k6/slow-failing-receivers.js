// slow-failing-receivers: healthy, slow and failing receivers side by side. Slow (SINK_DELAY_MS)
// and failing (SINK_FAIL_RATE) subscriptions must not slow ingest, nor the healthy ones'
// deliveries (per-subscription isolation). Open model.
//
//   COURIER_URL, COURIER_API_KEY                                (see lib.js)
//   FAST_SUBSCRIPTION_IDS, SLOW_SUBSCRIPTION_IDS, FAILING_SUBSCRIPTION_IDS (comma-separated;
//     SUBSCRIPTION_IDS is used for the fast group when FAST_ is unset)
//   FAST_RATE (500/s), SLOW_RATE (100/s), FAILING_RATE (100/s), DURATION (60s)
import { ingest, ids, num, env } from './lib.js';

const fastIds = ids('FAST_SUBSCRIPTION_IDS', 'SUBSCRIPTION_IDS');
const slowIds = ids('SLOW_SUBSCRIPTION_IDS');
const failingIds = ids('FAILING_SUBSCRIPTION_IDS');
if (fastIds.length + slowIds.length + failingIds.length === 0) {
  throw new Error('set FAST_/SLOW_/FAILING_SUBSCRIPTION_IDS');
}
const duration = env('DURATION', '60s');

function group(name, list, rate) {
  return list.length === 0 ? {} : {
    [name]: {
      executor: 'constant-arrival-rate',
      rate: rate,
      timeUnit: '1s',
      duration,
      preAllocatedVUs: 50,
      maxVUs: 200,
      exec: name,
      gracefulStop: '10s',
    },
  };
}

export const options = {
  discardResponseBodies: true,
  scenarios: Object.assign(
    {},
    group('fast', fastIds, num('FAST_RATE', 500)),
    group('slow', slowIds, num('SLOW_RATE', 100)),
    group('failing', failingIds, num('FAILING_RATE', 100)),
  ),
  thresholds: {
    'checks': ['rate>0.99'],
    // Ingest must not feel the slow receivers.
    'ingest_ms': ['p(99)<50'],
  },
};

export function fast() { ingest(fastIds[__ITER % fastIds.length], 'bench.fast'); }
export function slow() { ingest(slowIds[__ITER % slowIds.length], 'bench.slow'); }
export function failing() { ingest(failingIds[__ITER % failingIds.length], 'bench.failing'); }
