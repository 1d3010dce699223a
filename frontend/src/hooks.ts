/** Shared React hooks. Server state lives in TanStack Query (`api/queries.ts`), not here. */
import { useLayoutEffect, useRef } from 'react';

/** A ref that always holds the latest `value`, for callbacks that must not restart effects. */
export function useLatest<T>(value: T) {
  const ref = useRef(value);
  useLayoutEffect(() => {
    ref.current = value;
  });
  return ref;
}
