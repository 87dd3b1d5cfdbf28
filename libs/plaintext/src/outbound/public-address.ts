// Which IP addresses a tenant-supplied URL may reach (ADR 0104): public unicast only.
// A pure function over one address, so it is tested over many addresses without a
// network; the HTTP client applies it to every address a name resolves to, at connect time.
import { isIPv4, isIPv6 } from 'node:net';

type Ipv4Rule = readonly [base: readonly [number, number, number, number], prefix: number, kind: string];

// Most specific first: the first match names the kind of address in the error.
const IPV4_REFUSED: readonly Ipv4Rule[] = [
  [[169, 254, 169, 254], 32, 'cloud metadata'],
  [[100, 100, 100, 200], 32, 'cloud metadata'],
  [[255, 255, 255, 255], 32, 'broadcast'],
  [[0, 0, 0, 0], 8, 'unspecified ("this network")'],
  [[10, 0, 0, 0], 8, 'private'],
  [[100, 64, 0, 0], 10, 'shared (carrier-grade NAT)'],
  [[127, 0, 0, 0], 8, 'loopback'],
  [[169, 254, 0, 0], 16, 'link-local'],
  [[172, 16, 0, 0], 12, 'private'],
  [[192, 0, 0, 0], 24, 'IETF protocol assignment'],
  [[192, 0, 2, 0], 24, 'documentation'],
  [[192, 88, 99, 0], 24, '6to4 relay'],
  [[192, 168, 0, 0], 16, 'private'],
  [[198, 18, 0, 0], 15, 'benchmarking'],
  [[198, 51, 100, 0], 24, 'documentation'],
  [[203, 0, 113, 0], 24, 'documentation'],
  [[224, 0, 0, 0], 4, 'multicast'],
  [[240, 0, 0, 0], 4, 'reserved'],
];

function ipv4Octets(address: string): [number, number, number, number] | null {
  if (!isIPv4(address)) return null;
  const [a, b, c, d] = address.split('.').map(Number);
  return [a, b, c, d];
}

function toUint32(o: readonly number[]): number {
  return ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
}

function refusedIpv4(octets: readonly number[]): string | null {
  const value = toUint32(octets);
  for (const [base, prefix, kind] of IPV4_REFUSED) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((value & mask) >>> 0 === (toUint32(base) & mask) >>> 0) return kind;
  }
  return null;
}

/** The eight 16-bit groups of an IPv6 address (embedded dotted quads included), or null. */
function ipv6Groups(address: string): number[] | null {
  if (!isIPv6(address) || address.includes('%')) return null;
  let text = address;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const o = ipv4Octets(tail);
    if (!o) return null;
    text = `${text.slice(0, lastColon + 1)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const zeros = rest === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...new Array<number>(zeros).fill(0), ...right];
  return groups.length === 8 ? groups : null;
}

const embeddedIpv4 = (high: number, low: number) => [high >> 8, high & 0xff, low >> 8, low & 0xff];

function refusedIpv6(g: readonly number[]): string | null {
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(7) && g[7] === 0) return 'unspecified';
  if (zeroUpTo(7) && g[7] === 1) return 'loopback';
  // ::ffff:a.b.c.d reaches the IPv4 address: the IPv4 rules decide.
  if (zeroUpTo(5) && g[5] === 0xffff) {
    const kind = refusedIpv4(embeddedIpv4(g[6], g[7]));
    return kind && `IPv4-mapped ${kind}`;
  }
  if (zeroUpTo(6)) return 'IPv4-compatible (deprecated)';
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the embedded IPv4 address.
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) {
    const kind = refusedIpv4(embeddedIpv4(g[6], g[7]));
    return kind && `NAT64 ${kind}`;
  }
  if (g[0] === 0x2002) {
    const kind = refusedIpv4(embeddedIpv4(g[1], g[2]));
    return kind && `6to4 ${kind}`;
  }
  if ((g[0] & 0xfe00) === 0xfc00) return 'unique-local';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0] & 0xffc0) === 0xfec0) return 'site-local';
  if ((g[0] & 0xff00) === 0xff00) return 'multicast';
  if ((g[0] & 0xe000) !== 0x2000) return 'reserved (not global unicast)';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'documentation';
  if (g[0] === 0x2001 && g[1] < 0x0200) return 'IETF special-purpose (Teredo, ORCHID, benchmarking)';
  if (g[0] === 0x3fff && g[1] < 0x1000) return 'documentation';
  return null;
}

/**
 * Why `address` (an IPv4 or IPv6 literal, without brackets) must not be contacted on a
 * tenant's behalf — e.g. "loopback", "private", "cloud metadata" — or null for a public
 * unicast address. Anything that is not a plain IP literal (zone ids included) is refused.
 */
export function refusedAddressReason(address: string): string | null {
  const v4 = ipv4Octets(address);
  if (v4) return refusedIpv4(v4);
  if (address.includes('%')) return 'scoped (zone id)';
  const groups = ipv6Groups(address);
  if (!groups) return 'not an IP address';
  return refusedIpv6(groups);
}
