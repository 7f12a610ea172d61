import { isIPv6 } from 'node:net';

/**
 * The unit that per-address limits count: an IPv4 address as it is, an IPv6 address as its /64
 * network. One IPv6 subscriber is routinely handed a whole /64 (2^64 addresses), so counting
 * each address apart would let one client multiply every per-address budget at will.
 * IPv4-mapped IPv6 (`::ffff:192.0.2.1`) counts as the IPv4 address it carries.
 */
export function addressKey(address: string): string {
  if (!address.includes(':')) return address;
  const bare = address.startsWith('[') ? address.slice(1, address.indexOf(']')) : address.split('%', 1)[0];
  if (!isIPv6(bare)) return address;
  const groups = expandIPv6(bare);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${String(groups[6] >> 8)}.${String(groups[6] & 0xff)}.${String(groups[7] >> 8)}.${String(groups[7] & 0xff)}`;
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 literal (`::` expanded, a trailing dotted IPv4 split in two). */
function expandIPv6(literal: string): number[] {
  let text = literal;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const front = parse(head);
  if (tail === undefined) return front;
  const back = parse(tail);
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}
