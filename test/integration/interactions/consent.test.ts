import { beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../helpers/server.ts';
import { authorizeUrl, createTenant, PASSWORD, type Tenant } from './fixtures.ts';
import { CALLBACK, STORES, uidOf, usePages } from './harness.ts';
import { formAction, HttpBrowser, inputValue } from './http-browser.ts';

describe.each(STORES)('the consent page on the %s store', (_name, store) => {
  const { state, atSignIn, signIn } = usePages(store);
  let gh: TestServer;
  let t: Tenant;
  beforeAll(() => {
    ({ gh, t } = state);
  });

  /** A new member of a new workspace who signs in to its app and consents once, in browser `c`. */
  async function memberWhoConsented(label: string) {
    const team = await createTenant(gh.container, CALLBACK, label);
    const bob = await gh.container.accounts.createUser({
      email: `bob.${Date.now()}@${label}.test`,
      password: PASSWORD,
    });
    await gh.container.workspaces.addMember(team.workspaceId, bob.id, 'member');
    const c = new HttpBrowser(gh.url);
    const login = await c.follow(await c.get(authorizeUrl(gh.issuer, team, { scope: 'openid' })));
    const lUid = new URL(login.url).pathname.split('/').pop()!;
    const ask = await c.follow(await signIn(c, lUid, inputValue(login.html, 'csrf')!, bob.email));
    const aUid = new URL(ask.url).pathname.split('/').pop()!;
    const granted = await c.follow(
      await c.post(`/interaction/${aUid}/confirm`, { csrf: inputValue(ask.html, 'csrf')! }),
    );
    expect(new URL(granted.location!).searchParams.get('code')).toBeTruthy();
    return { team, bob, c };
  }

  it('signs in, asks for consent in plain words, and returns a code to the app', async () => {
    const { b, uid, csrf } = await atSignIn({ state: 'st-ok', scope: 'openid email profile' });
    const consent = await b.follow(await signIn(b, uid, csrf, t.member.email));
    expect(consent.status).toBe(200);
    expect(consent.html).toContain('wants to access your account');
    expect(consent.html).toContain('Confirm your identity');
    expect(consent.html).toContain('See your email address');
    expect(consent.html).toContain('See your name');
    expect(consent.html).toContain(t.member.email);
    const consentUid = new URL(consent.url).pathname.split('/').pop()!;
    const token = inputValue(consent.html, 'csrf')!;
    expect(formAction(consent.html, '/confirm')).toBe(`/interaction/${consentUid}/confirm`);
    const done = await b.follow(await b.post(`/interaction/${consentUid}/confirm`, { csrf: token }));
    const back = new URL(done.location!);
    expect(`${back.origin}${back.pathname}`).toBe(CALLBACK);
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(back.searchParams.get('state')).toBe('st-ok');

    // The grant is remembered: the next authorization goes straight back to the app.
    const again = await b.follow(await b.get(authorizeUrl(gh.issuer, t, { state: 'st-again' })));
    expect(new URL(again.location!).searchParams.get('code')).toBeTruthy();
  });

  it('stops silent sign-ins once the user is removed from the workspace', async () => {
    // A member who consents once, then is removed by the owner.
    const { team, bob, c } = await memberWhoConsented('hooli');
    const silent = await c.follow(await c.get(authorizeUrl(gh.issuer, team, { scope: 'openid' })));
    expect(new URL(silent.location!).searchParams.get('code')).toBeTruthy();

    await gh.container.workspaces.removeMember(team.workspaceId, bob.id);
    const after = await c.follow(await c.get(authorizeUrl(gh.issuer, team, { scope: 'openid' })));
    expect(after.status).toBe(200);
    expect(after.html).toContain(`Your account does not have access to ${team.workspaceName}`);
  });

  it('does not carry a password session into an app of a workspace without password sign-in', async () => {
    const { team, c } = await memberWhoConsented('ssoonly');

    // The workspace goes SSO-only: neither the remembered grant nor the session gets a code now.
    await gh.container.workspaces.update(team.workspaceId, { settings: { sign_in_methods: ['saml'] } });
    const after = await c.follow(await c.get(authorizeUrl(gh.issuer, team, { scope: 'openid' })));
    expect(after.status).toBe(200);
    expect(after.html).toContain('Password sign-in is turned off');
    expect(after.location ?? '').not.toContain('code=');
    const uid = new URL(after.url).pathname.split('/').pop()!;
    const forced = await c.post(`/interaction/${uid}/confirm`, { csrf: inputValue(after.html, 'csrf')! });
    expect(forced.status).toBe(403);
  });

  it("describes API permissions with the workspace catalogue's words and risk", async () => {
    const { b, uid, csrf } = await atSignIn({
      state: 'st-api',
      scope: 'openid videos:read members:write',
      resource: `${gh.issuer}/api`,
    });
    const consent = await b.follow(await signIn(b, uid, csrf, t.member.email));
    expect(consent.status).toBe(200);
    expect(consent.html).toContain(
      `In <span class="resource" title="${gh.issuer}/api">${t.workspaceName}</span>`,
    );
    expect(consent.html).toContain('List and read videos and their metadata');
    expect(consent.html).toContain('Invite, edit and remove members');
    // Only the risky permission carries a badge.
    expect(consent.html.match(/class="risk /g)).toHaveLength(1);
    expect(consent.html).toContain('high risk');
    const consentUid = new URL(consent.url).pathname.split('/').pop()!;
    const done = await b.follow(
      await b.post(`/interaction/${consentUid}/confirm`, { csrf: inputValue(consent.html, 'csrf')! }),
    );
    const back = new URL(done.location!);
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(back.searchParams.get('state')).toBe('st-api');
  });

  it('lets another member of the workspace take over from the consent page ("Not you?")', async () => {
    const grace = await gh.container.accounts.createUser({
      email: `grace.${Date.now()}@acme.test`,
      password: PASSWORD,
    });
    await gh.container.workspaces.addMember(t.workspaceId, grace.id, 'member');
    const { b, uid, csrf } = await atSignIn({ scope: 'openid email' });
    const consent = await b.follow(await signIn(b, uid, csrf, t.member.email));
    const cUid = uidOf(consent);
    expect(consent.html).toContain(`href="/interaction/${cUid}?switch=1"`);
    const switchPage = await b.get(`/interaction/${cUid}?switch=1`);
    expect(switchPage.status).toBe(200);
    expect(switchPage.html).toContain('autocomplete="current-password"');
    const token = inputValue(switchPage.html, 'csrf')!;
    // oidc-provider first ends Ada's session through an auto-submitted form (a browser runs it; we post it).
    const ending = await b.follow(await signIn(b, cUid, token, grace.email));
    expect(ending.status).toBe(200);
    const again = await b.follow(
      await b.post(formAction(ending.html, '/session/end/confirm')!, {
        xsrf: inputValue(ending.html, 'xsrf')!,
        logout: 'yes',
      }),
    );
    expect(again.status).toBe(200);
    expect(again.html).toContain('wants to access your account');
    expect(again.html).toContain(grace.email);
    expect(again.html).not.toContain(t.member.email);
  });

  it('lets the user deny consent', async () => {
    const { b, uid, csrf } = await atSignIn({ state: 'st-deny', scope: 'openid email' });
    const consent = await b.follow(await signIn(b, uid, csrf, t.member.email));
    const consentUid = new URL(consent.url).pathname.split('/').pop()!;
    const res = await b.follow(
      await b.post(`/interaction/${consentUid}/abort`, { csrf: inputValue(consent.html, 'csrf')! }),
    );
    expect(new URL(res.location!).searchParams.get('error')).toBe('access_denied');
  });

  it("does not let a session of another workspace's app through consent", async () => {
    const other = await createTenant(gh.container, CALLBACK, 'globex');
    // Signed in to Globex's app as Globex's member...
    const b = new HttpBrowser(gh.url);
    const first = await b.follow(await b.get(authorizeUrl(gh.issuer, other)));
    const fUid = new URL(first.url).pathname.split('/').pop()!;
    await b.follow(await signIn(b, fUid, inputValue(first.html, 'csrf')!, other.member.email));
    // ...then Acme's app: the session exists, but its account is not an Acme member.
    const page = await b.follow(await b.get(authorizeUrl(gh.issuer, t)));
    expect(page.status).toBe(200);
    expect(page.html).toContain(`Your account does not have access to ${t.workspaceName}`);
    expect(page.html).not.toContain('wants to access your account');
    const uid = new URL(page.url).pathname.split('/').pop()!;
    expect(
      (await b.post(`/interaction/${uid}/confirm`, { csrf: inputValue(page.html, 'csrf')! })).status,
    ).toBe(403);
  });
});
