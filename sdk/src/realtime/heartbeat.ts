/**
 * Client side of the heartbeat: a `ping` every interval keeps the gateway from closing us as
 * silent (it does so after 2× the interval), and the `pong`s it provokes prove the other way:
 * when nothing at all arrives for 2× the interval, the socket is dead even if the OS has not
 * noticed (a killed node, a dropped NAT mapping), and only a new connection will help.
 */
export class Heartbeat {
  private pingTimer?: ReturnType<typeof setInterval>;
  private silenceTimer?: ReturnType<typeof setTimeout>;
  private lastReceivedAt = 0;
  private intervalMs = 0;

  constructor(
    private readonly sendPing: () => void,
    private readonly onSilence: (silentForMs: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  start(intervalMs: number): void {
    this.stop();
    this.intervalMs = intervalMs;
    this.lastReceivedAt = this.now();
    this.pingTimer = setInterval(this.sendPing, intervalMs);
    this.armSilenceTimer(2 * intervalMs);
  }

  /** Any frame counts as a sign of life, not only pongs: a busy stream needs no pings answered. */
  received(): void {
    this.lastReceivedAt = this.now();
  }

  stop(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.silenceTimer);
    this.pingTimer = undefined;
    this.silenceTimer = undefined;
  }

  // Re-armed lazily from the last receive time, rather than reset on every frame.
  private armSilenceTimer(delayMs: number): void {
    this.silenceTimer = setTimeout(() => {
      const silentFor = this.now() - this.lastReceivedAt;
      const limit = 2 * this.intervalMs;
      if (silentFor >= limit) {
        this.stop();
        this.onSilence(silentFor);
      } else {
        this.armSilenceTimer(limit - silentFor);
      }
    }, delayMs);
  }
}
