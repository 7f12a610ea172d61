import type { Cursors } from '../protocol/index.js';

/**
 * Where the client keeps its cursors (last delivered `seq` per stream) between runs, so a
 * restarted process resumes where it stopped instead of starting live from the current heads.
 */
export interface CursorStore {
  load(): Promise<Cursors>;
  /** Called often (after every delivered batch); implementations may coalesce writes. */
  save(cursors: Cursors): Promise<void>;
  /** Writes what coalesced saves still hold; `disconnect()` calls it when present. */
  flush?(): Promise<void>;
}

/** Keeps cursors in memory: resume works across reconnects, not across process restarts. */
export class MemoryCursorStore implements CursorStore {
  private cursors: Cursors;

  constructor(initial: Cursors = {}) {
    this.cursors = { ...initial };
  }

  async load(): Promise<Cursors> {
    return { ...this.cursors };
  }

  async save(cursors: Cursors): Promise<void> {
    this.cursors = { ...cursors };
  }
}

/** Keeps only well-formed entries, so a hand-edited or foreign file cannot poison the resume. */
export function sanitizeCursors(value: unknown): Cursors {
  const cursors: Cursors = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return cursors;
  for (const [stream, seq] of Object.entries(value)) {
    if (Number.isSafeInteger(seq) && (seq as number) >= 0) cursors[stream] = seq as number;
  }
  return cursors;
}
