/**
 * Every dashboard route in one place.
 *
 * Pages live under `/ui/` (and the overview at `/`) so that no dashboard URL collides with an
 * API route such as `GET /subscriptions/{id}`: a reload of any dashboard page asks the server
 * for a path it does not route, and it answers with index.html.
 */
const e = encodeURIComponent;

export const paths = {
  overview: '/',
  signIn: '/ui/sign-in',
  deliveries: '/ui/deliveries',
  messages: '/ui/messages',
  subscriptions: '/ui/subscriptions',
  newSubscription: '/ui/subscriptions/new',
  subscription: (id: string) => `/ui/subscriptions/${e(id)}`,
  editSubscription: (id: string) => `/ui/subscriptions/${e(id)}/edit`,
  delivery: (id: string) => `/ui/deliveries/${e(id)}`,
  message: (id: string) => `/ui/messages/${e(id)}`,
  lookup: (id: string) => `/ui/lookup/${e(id)}`,
  applications: '/ui/applications',
  newApplication: '/ui/applications/new',
  application: (app: string) => `/ui/applications/${e(app)}`,
  eventTypes: '/ui/event-types',
  newEventType: '/ui/event-types/new',
  eventType: (name: string) => `/ui/event-types/${e(name)}`,
  /** The explorer filtered, e.g. `{ subscription_id, status: 'failed' }`. */
  deliveriesWhere: (q: Record<string, string>) => `/ui/deliveries?${new URLSearchParams(q).toString()}`,
};
