import { beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../helpers/server.ts';
import { authorizeUrl, CLIENT_NAME, type Tenant } from './fixtures.ts';
import { STORES, usePages } from './harness.ts';
import { formAction, inputValue } from './http-browser.ts';

describe.each(STORES)('the logout pages on the %s store', (_name, store) => {
  const { state, atSignIn, signIn, signedIn } = usePages(store);
  let gh: TestServer;
  let t: Tenant;
  beforeAll(() => {
    ({ gh, t } = state);
  });

  it('asks before signing out, then returns to the registered post-logout address', async () => {
    const { b, uid, csrf } = await atSignIn({ scope: 'openid' });
    await b.follow(await signIn(b, uid, csrf, t.member.email));
    const endSession = new URL('/session/end', gh.issuer);
    endSession.search = new URLSearchParams({
      client_id: t.client.clientId,
      post_logout_redirect_uri: t.client.postLogoutRedirectUri,
      state: 'bye',
    }).toString();
    const confirm = await b.get(endSession.toString());
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('Sign out?');
    expect(confirm.html).toContain('form="op.logoutForm" name="logout" value="yes"');
    expect(confirm.headers.get('content-security-policy')).toContain("form-action 'self' http://127.0.0.1:9");
    expect(confirm.headers.get('cache-control')).toBe('no-store');
    const xsrf = inputValue(confirm.html, 'xsrf')!;
    const done = await b.post(formAction(confirm.html, '/session/end/confirm')!, { xsrf, logout: 'yes' });
    expect(done.status).toBe(303);
    const back = new URL(done.location!);
    expect(`${back.origin}${back.pathname}`).toBe(t.client.postLogoutRedirectUri);
    expect(back.searchParams.get('state')).toBe('bye');
    // The session is gone: the next authorization shows the sign-in page again.
    const again = await b.follow(await b.get(authorizeUrl(gh.issuer, t)));
    expect(again.html).toContain('autocomplete="current-password"');
  });

  it('shows the signed-out page when the app gave no post-logout address', async () => {
    const { b, endSession } = await signedIn();
    const confirm = await b.get(endSession);
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('You are about to sign out of Gatehouse');
    // No app named: only the full sign-out is offered.
    expect(confirm.html).not.toContain(' only</button>');
    const done = await b.follow(
      await b.post(formAction(confirm.html, '/session/end/confirm')!, {
        xsrf: inputValue(confirm.html, 'xsrf')!,
        logout: 'yes',
      }),
    );
    expect(done.status).toBe(200);
    expect(new URL(done.url).pathname).toBe('/session/end/success');
    expect(done.html).toContain('You are signed out');
    expect(done.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(done.headers.get('cache-control')).toBe('no-store');
  });

  it('can sign out of one app only, keeping the Gatehouse session', async () => {
    const { b, endSession } = await signedIn({ client_id: t.client.clientId });
    const confirm = await b.get(endSession);
    expect(confirm.html).toContain(`Sign out of ${CLIENT_NAME} only</button>`);
    // The "only" button submits the form without logout=yes.
    const done = await b.follow(
      await b.post(formAction(confirm.html, '/session/end/confirm')!, {
        xsrf: inputValue(confirm.html, 'xsrf')!,
      }),
    );
    expect(done.status).toBe(200);
    expect(done.html).toContain('You are signed out');
    expect(done.html).toContain(`You signed out of <strong>${CLIENT_NAME}</strong>`);
    // Still signed in to Gatehouse, but this app's grant is gone: consent is asked again, not the password.
    const again = await b.follow(await b.get(authorizeUrl(gh.issuer, t, { scope: 'openid' })));
    expect(again.status).toBe(200);
    expect(again.html).toContain('wants to access your account');
    expect(again.html).not.toContain('autocomplete="current-password"');
  });

  it('refuses a forged sign-out confirmation (wrong xsrf) on an error page, and keeps the session', async () => {
    const { b, endSession } = await signedIn({ client_id: t.client.clientId });
    const confirm = await b.get(endSession);
    const forged = await b.post(formAction(confirm.html, '/session/end/confirm')!, {
      xsrf: 'forged',
      logout: 'yes',
    });
    expect(forged.status).toBe(400);
    expect(forged.headers.get('content-type')).toMatch(/^text\/html/);
    expect(forged.html).toContain('Request id');
    expect(forged.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    // Nothing was ended: the app still signs in silently.
    const again = await b.follow(await b.get(authorizeUrl(gh.issuer, t, { scope: 'openid' })));
    expect(new URL(again.location!).searchParams.get('code')).toBeTruthy();
  });
});
