import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileCursorStore, MemoryCursorStore } from '../src/index.js';
import { event, realtimeSetup, waitFor } from './realtime-harness.js';

const dirs: string[] = [];
afterEach(async () => { while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true }); });

async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'sesame-cursors-'));
  dirs.push(dir);
  return dir;
}

describe('MemoryCursorStore', () => {
  it('returns copies, so callers cannot change what it holds', async () => {
    const store = new MemoryCursorStore({ a: 1 });
    const loaded = await store.load();
    loaded.a = 99;
    expect(await store.load()).toEqual({ a: 1 });
  });
});

describe('FileCursorStore', () => {
  it('round-trips cursors through an atomically replaced file, coalescing saves', async () => {
    const dir = await tempDir();
    const path = join(dir, 'nested', 'cursors.json');
    const store = new FileCursorStore(path, { coalesceMs: 5 });
    expect(await store.load()).toEqual({});
    const saves = Array.from({ length: 20 }, (_, i) => store.save({ ch_1: i, 'inbox:pr_1': 3 }));
    await Promise.all(saves);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ ch_1: 19, 'inbox:pr_1': 3 });
    expect(await new FileCursorStore(path).load()).toEqual({ ch_1: 19, 'inbox:pr_1': 3 });
    expect(await readdir(join(dir, 'nested'))).toEqual(['cursors.json']); // no temp files left
  });

  it('flush() writes a pending save at once', async () => {
    const path = join(await tempDir(), 'cursors.json');
    const store = new FileCursorStore(path, { coalesceMs: 60_000 });
    const saved = store.save({ ch_1: 7 });
    await store.flush();
    await saved;
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ ch_1: 7 });
  });

  it('refuses a corrupt file instead of silently starting from scratch, and drops malformed entries', async () => {
    const path = join(await tempDir(), 'cursors.json');
    await writeFile(path, '{"ch_1": 4, "ch_2": "x", "ch_3": -1');
    await expect(new FileCursorStore(path).load()).rejects.toThrow(/not valid JSON/);
    await writeFile(path, '{"ch_1": 4, "ch_2": "x", "ch_3": -1}');
    expect(await new FileCursorStore(path).load()).toEqual({ ch_1: 4 });
  });

  it('lets a restarted client resume where the previous one stopped', async () => {
    const path = join(await tempDir(), 'cursors.json');
    const first = await realtimeSetup({ cursorStore: new FileCursorStore(path) });
    first.gateway.heads = { ch_1: 1 };
    const connecting = first.client.connect();
    const conn = await first.gateway.nextConnection();
    conn.authenticate();
    await connecting;
    conn.sendEvents(event('ch_1', 2));
    await waitFor(() => first.seqs('ch_1').length === 1, 'event 2');
    await first.cleanup();

    const second = await realtimeSetup({ cursorStore: new FileCursorStore(path) });
    const reconnecting = second.client.connect();
    const resumed = await second.gateway.nextConnection();
    expect(resumed.auth.cursors).toEqual({ ch_1: 2 });
    resumed.authenticate();
    await reconnecting;
    await second.cleanup();
  });
});
