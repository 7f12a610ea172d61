import { EventEmitter } from 'eventemitter3';
import type { EventFrame } from '../protocol/index.js';
import type { AnyEventHandler, RealtimeEvent, SesameClientEvents } from './event-map.js';

type Names = EventEmitter.EventNames<SesameClientEvents>;
type Listener<T extends Names> = EventEmitter.EventListener<SesameClientEvents, T>;
type AnyFunction = (...args: unknown[]) => unknown;
type OnceWrapper = AnyFunction & { listener?: unknown };

// Lifecycle event names; a durable event type that collides with one is only seen by onAny.
const LIFECYCLE = new Set<string>(['connected', 'disconnected', 'reconnecting', 'resync', 'error']);

/**
 * EventEmitter3, typed by `SesameClientEvents`, with listeners isolated from each other: one that
 * throws (or returns a rejected promise) is reported as an `error` event instead of skipping the
 * listeners after it or unwinding into the connection that delivered the event.
 */
export class GuardedEmitter extends EventEmitter<SesameClientEvents> {
  private readonly anyHandlers = new Set<AnyEventHandler>();

  /** `handler(event)` for every wire event — durable and ephemeral — with `event.type`. */
  onAny(handler: AnyEventHandler): this {
    this.anyHandlers.add(handler);
    return this;
  }

  offAny(handler: AnyEventHandler): this {
    this.anyHandlers.delete(handler);
    return this;
  }

  override emit<T extends Names>(event: T, ...args: EventEmitter.EventArgs<SesameClientEvents, T>): boolean {
    const listeners = this.listeners(event) as unknown as AnyFunction[];
    for (const listener of listeners) this.invoke(listener, args, event);
    return listeners.length > 0;
  }

  // EventEmitter3 runs once-listeners inside its own emit; ours wraps them instead, like Node's.
  override once<T extends Names>(event: T, fn: Listener<T>, context?: unknown): this {
    const wrapper: OnceWrapper = (...args) => {
      this.off(event, wrapper);
      return (fn as unknown as AnyFunction).apply(context ?? this, args);
    };
    wrapper.listener = fn;
    return this.on(event, wrapper);
  }

  override off<T extends Names>(event: T, fn?: Listener<T>, context?: unknown, once?: boolean): this {
    super.off(event, fn, context, once);
    if (fn) {
      for (const listener of this.listeners(event) as unknown as OnceWrapper[]) {
        if (listener.listener === fn) super.off(event, listener);
      }
    }
    return this;
  }

  override removeListener<T extends Names>(event: T, fn?: Listener<T>, context?: unknown, once?: boolean): this {
    return this.off(event, fn, context, once);
  }

  /** Hands a wire event to the listeners of its type, then to `onAny` handlers. */
  protected dispatch(event: RealtimeEvent | EventFrame): void {
    if (!LIFECYCLE.has(event.type)) this.emit(event.type as Names, event as never);
    for (const handler of [...this.anyHandlers]) this.invoke(handler as AnyFunction, [event], '*');
  }

  private invoke(listener: AnyFunction, args: unknown[], event: string): void {
    try {
      const result = listener.apply(this, args);
      if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, (err: unknown) => { this.listenerFailed(err, event); });
      }
    } catch (err) {
      this.listenerFailed(err, event);
    }
  }

  private listenerFailed(err: unknown, event: string): void {
    // A failing `error` listener has nowhere left to report to.
    if (event === 'error') return;
    this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }
}
