/** Time is injected so expiry is testable and every transition is timestamped consistently. */
export interface Clock { now(): Date }

export const systemClock: Clock = { now: () => new Date() };

/** A clock that moves only when told. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start: Date | number = Date.UTC(2026, 0, 1)) { this.current = Number(start); }
  now(): Date { return new Date(this.current); }
  advance(ms: number): void { this.current += ms; }
  set(at: Date | number): void { this.current = Number(at); }
}
