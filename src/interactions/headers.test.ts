import { describe, expect, it } from 'vitest';
import { cspSource, pageSecurityHeaders } from './headers.ts';

describe('page security headers', () => {
  it('forbid scripts, framing and caching', () => {
    const h = pageSecurityHeaders();
    const csp = h['Content-Security-Policy']!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('script-src');
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(h['Cache-Control']).toBe('no-store');
    expect(h['X-Frame-Options']).toBe('DENY');
    expect(h['Referrer-Policy']).toBe('no-referrer');
  });

  it("let forms lead to the relying party's redirect origin, once each", () => {
    const csp = pageSecurityHeaders([
      'https://app.example.com/cb?x=1',
      'https://app.example.com/other',
      'http://127.0.0.1:5173/callback',
      undefined,
    ])['Content-Security-Policy']!;
    expect(csp).toContain("form-action 'self' https://app.example.com http://127.0.0.1:5173;");
  });

  it('turns app schemes into scheme sources and drops dangerous or broken ones', () => {
    expect(cspSource('com.example.app:/oauth/cb')).toBe('com.example.app:');
    expect(cspSource('javascript:alert(1)')).toBeUndefined();
    expect(cspSource('data:text/html,x')).toBeUndefined();
    expect(cspSource('not a url')).toBeUndefined();
    expect(cspSource("https://a.example.com/'; script-src *")).toBe('https://a.example.com');
  });
});
