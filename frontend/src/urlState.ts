/**
 * Page state in the URL, so every filter and page survives a reload and can be shared:
 * `useParamState` reads and patches search parameters, `useCursorTrail` keeps the cursors of
 * the pages behind the current one in `after` (comma-separated), so "page 3" is a link too.
 */
import { useCallback } from 'react';
import { useSearchParams } from 'react-router';

export type Patch = Record<string, string | undefined | null>;

/** Applies `patch` to `params`: empty values are removed. Pure. */
export function patchParams(params: URLSearchParams, patch: Patch): URLSearchParams {
  const next = new URLSearchParams(params);
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === null || v === '') next.delete(k);
    else next.set(k, v);
  }
  return next;
}

export function useParamState() {
  const [params, setParams] = useSearchParams();
  /** Changes parameters; any change but paging starts again at page 1. `replace` for typing. */
  const patch = useCallback(
    (p: Patch, { keepPage = false, replace = false } = {}) =>
      setParams((old) => patchParams(old, keepPage ? p : { ...p, after: undefined }), { replace }),
    [setParams],
  );
  return { params, patch };
}

export function useCursorTrail() {
  const { params, patch } = useParamState();
  const trail = (params.get('after') ?? '').split(',').filter(Boolean);
  const cursor = trail[trail.length - 1];
  const next = (c: string) => patch({ after: [...trail, c].join(',') }, { keepPage: true });
  const prev = () => patch({ after: trail.slice(0, -1).join(',') }, { keepPage: true });
  return { cursor, page: trail.length + 1, next, prev };
}
