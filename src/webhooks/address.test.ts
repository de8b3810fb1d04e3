import { describe, expect, it } from 'vitest';
import { isPublicAddress } from './address.ts';

describe('webhook target address classifier', () => {
  it('refuses every non-public IPv4 range', () => {
    for (const a of [
      '0.0.0.0',
      '0.1.2.3',
      '10.0.0.5',
      '10.255.255.255',
      '100.64.0.1',
      '100.100.100.200',
      '100.127.255.255',
      '127.0.0.1',
      '127.255.0.9',
      '169.254.169.254',
      '172.16.0.1',
      '172.31.255.255',
      '192.0.0.170',
      '192.0.2.1',
      '192.88.99.1',
      '192.168.1.1',
      '198.18.0.1',
      '198.19.255.255',
      '198.51.100.7',
      '203.0.113.9',
      '224.0.0.1',
      '239.255.255.250',
      '240.0.0.1',
      '255.255.255.255',
    ]) {
      expect(isPublicAddress(a), a).toBe(false);
    }
  });

  it('refuses non-public IPv6, and IPv4 internals wrapped in IPv6', () => {
    for (const a of [
      '::',
      '::1',
      '[::1]',
      'fc00::1',
      'fd00:ec2::254',
      'fe80::1',
      'fe80::1%eth0',
      'febf::1',
      'fec0::1',
      'ff02::1',
      '::7f00:1', // IPv4-compatible 127.0.0.1
      '::127.0.0.1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '::ffff:a9fe:a9fe',
      '64:ff9b::a9fe:a9fe', // NAT64 of 169.254.169.254
      '64:ff9b::10.1.2.3',
      '64:ff9b::7f00:1',
      '64:ff9b:1::8.8.8.8', // local-use NAT64 prefix
      '2002:7f00:1::1', // 6to4 of 127.0.0.1
      '2002:c0a8:101::1', // 6to4 of 192.168.1.1
      '2001:db8::1',
      '2001::1', // Teredo
      '3fff::1',
      '100::1', // discard-only
    ]) {
      expect(isPublicAddress(a), a).toBe(false);
    }
  });

  it('accepts public unicast, also when wrapped', () => {
    for (const a of [
      '8.8.8.8',
      '1.1.1.1',
      '172.15.255.255',
      '172.32.0.1',
      '100.63.255.255',
      '100.128.0.1',
      '169.253.1.1',
      '2606:4700:4700::1111',
      '2a00:1450:4001:81c::200e',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
      '2002:808:808::1',
    ]) {
      expect(isPublicAddress(a), a).toBe(true);
    }
  });

  it('refuses what is not an IP address', () => {
    for (const a of ['', 'localhost', 'example.com', '127.0.0.1.nip.io', '1.2.3', '::g', '1.2.3.4.5']) {
      expect(isPublicAddress(a), a).toBe(false);
    }
  });
});
