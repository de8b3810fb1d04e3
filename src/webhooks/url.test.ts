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
    expect(checkEndpointUrl('https://10.0.0.5/hook', prod).ok).toBe(true); // private networks are legitimate
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
    ]) {
      expect(checkEndpointUrl(url, prod).ok, url).toBe(false);
      expect(checkEndpointUrl(url, dev).ok, url).toBe(true);
    }
  });
});
