/**
 * Tenancy's calls beside `CourierClient`'s: applications, API keys, portal links, the
 * event-type catalog, and the consumer portal's session. Types come from the generated
 * schema; where the document says "any object" (`Record<string, never>`), the JSON values
 * are typed as `unknown` objects here so pages can read and write them.
 */
import type { components } from './schema';
import { queryString, type CourierClient } from './client';
import type { Page, PageQuery } from './types';

type Schemas = components['schemas'];
type Json = Record<string, unknown>;

export type Application = Omit<Schemas['ApplicationView'], 'metadata'> & { metadata: Json };
export interface ApplicationCreate {
  uid: string;
  name: string;
  metadata?: Json;
  retention?: string | null;
}
export type ApplicationPatch = Partial<{ uid: string; name: string; metadata: Json | null; retention: string | null }>;

export type ApiKey = Schemas['ApiKeyView'];
export type ApiKeyCreated = ApiKey & { key: string };
export type ApiKeyCreate = Schemas['CreateApiKey'];

export type PortalLink = Schemas['PortalLinkView'];
export type PortalLinkCreated = Schemas['PortalLinkCreated'];
export interface PortalLinkCreate {
  ttl?: string;
  read_only?: boolean;
}

export type EventType = Omit<Schemas['EventTypeView'], 'schema' | 'example'> & { schema?: Json | null; example?: unknown };
export interface EventTypeCreate {
  name: string;
  description?: string;
  schema?: Json | null;
  example?: unknown;
  deprecated?: boolean;
}
export type EventTypePatch = Partial<Omit<EventTypeCreate, 'name'>>;

export type Brand = Schemas['Brand'];
export type PortalSession = Schemas['PortalSessionView'];

const enc = encodeURIComponent;
const app = (a: string) => `/applications/${enc(a)}`;

export const applications = {
  list: (c: CourierClient, q: PageQuery = {}): Promise<Page<Application>> => c.page(`/applications${queryString({ ...q })}`),
  get: (c: CourierClient, a: string): Promise<Application> => c.json('GET', app(a)),
  create: (c: CourierClient, body: ApplicationCreate): Promise<Application> => c.json('POST', '/applications', body),
  patch: (c: CourierClient, a: string, body: ApplicationPatch): Promise<Application> => c.json('PATCH', app(a), body),
  remove: (c: CourierClient, a: string): Promise<void> => c.json('DELETE', app(a)),
};

export const apiKeys = {
  list: (c: CourierClient, q: PageQuery & { application?: string } = {}): Promise<Page<ApiKey>> =>
    c.page(`/api-keys${queryString({ ...q })}`),
  create: (c: CourierClient, body: ApiKeyCreate): Promise<ApiKeyCreated> => c.json('POST', '/api-keys', body),
  revoke: (c: CourierClient, id: string): Promise<void> => c.json('DELETE', `/api-keys/${enc(id)}`),
};

export const portalLinks = {
  list: (c: CourierClient, a: string): Promise<Page<PortalLink>> => c.page(`${app(a)}/portal-links?limit=100`),
  create: (c: CourierClient, a: string, body: PortalLinkCreate): Promise<PortalLinkCreated> =>
    c.json('POST', `${app(a)}/portal-links`, body),
  revoke: (c: CourierClient, a: string, id: string): Promise<void> => c.json('DELETE', `${app(a)}/portal-links/${enc(id)}`),
};

export const eventTypes = {
  list: (c: CourierClient, q: PageQuery = {}): Promise<Page<EventType>> => c.page(`/event-types${queryString({ limit: 500, ...q })}`),
  create: (c: CourierClient, body: EventTypeCreate): Promise<EventType> => c.json('POST', '/event-types', body),
  patch: (c: CourierClient, name: string, body: EventTypePatch): Promise<EventType> =>
    c.json('PATCH', `/event-types/${enc(name)}`, body),
};

export const portalSession = {
  /** Opens a portal link (once): the answer carries the session's bearer token. */
  open: (c: CourierClient, token: string): Promise<PortalSession> => c.json('POST', '/portal/session', { token }),
  get: (c: CourierClient): Promise<PortalSession> => c.json('GET', '/portal/session'),
  end: (c: CourierClient): Promise<void> => c.json('DELETE', '/portal/session'),
};
