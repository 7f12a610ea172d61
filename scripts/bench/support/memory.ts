/**
 * Memory of a server process from outside: VmRSS from /proc, and the V8 heap through the
 * inspector protocol (start the process with `--inspect=127.0.0.1:0`), which can also force a
 * full garbage collection without changing the server's code.
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import type { Child } from './child.js';
import { sleep } from './lifecycle.js';

export const INSPECT_FLAG = '--inspect=127.0.0.1:0';

function vmRssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

export class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, (result: { result?: unknown; error?: unknown }) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse((data as Buffer).toString()) as { id?: number; result?: unknown; error?: unknown };
      if (message.id !== undefined) this.pending.get(message.id)?.(message);
    });
  }

  /** Attaches to a child started with `INSPECT_FLAG` (it prints its inspector URL). */
  static async attach(child: Child): Promise<Inspector> {
    const url = (await child.waitForOutput(/Debugger listening on (ws:\/\/\S+)/))[1];
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve(); }); ws.once('error', reject); });
    return new Inspector(ws);
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (message) => {
        this.pending.delete(id);
        if (message.error) reject(new Error(`${method}: ${JSON.stringify(message.error)}`));
        else resolve(message.result as T);
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async collectGarbage(): Promise<void> {
    await this.call('HeapProfiler.collectGarbage');
  }

  async memoryUsage(): Promise<NodeJS.MemoryUsage> {
    const { result } = await this.call<{ result: { value: string } }>('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    return JSON.parse(result.value) as NodeJS.MemoryUsage;
  }

  close(): void {
    this.ws.terminate();
  }
}

export interface MemorySample { rss: number; heapUsed: number; external: number }

/** Settles, forces two full GCs, then reads RSS and the heap. */
export async function sampleMemory(pid: number, inspector: Inspector, settleMs: number): Promise<MemorySample> {
  await sleep(settleMs);
  await inspector.collectGarbage();
  await inspector.collectGarbage();
  await sleep(500);
  const usage = await inspector.memoryUsage();
  return { rss: vmRssBytes(pid), heapUsed: usage.heapUsed, external: usage.external };
}
