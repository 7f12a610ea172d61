import * as fs from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Cursors } from '../protocol/index.js';
import { sanitizeCursors, type CursorStore } from './cursor-store.js';

export interface FileCursorStoreOptions {
  /** Saves within this window are coalesced into one write of the newest cursors, in milliseconds. Default `200`. */
  coalesceMs?: number;
}

type Waiter = { resolve: () => void; reject: (err: unknown) => void };

let tempCounter = 0;

/**
 * Keeps cursors in a JSON file (Node only), so a restarted process resumes where it stopped.
 *
 * A write goes to a temporary file that is fsynced and renamed over the target: a crash leaves
 * either the old or the new cursors, never a torn file. Saves are coalesced (at most one write
 * per `coalesceMs`, always of the newest cursors), so events delivered in the last window before
 * a crash are delivered again after the restart; `flush()` (called by `disconnect()`) writes now.
 * Only the Node build exports it; the browser build's `FileCursorStore` says what to use instead.
 */
export class FileCursorStore implements CursorStore {
  private readonly coalesceMs: number;
  private pending?: Cursors;
  private waiters: Waiter[] = [];
  private timer?: ReturnType<typeof setTimeout>;
  private writing?: Promise<void>;
  // Stryker disable next-line BooleanLiteral: writePending() resets it before scheduleLeftovers(), its only reader, can run
  private urgent = false;
  private directoryReady = false;

  constructor(readonly path: string, options: FileCursorStoreOptions = {}) {
    if (!path) throw new TypeError('FileCursorStore: pass the path of the cursor file, e.g. ".sesame/cursors.json"');
    this.coalesceMs = options.coalesceMs ?? 200;
  }

  async load(): Promise<Cursors> {
    let text: string;
    try {
      // Stryker disable next-line StringLiteral: without an encoding readFile returns a Buffer, which JSON.parse reads as the same UTF-8 text
      text = await fs.readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return {};
      throw err;
    }
    try {
      return sanitizeCursors(JSON.parse(text));
    } catch {
      // Refuse rather than start from scratch: an empty cursor map silently skips history.
      throw new Error(`FileCursorStore: ${this.path} is not valid JSON; fix or delete it (deleting means starting live, without the missed events)`);
    }
  }

  /** Resolves once these cursors, or newer ones, are on disk. */
  save(cursors: Cursors): Promise<void> {
    this.pending = { ...cursors };
    const written = this.nextWrite();
    this.schedule(this.coalesceMs);
    return written;
  }

  /** Writes pending cursors now instead of at the end of the coalescing window. */
  flush(): Promise<void> {
    if (!this.pending) return this.writing ?? Promise.resolve();
    const written = this.nextWrite();
    this.urgent = true;
    this.schedule(0);
    return written;
  }

  private nextWrite(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private schedule(delayMs: number): void {
    // One write at a time, or an older file could be renamed over a newer one; the running
    // write schedules the next when it ends.
    if (this.writing) return;
    if (this.timer) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => void this.writePending(), delayMs);
  }

  private async writePending(): Promise<void> {
    this.timer = undefined;
    const cursors = this.pending;
    const waiters = this.waiters;
    this.pending = undefined;
    this.waiters = [];
    this.urgent = false;
    // Stryker disable next-line ConditionalExpression: unreachable, every timer is set with cursors pending and only this method clears them
    if (!cursors) return;
    this.writing = this.writeAtomically(cursors);
    try {
      await this.writing;
      for (const waiter of waiters) waiter.resolve();
    } catch (err) {
      for (const waiter of waiters) waiter.reject(err);
    } finally {
      this.writing = undefined;
      this.scheduleLeftovers();
    }
  }

  /** Saves that arrived while a write was in flight go out next (at once if one was urgent). */
  private scheduleLeftovers(): void {
    if (this.pending) this.schedule(this.urgent ? 0 : this.coalesceMs);
  }

  private async writeAtomically(cursors: Cursors): Promise<void> {
    if (!this.directoryReady) {
      await fs.mkdir(dirname(this.path), { recursive: true });
      this.directoryReady = true;
    }
    // Stryker disable next-line UpdateOperator: counting down names temporary files just as uniquely
    const temp = `${this.path}.${process.pid}.${++tempCounter}.tmp`;
    try {
      const file = await fs.open(temp, 'w');
      try {
        await file.writeFile(JSON.stringify(cursors));
        await file.sync();
      } finally {
        await file.close();
      }
      await fs.rename(temp, this.path);
    } catch (err) {
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: best-effort cleanup; without force a missing temp file only rejects into the catch
      await fs.rm(temp, { force: true }).catch(() => {});
      throw err;
    }
  }
}
