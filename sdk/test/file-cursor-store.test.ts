import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { FileCursorStore } from '../src/index.js';

const dirs: string[] = [];
afterEach(async () => { while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true }); });

async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'sesame-file-cursors-'));
  dirs.push(dir);
  return dir;
}

const onDisk = async (path: string): Promise<unknown> => JSON.parse(await readFile(path, 'utf8'));

describe('FileCursorStore', () => {
  it('needs a path', () => {
    expect(() => new FileCursorStore('')).toThrow(new TypeError('FileCursorStore: pass the path of the cursor file, e.g. ".sesame/cursors.json"'));
  });

  it('starts empty without a file, but passes on other read errors', async () => {
    const dir = await tempDir();
    expect(await new FileCursorStore(join(dir, 'missing.json')).load()).toEqual({});
    await expect(new FileCursorStore(dir).load()).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('names the corrupt file and what deleting it means', async () => {
    const path = join(await tempDir(), 'cursors.json');
    await writeFile(path, '{');
    await expect(new FileCursorStore(path).load()).rejects.toThrow(`FileCursorStore: ${path} is not valid JSON; fix or delete it (deleting means starting live, without the missed events)`);
  });

  it('always ends with the newest cursors on disk, whatever mix of saves and flushes', async () => {
    const dir = await tempDir();
    const op = fc.oneof(fc.record({ save: fc.dictionary(fc.constantFrom('ch_1', 'ch_2', 'inbox:pr_1'), fc.nat()) }), fc.constant({ flush: true as const }));
    let run = 0;
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), fc.constantFrom(0, 1, 5), async (ops, coalesceMs) => {
      const path = join(dir, `run-${run++}`, 'cursors.json');
      const store = new FileCursorStore(path, { coalesceMs });
      const pending: Array<Promise<void>> = [];
      let last: Record<string, number> | undefined;
      for (const o of ops) {
        if ('save' in o) {
          const cursors = { ...o.save };
          pending.push(store.save(cursors));
          cursors.mutated = 1; // save() copies
          last = o.save;
        } else pending.push(store.flush());
      }
      await Promise.all(pending);
      await store.flush();
      if (last) expect(await onDisk(path)).toEqual(last);
      else await expect(readdir(join(dir, `run-${run - 1}`))).rejects.toMatchObject({ code: 'ENOENT' });
      if (last) expect(await readdir(join(dir, `run-${run - 1}`))).toEqual(['cursors.json']);
    }), { numRuns: 25 });
  });

  it('flush() without a pending save resolves, and waits for a write in flight', async () => {
    const path = join(await tempDir(), 'cursors.json');
    const store = new FileCursorStore(path, { coalesceMs: 60_000 });
    await store.flush();
    const saved = store.save({ ch_1: 1 });
    const flushed = store.flush();
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    // The write is in flight now; a second flush has nothing pending and waits for it.
    await store.flush();
    await Promise.all([saved, flushed]);
    expect(await onDisk(path)).toEqual({ ch_1: 1 });
  });

  it('a save arriving during a write goes out after it; at once when flushed', async () => {
    const path = join(await tempDir(), 'cursors.json');
    const store = new FileCursorStore(path, { coalesceMs: 60_000 });
    const first = store.save({ ch_1: 1 });
    const firstFlush = store.flush();
    await new Promise((resolve) => setImmediate(resolve));
    const second = store.save({ ch_1: 2 });
    const secondFlush = store.flush();
    await Promise.all([first, firstFlush, second, secondFlush]);
    expect(await onDisk(path)).toEqual({ ch_1: 2 });
  });

  it('rejects the saves of a failed write and leaves no temporary file', async () => {
    const dir = await tempDir();
    const target = join(dir, 'cursors.json');
    await mkdir(join(target, 'occupied'), { recursive: true }); // rename over a non-empty directory fails
    const store = new FileCursorStore(target, { coalesceMs: 0 });
    const saves = [store.save({ ch_1: 1 }), store.save({ ch_1: 2 })];
    for (const save of saves) await expect(save).rejects.toBeInstanceOf(Error);
    expect(await readdir(dir)).toEqual(['cursors.json']);

    const blocked = join(dir, 'file');
    await writeFile(blocked, '');
    await expect(new FileCursorStore(join(blocked, 'cursors.json'), { coalesceMs: 0 }).save({ ch_1: 1 })).rejects.toMatchObject({ code: 'EEXIST' });
  });

  it('creates the directory once and keeps writing into it', async () => {
    const dir = await tempDir();
    const path = join(dir, 'a', 'b', 'cursors.json');
    const store = new FileCursorStore(path, { coalesceMs: 0 });
    await store.save({ ch_1: 1 });
    await store.save({ ch_1: 2 });
    expect(await onDisk(path)).toEqual({ ch_1: 2 });
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['cursors.json']);
  });
});
