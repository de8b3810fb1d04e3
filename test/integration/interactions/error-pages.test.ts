import { beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../helpers/server.ts';
import { STORES, usePages } from './harness.ts';
import { HttpBrowser } from './http-browser.ts';

describe.each(STORES)('the error pages and assets on the %s store', (_name, store) => {
  const { state, atSignIn } = usePages(store);
  let gh: TestServer;
  beforeAll(() => {
    ({ gh } = state);
  });

  it('shows an expired or foreign interaction as an error page with a request id, not JSON or a stack', async () => {
    const b = new HttpBrowser(gh.url);
    const res = await b.get('/interaction/does-not-exist');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.html).toContain('Your sign-in session has expired');
    expect(res.html).toContain(res.headers.get('x-request-id')!);
    expect(res.html).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it("renders oidc-provider's errors in the same design", async () => {
    const b = new HttpBrowser(gh.url);
    const res = await b.get(
      '/auth?client_id=nope&response_type=code&scope=openid&redirect_uri=https://x.test/cb',
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.html).toContain('This app is not recognised');
    expect(res.html).toContain('Request id');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('serves the stylesheet with a content type and nothing else from /assets', async () => {
    const { page } = await atSignIn();
    const href = /<link rel="stylesheet" href="([^"]+)"/.exec(page.html)![1]!;
    const css = await fetch(new URL(href, gh.url));
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect((await fetch(new URL('/assets/..%2Fpackage.json', gh.url))).status).toBe(404);
  });

  it('answers an oversized or unreadable form with a 400 page, never a 500', async () => {
    const { b, uid, csrf } = await atSignIn();
    const big = await b.post(`/interaction/${uid}/login`, {
      csrf,
      email: 'a@b.test',
      password: 'x'.repeat(40_000),
    });
    expect(big.status).toBe(400);
    expect(big.headers.get('content-type')).toMatch(/^text\/html/);
    expect(big.html).toContain('invalid_request');
    const bad = await fetch(new URL(`/interaction/${uid}/login`, gh.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: '%E0%A4%A',
    });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);
  });
});
