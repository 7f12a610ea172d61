import type { SesameClient, SesameClientEvents } from '@sesamespace/sdk';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from './problem.js';

/** Subscribes to one client event for the component's lifetime; the latest handler is always the one called. */
export function useClientEvent<K extends keyof SesameClientEvents>(client: SesameClient, name: K, handler: (...args: SesameClientEvents[K]) => void): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const listener = (...args: SesameClientEvents[K]) => { latest.current(...args); };
    client.on(name, listener);
    return () => { client.off(name, listener); };
  }, [client, name]);
}

export interface Loaded<T> { data: T | undefined; error: string | undefined; loading: boolean; reload: () => void }

/** Runs a request when its dependencies change; errors become readable text. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => { if (live) setState({ data, error: undefined, loading: false }); },
      (error: unknown) => { if (live) setState({ data: undefined, error: describeError(error), loading: false }); },
    );
    return () => { live = false; };
  }, [...deps, generation]);
  return { ...state, reload: () => { setGeneration((g) => g + 1); } };
}
