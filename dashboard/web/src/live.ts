// Keeping a view current: the dashboard polls the API (every listing is cheap, and polling
// works through every proxy), and stops while the tab is hidden.

import { useEffect, useState } from "preact/hooks";

/**
 * `load` now and every `everyMs` while the page is visible; `error` is the last failure (null
 * once a load succeeds again), `set` replaces the value (with a write's answer).
 */
export function usePolled<T>(load: () => Promise<T>, everyMs: number, deps: unknown[] = []) {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (document.visibilityState !== "hidden") {
        try {
          const loaded = await load();
          if (!stopped) {
            setValue(loaded);
            setError(null);
          }
        } catch (failure) {
          if (!stopped) setError(failure);
        }
      }
      if (!stopped) timer = setTimeout(run, everyMs);
    };
    run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);
  return { value, error, set: setValue };
}

/** What went wrong, for a person. */
export function describe(failure: unknown): string {
  return failure instanceof Error ? failure.message : String(failure);
}
