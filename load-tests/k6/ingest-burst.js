// ingest-burst: quiet traffic with sudden bursts, open model (ramping-arrival-rate).
// Does ingest latency stay bounded through a burst, and does the delivery backlog drain?
//
//   COURIER_URL, COURIER_API_KEY, SUBSCRIPTION_ID(S)   (see lib.js)
//   BASE_RATE (200/s), BURST_RATE (5000/s), BURST_SECONDS (10), BURSTS (3), QUIET_SECONDS (10)
//   EVENT_TYPE (bench.burst), MAX_VUS (400)
import { ingest, requireIds, num, env } from './lib.js';

const subs = requireIds('SUBSCRIPTION_IDS', 'SUBSCRIPTION_ID');
const base = num('BASE_RATE', 200);
const burst = num('BURST_RATE', 5000);
const burstS = num('BURST_SECONDS', 10);
const quietS = num('QUIET_SECONDS', 10);
const bursts = num('BURSTS', 3);
const eventType = env('EVENT_TYPE', 'bench.burst');

const stages = [{ target: base, duration: `${quietS}s` }];
for (let i = 0; i < bursts; i++) {
  stages.push({ target: burst, duration: '1s' });          // step up
  stages.push({ target: burst, duration: `${burstS}s` });  // hold
  stages.push({ target: base, duration: '1s' });           // step down
  stages.push({ target: base, duration: `${quietS}s` });   // recover
}

export const options = {
  discardResponseBodies: true,
  scenarios: {
    burst: {
      executor: 'ramping-arrival-rate',
      startRate: base,
      timeUnit: '1s',
      preAllocatedVUs: Math.min(200, num('MAX_VUS', 400)),
      maxVUs: num('MAX_VUS', 400),
      stages,
      gracefulStop: '10s',
    },
  },
  thresholds: {
    'checks': ['rate>0.99'],
    'ingest_ms': ['p(99)<100'],
  },
};

export default function () {
  ingest(subs[(__ITER + __VU) % subs.length], eventType);
}
