import WebSocket from 'ws';

export interface Frame { type: string; [key: string]: any }

/** A raw protocol client for gateway tests: records every frame, waits for the ones asked for. */
export class TestSocket {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly waiters = new Set<() => void>();
  readonly opened: Promise<void>;

  constructor(readonly ws: WebSocket) {
    this.opened = new Promise((resolve, reject) => { ws.once('open', () => { resolve(); }); ws.once('error', reject); });
    ws.on('message', (data) => { this.frames.push(JSON.parse((data as Buffer).toString())); this.wake(); });
    ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; this.wake(); });
    ws.on('error', () => {});
  }

  static async open(url: string): Promise<TestSocket> {
    const socket = new TestSocket(new WebSocket(`${url}/v1/connect`));
    await socket.opened;
    return socket;
  }

  /** Opens and authenticates; resolves with the `authenticated` frame. */
  static async auth(url: string, auth: Record<string, unknown>): Promise<{ socket: TestSocket; authenticated: Frame }> {
    const socket = await TestSocket.open(url);
    socket.send({ type: 'auth', ...auth });
    const authenticated = await socket.waitFor((f) => f.type === 'authenticated' || f.type === 'error');
    if (authenticated.type !== 'authenticated') throw new Error(`auth failed: ${JSON.stringify(authenticated)}`);
    return { socket, authenticated };
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  private wake() {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** The first recorded frame matching `predicate` (waiting for it), up to `timeoutMs`. */
  waitFor(predicate: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.frames.find(predicate);
        if (found) { cleanup(); resolve(found); return true; }
        if (this.closed) { cleanup(); reject(new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before the frame arrived`)); return true; }
        return false;
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out; frames: ${JSON.stringify(this.frames.map((f) => f.type))}`)); }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); this.waiters.delete(waiter); };
      const waiter = () => { check(); };
      if (!check()) this.waiters.add(waiter);
    });
  }

  /** Waits until `count` frames match `predicate`; returns them in arrival order. */
  async waitForCount(predicate: (f: Frame) => boolean, count: number, timeoutMs = 15_000): Promise<Frame[]> {
    const started = Date.now();
    for (;;) {
      const matching = this.frames.filter(predicate);
      if (matching.length >= count) return matching;
      if (this.closed) throw new Error(`socket closed (${this.closed.code}) with ${matching.length}/${count} frames`);
      if (Date.now() - started > timeoutMs) throw new Error(`timed out with ${matching.length}/${count} frames`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  waitForClose(timeoutMs = 15_000): Promise<{ code: number; reason: string }> {
    return new Promise((resolve, reject) => {
      if (this.closed) { resolve(this.closed); return; }
      const timer = setTimeout(() => { reject(new Error('socket did not close')); }, timeoutMs);
      this.ws.once('close', (code, reason) => { clearTimeout(timer); resolve({ code, reason: reason.toString() }); });
    });
  }

  events(stream?: string): Frame[] {
    return this.frames.filter((f) => typeof f.seq === 'number' && typeof f.stream === 'string' && (!stream || f.stream === stream));
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }
}
