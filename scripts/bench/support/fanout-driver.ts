/**
 * Drives one system under test for the fan-out bench: its subscriber processes and its sender,
 * with a closed loop (a window of messages in flight) or a fixed sending rate.
 */
import { spawnBenchProcess, type Child } from './child.js';
import type { SystemKind } from './clients.js';
import { sleep } from './lifecycle.js';
import type { SentMessage } from './sesame.js';
import { Histogram, nowNs, type HistogramData } from './stats.js';

export interface Sender {
  /** Sends one message; Sesame's resolves with the persisted message. */
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- fire-and-forget senders (ws, Socket.IO) return nothing
  send(content: string): Promise<SentMessage | void> | void;
  close(): void;
}

/** `url` as a list: subscriber process p connects to `url[p % url.length]` (e.g. one gateway each). */
export interface SubscriberSpec { kind: SystemKind; url: string | string[]; keys?: string[] }

export interface SubscriberReport {
  connected: number;
  unexpectedCloses: number;
  frameBytes: number;
  /** Time the subscriber spent decoding frames (Sesame: `JSON.parse` of each; ws: `toString`), and how many. */
  decoding: { frames: number; ms: number };
  otherFrames: Partial<Record<string, number>>;
  phases: Partial<Record<string, { hist: HistogramData; delivered: number; firstRecvNs: string; lastRecvNs: string }>>;
  /** Sesame only: each connection's view of the channel stream. */
  tracks: Array<{ first: number; last: number; received: number; duplicates: number; gaps: number }>;
  /** BENCH_HOPS only: [message index, when it reached this process's first connection (monotonic ns)]. */
  firstRecvNs?: Array<[number, string]>;
  /** BENCH_HOPS only: [message index, when it had reached every connection of this process (monotonic ns)]. */
  lastRecvNs?: Array<[number, string]>;
}

export interface PhaseRange { first: number; sent: number }

export interface PhaseResult {
  sent: number;
  delivered: number;
  expected: number;
  seconds: number;
  deliveriesPerSecond: number;
  hist: Histogram;
}

const STALL_MS = 20_000;

/** The BENCH_TRACE preload (GCs and event-loop stalls of a process under measurement). */
export const traceUrl = new URL('./trace-preload.mjs', import.meta.url).href;

export class FanoutDriver {
  private readonly procs: Child[] = [];
  private readonly doneBy = new Uint8Array(1 << 20);
  private readonly sendNs: bigint[] = [];
  /** When each message had reached every subscriber (as this process heard it). */
  private readonly doneNs: bigint[] = [];
  private onDelivered: (() => void) | undefined;
  private lastProgress = Date.now();
  private nextIndex = 0;
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- what send() resolves with, as above
  readonly sent: Array<Promise<SentMessage | void>> = [];
  sendErrors = 0;
  firstSendError: unknown;

  constructor(
    readonly label: string,
    private readonly sender: Sender,
    private readonly subscribers: number,
    private readonly processes: number,
    private readonly contentBytes: number,
  ) {}

  get subscriberPids(): number[] {
    return this.procs.map((proc) => proc.pid);
  }

  /** Seconds it took to open (and for Sesame authenticate) every subscriber connection. */
  connectSeconds = 0;

