import ipaddr from 'ipaddr.js';

/**
 * Which network addresses outbound requests (webhooks, the credential broker) may reach.
 *
 * Only globally routable unicast addresses pass by default. Everything ipaddr.js classifies as
 * anything else is refused: loopback, private (RFC 1918), unique-local, link-local (which holds the
 * cloud metadata address), CGNAT, multicast, broadcast, unspecified, reserved and documentation
 * ranges, and the IPv6 forms that embed an IPv4 address and may be translated to it (NAT64, 6to4,
 * Teredo). IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is judged as the IPv4 address it carries.
 *
 * `SESAME_OUTBOUND_ALLOW` opens host names, addresses or CIDRs for operators (and for tests that run
 * a receiver on loopback). The metadata addresses stay refused whatever is allowed: no operator
 * means to hand an agent the machine's cloud credentials.
 */

type Address = ipaddr.IPv4 | ipaddr.IPv6;

const METADATA_ADDRESSES: readonly string[] = ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200'];

export interface OutboundAllowList {
  /** Lower-case host names opened by name (every address they resolve to passes, metadata aside). */
  readonly hosts: ReadonlySet<string>;
  readonly ranges: readonly (readonly [Address, number])[];
}

class OutboundAllowError extends Error {}

/** Parse `SESAME_OUTBOUND_ALLOW`: comma-separated host names, addresses and CIDRs. */
export function parseOutboundAllow(value: string): OutboundAllowList {
  const hosts = new Set<string>();
  const ranges: (readonly [Address, number])[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry.includes('/')) {
      if (!ipaddr.isValidCIDR(entry)) throw new OutboundAllowError(`"${entry}" is not a valid CIDR`);
      const [range, bits] = ipaddr.parseCIDR(entry);
      ranges.push([normalize(range), range.kind() === 'ipv6' && isMapped(range) ? bits - 96 : bits]);
    } else if (ipaddr.isValid(entry)) {
      const address = normalize(ipaddr.parse(entry));
      ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
    } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(entry)) {
      hosts.add(entry);
    } else {
      throw new OutboundAllowError(`"${entry}" is neither a host name, an address nor a CIDR`);
    }
  }
  return { hosts, ranges };
}

function isMapped(address: Address): address is ipaddr.IPv6 {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress();
}

/** IPv4-mapped IPv6 becomes the IPv4 address it carries; everything else is as parsed. */
function normalize(address: Address): Address {
  return isMapped(address) ? address.toIPv4Address() : address;
}

function inRange(address: Address, [range, bits]: readonly [Address, number]): boolean {
  return address.kind() === range.kind() && address.match(range, bits);
}

/** The metadata addresses, parsed once (each a single-address range): checked on every send. */
const METADATA: readonly (readonly [Address, number])[] = METADATA_ADDRESSES.map((m) => {
  const address = normalize(ipaddr.parse(m));
  return [address, address.kind() === 'ipv4' ? 32 : 128] as const;
});

/**
 * Why `literal` (an IP address as text) may not be reached, or undefined when it may. `host` is the
 * name it was resolved from, if any, which the allow list may open by name.
 */
export function refusedAddress(literal: string, allow: OutboundAllowList, host?: string): string | undefined {
  if (!ipaddr.isValid(literal)) return `${literal} is not an IP address`;
  const address = normalize(ipaddr.parse(literal));
  const shown = address.toString();
  if (METADATA.some((m) => inRange(address, m))) {
    return `${shown} is a cloud metadata address`;
  }
  const range = address.range();
  if (range === 'unicast') return undefined;
  if (host !== undefined && allow.hosts.has(host.toLowerCase())) return undefined;
  if (allow.ranges.some((r) => inRange(address, r))) return undefined;
  return `${shown} is in a blocked range (${range})`;
}
