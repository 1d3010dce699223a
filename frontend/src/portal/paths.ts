/** The portal's pages, all under `/portal` (the server answers `portal.html` for each). */
const e = encodeURIComponent;

export const portalPaths = {
  endpoints: '/portal',
  newEndpoint: '/portal/endpoints/new',
  endpoint: (id: string) => `/portal/endpoints/${e(id)}`,
  editEndpoint: (id: string) => `/portal/endpoints/${e(id)}/edit`,
  delivery: (id: string) => `/portal/deliveries/${e(id)}`,
};
