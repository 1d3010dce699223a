// fanout-steady: POST /events at a constant rate; each event matches every subscription
// (run.sh creates FANOUT subscriptions with event_types ["bench.*"]), so deliveries/s =
// RATE × FANOUT. Open model: latency is measured at a fixed arrival rate.
//
//   COURIER_URL, COURIER_API_KEY                       (see lib.js)
//   RATE (500 events/s), DURATION (60s), EVENT_TYPE (bench.fanout), MAX_VUS (300)
import { fanout, num, env } from './lib.js';

export const options = {
  discardResponseBodies: true,
  scenarios: {
    fanout: {
      executor: 'constant-arrival-rate',
      rate: num('RATE', 500),
      timeUnit: '1s',
      duration: env('DURATION', '60s'),
      preAllocatedVUs: 100,
      maxVUs: num('MAX_VUS', 300),
      gracefulStop: '10s',
    },
  },
  thresholds: {
    'checks': ['rate>0.99'],
    'ingest_ms': ['p(99)<50'],
  },
};

export default function () {
  fanout(env('EVENT_TYPE', 'bench.fanout'));
}
