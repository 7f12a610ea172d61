import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileCursorStore } from '../src/index.js';

/** Holds renames (the last step of a write) until released, and counts fs calls. */
const fsGate = vi.hoisted(() => ({ hold: undefined as Promise<void> | undefined, renames: 0, mkdirs: 0, opens: 0, closes: 0 }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    mkdir: (...args: Parameters<typeof actual.mkdir>) => { fsGate.mkdirs++; return actual.mkdir(...args); },
    open: async (...args: Parameters<typeof actual.open>) => {
      const handle = await actual.open(...args);
      fsGate.opens++;
      const close = handle.close.bind(handle);
      handle.close = () => { fsGate.closes++; return close(); };
      return handle;
    },
    rename: async (...args: Parameters<typeof actual.rename>) => {
      fsGate.renames++;
      if (fsGate.hold) await fsGate.hold;
      return actual.rename(...args);
    },
  };
});

let dir = '';
let release: () => void = () => {};
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sesame-gated-cursors-'));
  fsGate.renames = 0;
  fsGate.mkdirs = 0;
  fsGate.opens = 0;
  fsGate.closes = 0;
  fsGate.hold = new Promise<void>((resolve) => { release = resolve; });
});
afterEach(async () => {
  release();
  fsGate.hold = undefined;
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

const onDisk = async (path: string): Promise<unknown> => JSON.parse(await readFile(path, 'utf8'));
const writeInFlight = (n: number) => vi.waitFor(() => { expect(fsGate.renames).toBe(n); });

describe('FileCursorStore writes one file at a time', () => {
  it('a save during a write goes out after it, at once when flushed', async () => {
    const path = join(dir, 'cursors.json');
    const store = new FileCursorStore(path, { coalesceMs: 60_000 });
    const first = store.save({ ch_1: 1 });
    void store.flush();
    await writeInFlight(1);
    const second = store.save({ ch_1: 2 });
    const flushed = store.flush();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fsGate.renames).toBe(1); // no second write while the first is in flight
    release();
    await first;
    await Promise.all([second, flushed]);
    expect(fsGate.renames).toBe(2);
    expect(await onDisk(path)).toEqual({ ch_1: 2 });
  });

  it('a save during a write that nobody flushes waits for its own coalescing window', async () => {
    const path = join(dir, 'cursors.json');
    const store = new FileCursorStore(path, { coalesceMs: 60_000 });
    const first = store.save({ ch_1: 1 });
    void store.flush();
    await writeInFlight(1);
    const second = store.save({ ch_1: 2 });
    release();
    await first;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fsGate.renames).toBe(1);
    expect(await onDisk(path)).toEqual({ ch_1: 1 });
    await store.flush();
    await second;
    expect(await onDisk(path)).toEqual({ ch_1: 2 });
  });

  it('flush() with nothing pending waits for the write in flight', async () => {
    const path = join(dir, 'cursors.json');
    const store = new FileCursorStore(path, { coalesceMs: 60_000 });
    void store.save({ ch_1: 1 });
    void store.flush();
    await writeInFlight(1);
    let flushed = false;
    const flushing = store.flush().then(() => { flushed = true; });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(flushed).toBe(false);
    release();
    await flushing;
    expect(await onDisk(path)).toEqual({ ch_1: 1 });
  });

  it('creates the directory before the first write only', async () => {
    release();
    const store = new FileCursorStore(join(dir, 'a', 'cursors.json'), { coalesceMs: 0 });
    await store.save({ ch_1: 1 });
    await store.save({ ch_1: 2 });
    expect(fsGate.mkdirs).toBe(1);
    expect(fsGate.opens).toBe(2);
    expect(fsGate.closes).toBe(2); // every temporary file's handle is closed
    expect(await onDisk(join(dir, 'a', 'cursors.json'))).toEqual({ ch_1: 2 });
  });
});

describe('FileCursorStore coalesces saves', () => {
  it('writes at most once per window (200 ms by default), counted from the first save, of the newest cursors', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    release();
    const store = new FileCursorStore(join(dir, 'cursors.json'));
    const saves = [store.save({ ch_1: 1 })];
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    saves.push(store.save({ ch_1: 2 }));
    expect(vi.getTimerCount()).toBe(1); // the second save joins the first window
    vi.advanceTimersByTime(99);
    expect(fsGate.renames).toBe(0);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(vi.getTimerCount()).toBe(0); // not pushed back by the second save
    await Promise.all(saves);
    expect(vi.getTimerCount()).toBe(0); // nothing left over to schedule
    expect(fsGate.renames).toBe(1);
    expect(await onDisk(join(dir, 'cursors.json'))).toEqual({ ch_1: 2 });
  });

  it('flush() replaces the pending window by an immediate write', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    release();
    const store = new FileCursorStore(join(dir, 'cursors.json'), { coalesceMs: 60_000 });
    const saved = store.save({ ch_1: 1 });
    const flushed = store.flush();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
    await Promise.all([saved, flushed]);
    expect(await onDisk(join(dir, 'cursors.json'))).toEqual({ ch_1: 1 });
  });
});
