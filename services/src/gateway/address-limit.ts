import type { Socket } from 'node:net';
import { SesameError } from '../shared/errors.js';

// What a refused client is told to wait: connections end at unpredictable times.
const RETRY_AFTER_SECONDS = 5;

/**
 * Caps concurrent WebSocket connections per client address
 * (`SESAME_WS_MAX_CONNECTIONS_PER_ADDRESS`). A slot is taken when the upgrade request arrives
 * and given back when its TCP socket closes, so connections still authenticating count too,
 * and a refused or failed upgrade frees its slot by itself.
 */
export class AddressConnectionLimit {
  private readonly counts = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Takes a slot for `address` until `socket` closes; throws a 429 when the address is at the cap. */
  admit(address: string, socket: Socket): void {
    if (!this.tryAdmit(address, socket)) {
      throw new SesameError('rate-limited', `Too many WebSocket connections from this address (at most ${this.max}); close one or retry in ${RETRY_AFTER_SECONDS}s`, { retryAfter: RETRY_AFTER_SECONDS });
    }
  }

  /** Takes a slot for `address` until `socket` closes, if the address is below the cap. */
  tryAdmit(address: string, socket: Socket): boolean {
    const count = this.counts.get(address) ?? 0;
    if (count >= this.max) return false;
    this.counts.set(address, count + 1);
    socket.once('close', () => {
      const left = (this.counts.get(address) ?? 1) - 1;
      if (left > 0) this.counts.set(address, left);
      else this.counts.delete(address);
    });
    return true;
  }
}
