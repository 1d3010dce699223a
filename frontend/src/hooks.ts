/** Shared React hooks: loading a resource with loading/error state. */
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { describeError } from './api/client';

export interface Resource<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  /** Loads again; `quiet` keeps the current data on screen (no loading state) while it does. */
  reload: (quiet?: boolean) => void;
  setData: (data: T) => void;
}

/**
 * Runs `load` when `key` changes and on `reload()`. Answers that arrive after a newer load
 * started (or after unmount) are dropped, so a slow page never overwrites a fresh one.
 */
export function useResource<T>(load: () => Promise<T>, key: string): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [nonce, setNonce] = useState(0);
  const quietRef = useRef(false);
  const loadRef = useLatest(load);

  useEffect(() => {
    let live = true;
    if (!quietRef.current) setLoading(true);
    quietRef.current = false;
    loadRef.current().then(
      (value) => {
        if (!live) return;
        setData(value);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (!live) return;
        setError(describeError(e));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [key, nonce, loadRef]);

  const reload = useCallback((quiet = false) => {
    quietRef.current = quiet;
    setNonce((n) => n + 1);
  }, []);

  return { data, error, loading, reload, setData };
}

/** A ref that always holds the latest `value`, for callbacks that must not restart effects. */
export function useLatest<T>(value: T) {
  const ref = useRef(value);
  useLayoutEffect(() => {
    ref.current = value;
  });
  return ref;
}

/** Calls `fn` every `ms` while the page is visible and `enabled` holds. */
export function useInterval(fn: () => void, ms: number, enabled = true): void {
  const fnRef = useLatest(fn);
  useEffect(() => {
    if (!enabled) return;
    const id = window.setInterval(() => {
      if (document.visibilityState !== 'hidden') fnRef.current();
    }, ms);
    return () => window.clearInterval(id);
  }, [ms, enabled, fnRef]);
}

/**
 * The trail of cursors behind the current page: `cursor` is what to ask for now, `next()`
 * moves forward with the cursor the server gave, `prev()` steps back.
 */
export function useCursorTrail(resetKey: string) {
  const [state, setState] = useState<{ key: string; trail: (string | undefined)[] }>({ key: resetKey, trail: [undefined] });
  const trail = state.key === resetKey ? state.trail : [undefined];
  const next = useCallback(
    (cursor: string) =>
      setState((old) => ({ key: resetKey, trail: [...(old.key === resetKey ? old.trail : [undefined]), cursor] })),
    [resetKey],
  );
  const prev = useCallback(
    () =>
      setState((old) => {
        const t = old.key === resetKey ? old.trail : [undefined];
        return { key: resetKey, trail: t.length > 1 ? t.slice(0, -1) : t };
      }),
    [resetKey],
  );
  return { cursor: trail[trail.length - 1], page: trail.length, next, prev };
}
