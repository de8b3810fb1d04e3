import { describe, expect, it } from 'vitest';
import { checkEndpointUrl } from './url.ts';

const prod = { allowInsecure: false };
const dev = { allowInsecure: true };

describe('webhook endpoint URL policy', () => {
  it('accepts https URLs and normalises them', () => {
    expect(checkEndpointUrl('https://hooks.example.com/gatehouse?x=1', prod)).toEqual({
      ok: true,
      url: 'https://hooks.example.com/gatehouse?x=1',
    });
    expect(checkEndpointUrl('HTTPS://Hooks.Example.com', prod)).toEqual({
      ok: true,
      url: 'https://hooks.example.com/',
    });
    expect(checkEndpointUrl('https://[2606:4700:4700::1111]/hook', prod).ok).toBe(true);
    expect(checkEndpointUrl('https://8.8.8.8/hook', prod).ok).toBe(true);
  });

  it('refuses other schemes and malformed input in every mode', () => {
    for (const policy of [prod, dev]) {
      for (const url of [
        'ftp://example.com/x',
        'file:///etc/passwd',
        'javascript:alert(1)',
        'gopher://127.0.0.1:25/',
        'data:text/plain,hi',
        '/relative/path',
        '',
        `https://example.com/${'a'.repeat(2100)}`,
      ]) {
        expect(checkEndpointUrl(url, policy).ok, url).toBe(false);
      }
    }
  });

  it('refuses credentials and fragments in URLs', () => {
    expect(checkEndpointUrl('https://user:pass@example.com/hook', prod)).toEqual({
      ok: false,
      reason: 'URLs must not carry credentials',
    });
    expect(checkEndpointUrl('http://user@127.0.0.1/hook', dev).ok).toBe(false);
    expect(checkEndpointUrl('https://example.com/hook#frag', prod).ok).toBe(false);
  });

  it('allows plain http and loopback only outside production', () => {
    expect(checkEndpointUrl('http://127.0.0.1:8080/hook', dev).ok).toBe(true);
    expect(checkEndpointUrl('http://example.com/hook', dev).ok).toBe(true);
    expect(checkEndpointUrl('http://example.com/hook', prod).ok).toBe(false);
    for (const url of [
      'https://localhost/hook',
      'https://api.localhost/hook',
      'https://127.0.0.1/hook',
      'https://127.1/hook',
      'https://2130706433/hook',
      'https://0.0.0.0/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://[fe80::1]/hook',
      // Review finding 12: private, shared, metadata and IPv6-wrapped internal addresses.
      'https://10.0.0.5/hook',
      'https://172.16.0.1/hook',
      'https://172.31.255.255/hook',
      'https://192.168.1.1/',
      'https://100.64.0.1/',
      'https://100.100.100.200/',
      'https://[fd00:ec2::254]/latest/meta-data',
      'https://[fc00::1]/',
      'https://[::7f00:1]/',
      'https://[64:ff9b::a9fe:a9fe]/',
      'https://[64:ff9b::10.0.0.1]/',
      'https://[::ffff:10.0.0.1]/',
      'https://[::ffff:a9fe:a9fe]/',
      'https://[2002:7f00:1::]/',
      'https://[::]/',
      'https://[ff02::1]/',
      'https://224.0.0.1/',
      'https://255.255.255.255/',
      'https://localhost./hook',
    ]) {
      expect(checkEndpointUrl(url, prod).ok, url).toBe(false);
      expect(checkEndpointUrl(url, dev).ok, url).toBe(true);
    }
  });
});