  async connect(spec: SubscriberSpec): Promise<void> {
    const started = performance.now();
    const perProc = this.subscribers / this.processes;
    for (let p = 0; p < this.processes; p++) {
      // BENCH_SUBSCRIBER_PROF=<dir>: V8 CPU profiles of the subscriber processes (the clients' share of the latency).
      const prof = process.env.BENCH_SUBSCRIBER_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_SUBSCRIBER_PROF}/${this.label.replace(/\W+/g, '-')}`] : [];
      // BENCH_TRACE=<dir>: the subscriber processes record their GCs and event-loop stalls (trace-preload.mjs).
      const trace = process.env.BENCH_TRACE ? ['--import', traceUrl] : [];
      const env = { ...(process.env.BENCH_HOPS ? { BENCH_HOPS: '1' } : {}), ...(process.env.BENCH_TRACE ? { BENCH_TRACE_DIR: process.env.BENCH_TRACE } : {}) };
      const proc = spawnBenchProcess('support/subscriber-process.ts', `${this.label} subscribers ${p + 1}`, env, [...prof, ...trace]);
      proc.onNotice((m) => {
        if (m.ev !== 'done') return;
        if (++this.doneBy[m.index as number] === this.processes) {
          this.doneNs[m.index as number] = nowNs();
          this.lastProgress = Date.now();
          this.onDelivered?.();
        }
      });
      this.procs.push(proc);
    }
    await Promise.all(this.procs.map((proc, p) => proc.request({
      cmd: 'connect', kind: spec.kind, url: Array.isArray(spec.url) ? spec.url[p % spec.url.length] : spec.url, count: perProc, concurrency: 25,
      keys: spec.keys?.slice(p * perProc, (p + 1) * perProc),
    })));
    this.connectSeconds = (performance.now() - started) / 1000;
  }

  private sendOne(phase: string): number {
    const index = this.nextIndex++;
    const content = `b:${phase}:${index}:${nowNs()}:`.padEnd(this.contentBytes, 'x');
    this.sendNs[index] = nowNs();
    const result = Promise.resolve()
      .then(() => this.sender.send(content))
      .catch((err: unknown) => { this.sendErrors++; this.firstSendError ??= err; });
    this.sent.push(result);
    return index;
  }

  /** Keeps `window` messages in flight (sent, not yet at every subscriber) for `seconds` or `count` messages. */
  closedLoop(phase: string, window: number, limit: { seconds?: number; count?: number }): Promise<PhaseRange> {
    const first = this.nextIndex;
    const deadline = limit.seconds ? Date.now() + limit.seconds * 1000 : Infinity;
    let inFlight = 0;
    let sent = 0;
    return new Promise((resolve, reject) => {
      const more = () => Date.now() < deadline && (limit.count === undefined || sent < limit.count);
      const pump = () => {
        while (inFlight < window && more()) { this.sendOne(phase); inFlight++; sent++; }
        if (inFlight === 0 && !more()) finish(null);
      };
      const stall = setInterval(() => {
        if (Date.now() - this.lastProgress > STALL_MS) finish(new Error(`${this.label} ${phase}: no message reached every subscriber for ${STALL_MS} ms (${inFlight} in flight)`));
      }, 1000);
      const finish = (err: Error | null) => {
        clearInterval(stall);
        this.onDelivered = undefined;
        if (err) reject(err); else resolve({ first, sent });
      };
      this.onDelivered = () => { inFlight--; pump(); };
      this.lastProgress = Date.now();
      pump();
    });
  }

  /** Sends `rate` messages per second for `seconds`, on schedule whatever the deliveries do, then waits for them all. */
  async fixedRate(phase: string, rate: number, seconds: number): Promise<PhaseRange> {
    const first = this.nextIndex;
    const total = rate * seconds;
    const start = Date.now();
    for (let k = 0; k < total; k++) {
      const wait = start + (k * 1000) / rate - Date.now();
      if (wait > 0) await sleep(wait);
      this.sendOne(phase);
    }
    this.lastProgress = Date.now();
    for (;;) {
      let pending = 0;
      for (let i = first; i < first + total; i++) if (this.doneBy[i] < this.processes) pending++;
      if (pending === 0) return { first, sent: total };
      if (Date.now() - this.lastProgress > STALL_MS) throw new Error(`${this.label} ${phase}: ${pending} of ${total} messages did not reach every subscriber within ${STALL_MS} ms`);
      await sleep(20);
    }
  }

  /** When message `index` was sent (monotonic ns). */
  sentAt(index: number): bigint | undefined {
    return this.sendNs[index];
  }

  /** When message `index` had reached every subscriber (monotonic ns), if it has. */
  doneAt(index: number): bigint | undefined {
    return this.doneNs[index];
  }

  report(): Promise<SubscriberReport[]> {
    return Promise.all(this.procs.map((proc) => proc.request<SubscriberReport>({ cmd: 'report' })));
  }

  /** Deliveries/s of a phase = its deliveries ÷ (last receive − first send). */
  phaseResult(reports: SubscriberReport[], phase: string, range: PhaseRange): PhaseResult {
    const hist = new Histogram();
    let delivered = 0;
    let lastRecv = 0n;
    for (const report of reports) {
      const stats = report.phases[phase];
      if (!stats) continue;
      hist.merge(stats.hist);
      delivered += stats.delivered;
      if (BigInt(stats.lastRecvNs) > lastRecv) lastRecv = BigInt(stats.lastRecvNs);
    }
    const seconds = Number(lastRecv - this.sendNs[range.first]) / 1e9;
    return { sent: range.sent, delivered, expected: range.sent * this.subscribers, seconds, deliveriesPerSecond: delivered / seconds, hist };
  }

  async close(): Promise<void> {
    await Promise.all(this.procs.map((proc) => proc.request({ cmd: 'close' }, 10_000).catch(() => {})));
    await Promise.all(this.procs.map((proc) => proc.stop()));
    this.sender.close();
  }
}
