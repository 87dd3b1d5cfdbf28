import * as fc from 'fast-check';
import { refusedAddressReason } from './public-address';

describe('refusedAddressReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared (carrier-grade NAT)'],
    ['100.127.255.255', 'shared (carrier-grade NAT)'],
    ['100.100.100.200', 'cloud metadata'],
    ['169.254.169.254', 'cloud metadata'],
    ['169.254.0.1', 'link-local'],
    ['0.0.0.0', 'unspecified ("this network")'],
    ['0.1.2.3', 'unspecified ("this network")'],
    ['192.0.0.170', 'IETF protocol assignment'],
    ['192.0.2.10', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['192.88.99.1', '6to4 relay'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
  ])('refuses the IPv4 address %s (%s)', (address, kind) => {
    expect(refusedAddressReason(address)).toBe(kind);
  });

  it.each([
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback'],
    ['::ffff:169.254.169.254', 'IPv4-mapped cloud metadata'],
    ['::ffff:10.1.2.3', 'IPv4-mapped private'],
    ['::127.0.0.1', 'IPv4-compatible (deprecated)'],
    ['::8.8.8.8', 'IPv4-compatible (deprecated)'],
    ['64:ff9b::127.0.0.1', 'NAT64 loopback'],
    ['64:ff9b::a00:1', 'NAT64 private'],
    ['2002:7f00:1::', '6to4 loopback'],
    ['2002:c0a8:101::1', '6to4 private'],
    ['fc00::1', 'unique-local'],
    ['fd00:ec2::254', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fec0::1', 'site-local'],
    ['ff02::1', 'multicast'],
    ['100::1', 'reserved (not global unicast)'],
    ['4000::1', 'reserved (not global unicast)'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001::1', 'IETF special-purpose (Teredo, ORCHID, benchmarking)'],
    ['2001:10::1', 'IETF special-purpose (Teredo, ORCHID, benchmarking)'],
  ])('refuses the IPv6 address %s (%s)', (address, kind) => {
    expect(refusedAddressReason(address)).toBe(kind);
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '172.15.255.255', '100.128.0.1', '169.253.255.255', '192.169.0.1', '223.255.255.255', '11.0.0.1'])(
    'allows the public IPv4 address %s',
    (address) => {
      expect(refusedAddressReason(address)).toBeNull();
    },
  );

  it.each(['2606:4700:4700::1111', '2001:4860:4860::8888', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '2001:200::1', '3fff:1000::1'])(
    'allows the public IPv6 address %s',
    (address) => {
      expect(refusedAddressReason(address)).toBeNull();
    },
  );

  it('refuses what is not a plain IP literal', () => {
    expect(refusedAddressReason('localhost')).toBe('not an IP address');
    expect(refusedAddressReason('[::1]')).toBe('not an IP address');
    expect(refusedAddressReason('127.1')).toBe('not an IP address');
    expect(refusedAddressReason('0x7f000001')).toBe('not an IP address');
    expect(refusedAddressReason('')).toBe('not an IP address');
    expect(refusedAddressReason('fe80::1%eth0')).toBe('scoped (zone id)');
  });

  it('judges an IPv4 address the same in every IPv6 form that reaches it (mapped, NAT64, 6to4)', () => {
    const hex = (a: number, b: number) => ((a << 8) | b).toString(16);
    fc.assert(
      fc.property(fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)), ([a, b, c, d]) => {
        const v4 = refusedAddressReason(`${a}.${b}.${c}.${d}`);
        expect(refusedAddressReason(`::ffff:${a}.${b}.${c}.${d}`) === null).toBe(v4 === null);
        expect(refusedAddressReason(`::ffff:${hex(a, b)}:${hex(c, d)}`) === null).toBe(v4 === null);
        expect(refusedAddressReason(`64:ff9b::${hex(a, b)}:${hex(c, d)}`) === null).toBe(v4 === null);
        expect(refusedAddressReason(`2002:${hex(a, b)}:${hex(c, d)}::1`) === null).toBe(v4 === null);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses every address of the loopback, private and link-local IPv4 ranges', () => {
    fc.assert(
      fc.property(fc.nat(255), fc.nat(255), fc.nat(255), (x, y, z) => {
        for (const address of [`127.${x}.${y}.${z}`, `10.${x}.${y}.${z}`, `192.168.${y}.${z}`, `172.${16 + (x % 16)}.${y}.${z}`, `169.254.${y}.${z}`, `100.${64 + (x % 64)}.${y}.${z}`]) {
          expect(refusedAddressReason(address)).not.toBeNull();
        }
      }),
    );
  });
});
