import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import { authorizeUrl, createTenant, PASSWORD, type Tenant } from './fixtures.ts';
import { CALLBACK, STORES, usePages } from './harness.ts';
import { HttpBrowser, inputValue } from './http-browser.ts';

describe.each(STORES)('the sign-in page on the %s store', (_name, store) => {
  const { state, atSignIn, signIn } = usePages(store);
  let gh: TestServer;
  let t: Tenant;
  beforeAll(() => {
    ({ gh, t } = state);
  });

  it('shows a sign-in page with the app name, a CSRF token and strict security headers', async () => {
    const { page, csrf } = await atSignIn();
    expect(page.html).toContain('Sign in');
    expect(page.html).toContain(t.workspaceName);
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self' http://127.0.0.1:9");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });

  it('prefills the email from login_hint', async () => {
    const { page } = await atSignIn({ login_hint: t.member.email });
    expect(inputValue(page.html, 'email')).toBe(t.member.email);
  });

  it('refuses a POST without a CSRF token, with a wrong one, or with one from another interaction (403)', async () => {
    const { b, uid, csrf } = await atSignIn();
    const other = await atSignIn();
    for (const token of [undefined, '', 'x'.repeat(43), other.csrf]) {
      const form: Record<string, string> = { email: t.member.email, password: PASSWORD };
      if (token !== undefined) form.csrf = token;
      const res = await b.post(`/interaction/${uid}/login`, form);
      expect(res.status).toBe(403);
      expect(res.html).toContain('invalid_csrf');
      expect(res.html).not.toContain('Error: ');
      // The interaction is still valid: the page leads back to it.
      expect(res.html).toContain(`href="/interaction/${uid}"`);
    }
    for (const path of ['confirm', 'abort']) {
      expect((await b.post(`/interaction/${uid}/${path}`, { csrf: 'nope' })).status).toBe(403);
    }
    // The same browser still signs in with the right token: refusals do not break the interaction.
    const ok = await signIn(b, uid, csrf, t.member.email);
    expect(ok.status).toBe(303);
  });

  it('refuses a token replayed from another browser (no matching cookie)', async () => {
    const { uid, csrf } = await atSignIn();
    const stranger = new HttpBrowser(gh.url);
    const res = await stranger.post(`/interaction/${uid}/login`, {
      csrf,
      email: t.member.email,
      password: PASSWORD,
    });
    expect(res.status).toBe(403);
  });

  it('shows a wrong password as a message on the page, keeping the email', async () => {
    const { b, uid, csrf } = await atSignIn();
    const res = await signIn(b, uid, csrf, t.member.email, 'not the password');
    expect(res.status).toBe(200);
    expect(res.html).toContain('Wrong email or password');
    expect(res.html).toContain('role="alert"');
    expect(inputValue(res.html, 'email')).toBe(t.member.email);
    expect(res.html).not.toContain('not the password');
  });

  it('says the same for an unknown email, and asks for both fields when one is missing', async () => {
    const { b, uid, csrf } = await atSignIn();
    const unknown = await signIn(b, uid, csrf, 'nobody@nowhere.test');
    expect(unknown.status).toBe(200);
    expect(unknown.html).toContain('Wrong email or password');
    const empty = await signIn(b, uid, csrf, '', '');
    expect(empty.status).toBe(200);
    expect(empty.html).toContain('Enter your email and password');
  });

  it("refuses a user who is not a member of the app's workspace", async () => {
    const { b, uid, csrf } = await atSignIn();
    const res = await signIn(b, uid, csrf, t.outsider.email);
    expect(res.status).toBe(200);
    expect(res.html).toContain(`Your account does not have access to ${t.workspaceName}`);
    // Still at sign-in: no session was made.
    const again = await b.get(`/interaction/${uid}`);
    expect(again.html).toContain('autocomplete="current-password"');
  });

  it('tells a disabled member (who knows the password) that the account is disabled', async () => {
    const { b, uid, csrf } = await atSignIn();
    const res = await signIn(b, uid, csrf, t.disabled.email);
    expect(res.status).toBe(200);
    expect(res.html).toContain('This account is disabled');
    const guess = await signIn(b, uid, csrf, t.disabled.email, 'a wrong guess');
    expect(guess.html).toContain('Wrong email or password');
  });

  it('refuses passwords when the workspace turned password sign-in off', async () => {
    const sso = await createTenant(gh.container, CALLBACK, 'initech');
    await gh.container.workspaces.update(sso.workspaceId, { settings: { sign_in_methods: ['saml'] } });
    const b = new HttpBrowser(gh.url);
    const page = await b.follow(await b.get(authorizeUrl(gh.issuer, sso)));
    expect(page.html).toContain('Password sign-in is turned off');
    expect(page.html).not.toContain('autocomplete="current-password"');
    const uid = new URL(page.url).pathname.split('/').pop()!;
    const res = await signIn(b, uid, inputValue(page.html, 'csrf')!, sso.member.email);
    expect(res.status).toBe(200);
    expect(res.html).toContain('Password sign-in is turned off');
  });

  it('sends access_denied to the app when the user cancels', async () => {
    const { b, uid, csrf } = await atSignIn({ state: 'st-abort' });
    const res = await b.follow(await b.post(`/interaction/${uid}/abort`, { csrf }));
    expect(res.status).toBe(303);
    const back = new URL(res.location!);
    expect(`${back.origin}${back.pathname}`).toBe(CALLBACK);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('st-abort');
  });
});

describe('sign-in page rate limits', () => {
  let gh: TestServer;
  let t: Tenant;

  beforeAll(async () => {
    // A small per-email budget so that the test stays quick; the per-IP limit stays at its default.
    gh = await startGatehouse({ kind: 'embedded' }, { AUTH_LOGIN_LIMIT_PER_EMAIL: '3' });
    t = await createTenant(gh.container, CALLBACK);
  });
  afterAll(async () => {
    await gh?.close();
  });

  it('answers 429 with Retry-After on the page once an email is over its limit, even with the right password', async () => {
    const b = new HttpBrowser(gh.url);
    const page = await b.follow(await b.get(authorizeUrl(gh.issuer, t)));
    const uid = new URL(page.url).pathname.split('/').pop()!;
    const csrf = inputValue(page.html, 'csrf')!;
    const attempt = (password: string) =>
      b.post(`/interaction/${uid}/login`, { csrf, email: t.member.email, password });
    for (let i = 0; i < 3; i++) {
      const res = await attempt('wrong guess');
      expect(res.status).toBe(200);
      expect(res.html).toContain('Wrong email or password');
    }
    const limited = await attempt(PASSWORD);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.html).toContain('Too many sign-in attempts');
    expect(limited.html).toContain('role="alert"');
    expect(limited.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    // The email is counted in the login API's own buckets: the API is refused too.
    await expect(
      gh.container.authLimits.login('127.0.0.1', t.member.email.toUpperCase()),
    ).rejects.toMatchObject({
      status: 429,
    });
    // Another email from the same browser is still served.
    const other = await b.post(`/interaction/${uid}/login`, {
      csrf,
      email: t.outsider.email,
      password: PASSWORD,
    });
    expect(other.status).toBe(200);
    expect(other.html).toContain(`Your account does not have access to ${t.workspaceName}`);
  });

  it('does not count forged posts (the CSRF check comes first)', async () => {
    const b = new HttpBrowser(gh.url);
    const page = await b.follow(await b.get(authorizeUrl(gh.issuer, t)));
    const uid = new URL(page.url).pathname.split('/').pop()!;
    for (let i = 0; i < 5; i++) {
      const res = await b.post(`/interaction/${uid}/login`, {
        csrf: 'A'.repeat(43),
        email: t.disabled.email,
        password: 'x',
      });
      expect(res.status).toBe(403);
    }
    const real = await b.post(`/interaction/${uid}/login`, {
      csrf: inputValue(page.html, 'csrf')!,
      email: t.disabled.email,
      password: PASSWORD,
    });
    expect(real.status).toBe(200);
    expect(real.html).toContain('This account is disabled');
  });
});
