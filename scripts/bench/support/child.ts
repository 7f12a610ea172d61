import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './lifecycle.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface Child {
  child: ChildProcess;
  pid: number;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** IPC request to a `serve()`d child: resolves with its reply. */
  request<T = unknown>(message: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** IPC notifications (messages without a request id). */
  onNotice(handler: (message: Record<string, unknown>) => void): void;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
  ipc?: boolean;
  label: string;
}

const KEEP_OUTPUT = 64 * 1024;

/** Spawns `node [nodeArgs] args…`, registered for cleanup (SIGTERM, then SIGKILL after 5 s). */
export function spawnNode(args: string[], options: SpawnOptions): Child {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => { out = (out + d.toString()).slice(-KEEP_OUTPUT); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const noticeHandlers: Array<(m: Record<string, unknown>) => void> = [];
  child.on('message', (raw) => {
    const message = raw as Record<string, unknown>;
    const id = message.replyTo as number | undefined;
    if (id !== undefined) {
      const waiter = pending.get(id);
      pending.delete(id);
      if (message.error) waiter?.reject(new Error(`${options.label}: ${message.error as string}`));
      else waiter?.resolve(message.result);
    } else {
      for (const handler of noticeHandlers) handler(message);
    }
  });
  child.once('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${options.label} exited (${code ?? signal}): ${out.slice(-2000)}`));
    pending.clear();
  });

  const stop = onCleanup(`stop ${options.label}`, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  });

  return {
    child,
    pid: child.pid!,
    output: () => out,
    waitForOutput(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const check = () => {
          const match = out.match(pattern);
          if (match) { resolve(match); return; }
          if (child.exitCode !== null || child.signalCode !== null) { reject(new Error(`${options.label} exited before printing ${pattern}:\n${out.slice(-4000)}`)); return; }
          if (Date.now() - started > timeoutMs) { reject(new Error(`${options.label}: timed out waiting for ${pattern}:\n${out.slice(-4000)}`)); return; }
          setTimeout(check, 25);
        };
        check();
      });
    },
    request(message, timeoutMs = 300_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { pending.delete(id); reject(new Error(`${options.label}: no reply to ${String(message.cmd)} in ${timeoutMs} ms`)); }, timeoutMs);
        pending.set(id, {
          resolve: (v) => { clearTimeout(timer); resolve(v as never); },
          reject: (e) => { clearTimeout(timer); reject(e); },
        });
        child.send({ ...message, requestId: id });
      });
    },
    onNotice(handler) { noticeHandlers.push(handler); },
    stop,
  };
}

/** Spawns one of this directory's TypeScript entry points (through tsx) with an IPC channel. */
export function spawnBenchProcess(file: string, label: string, env: Record<string, string> = {}, nodeArgs: string[] = []): Child {
  const path = fileURLToPath(new URL(`../${file}`, import.meta.url));
  return spawnNode([path], { label, env, ipc: true, nodeArgs: [...nodeArgs, '--import', 'tsx'] });
}

// ---- the child side --------------------------------------------------------------------

type Handler = (message: Record<string, unknown>) => unknown;

/** In a child: answers `request()`s with `handlers[cmd]`; exits when the parent goes away. */
export function serve(handlers: Partial<Record<string, Handler>>): void {
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0)); // a clean exit: --cpu-prof writes its profile then
  process.on('message', (raw) => {
    const message = raw as Record<string, unknown> & { cmd: string; requestId: number };
    const handler = handlers[message.cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        return handler(message);
      })
      .then(
        (result) => process.send!({ replyTo: message.requestId, result: result ?? null }),
        (err: unknown) => process.send!({ replyTo: message.requestId, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
      );
  });
}

/** In a child: a notification to the parent. */
export function notify(message: Record<string, unknown>): void {
  process.send?.(message);
}
