import { readdirSync, readFileSync } from 'node:fs';

/**
 * Latency histogram with log-spaced buckets (1% wide) over microseconds: constant memory
 * however many samples, and mergeable across processes. Percentiles are exact to within 1%.
 */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);

export interface HistogramData {
  buckets: Record<number, number>;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export class Histogram {
  private buckets = new Map<number, number>();
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  /** Adds a sample in microseconds. */
  add(us: number): void {
    const v = Math.max(us, 1);
    const index = Math.ceil(Math.log(v) / LOG_GROWTH);
    this.buckets.set(index, (this.buckets.get(index) ?? 0) + 1);
    this.count++;
    this.sum += us;
    if (us < this.min) this.min = us;
    if (us > this.max) this.max = us;
  }

  merge(data: HistogramData): this {
    for (const [index, n] of Object.entries(data.buckets)) this.buckets.set(Number(index), (this.buckets.get(Number(index)) ?? 0) + n);
    this.count += data.count;
    this.sum += data.sum;
    this.min = Math.min(this.min, data.min);
    this.max = Math.max(this.max, data.max);
    return this;
  }

  /** The `p`-th percentile (0–100) in microseconds (upper edge of its bucket, capped by max). */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (const index of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(index)!;
      if (seen >= rank) return Math.min(GROWTH ** index, this.max);
    }
    return this.max;
  }

  toJSON(): HistogramData {
    return { buckets: Object.fromEntries(this.buckets), count: this.count, sum: this.sum, min: this.min, max: this.max };
  }
}

/** Microseconds as milliseconds with sensible precision. */
export function ms(us: number): string {
  if (!Number.isFinite(us)) return 'n/a';
  const v = us / 1000;
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** 12345.6 → "12,346". */
export function int(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The monotonic clock (CLOCK_MONOTONIC on Linux: the same clock in every process of the machine). */
export const nowNs = (): bigint => process.hrtime.bigint();

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
const CLOCK_TICKS = 100;

/** `pid` and all its descendants (from /proc), e.g. a PostgreSQL postmaster and its backends. */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!parents.has(ppid)) parents.set(ppid, []);
      parents.get(ppid)!.push(Number(entry));
    } catch { /* gone */ }
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(parents.get(all[i]) ?? []));
  return all;
}

/** CPU seconds the whole machine has been busy (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …: busy = all but idle and iowait.
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}

/**
 * CPU used by groups of processes between `start()` and `stop()`, plus `others`: what every
 * other process on the machine used meanwhile (noisy neighbours). Groups are re-resolved at
 * each reading (PostgreSQL backends come and go): a process that appeared counts from zero, one
 * that exited meanwhile is not counted.
 */
export class CpuMeter {
  private before = new Map<string, Map<number, number>>();
  private machineBefore = 0;
  private startedAt = 0;

  constructor(private readonly groups: Record<string, () => number[]>) {}

  private read(): Map<string, Map<number, number>> {
    return new Map(Object.entries(this.groups).map(([label, pids]) => [label, new Map(pids().map((pid) => [pid, cpuSeconds(pid)]))]));
  }

  start(): void {
    this.before = this.read();
    this.machineBefore = machineBusySeconds();
    this.startedAt = performance.now();
  }

  /** Label → CPU seconds used since `start()`, and `others`. */
  stopSeconds(): Record<string, number> {
    const after = this.read();
    const machine = machineBusySeconds() - this.machineBefore;
    const usage: Record<string, number> = {};
    for (const [label, pids] of after) {
      let sum = 0;
      for (const [pid, cpu] of pids) if (Number.isFinite(cpu)) sum += cpu - (this.before.get(label)?.get(pid) ?? 0);
      usage[label] = sum;
    }
    const ours = Object.values(usage).reduce((a, b) => a + b, 0);
    return { ...usage, others: Math.max(0, machine - ours) };
  }

  /** Label → cores used on average (1.0 = one core fully busy), and `others`. */
  stop(): Record<string, number> {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return Object.fromEntries(Object.entries(this.stopSeconds()).map(([label, cpu]) => [label, cpu / seconds]));
  }
}

export function formatCpu(usage: Record<string, number>): string {
  return Object.entries(usage).map(([label, cores]) => `${label} ${(cores * 100).toFixed(0)}%`).join(', ');
}
