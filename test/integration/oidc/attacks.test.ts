import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StoreChoice, startGatehouse, type TestServer } from '../../helpers/server.ts';
import { HttpBrowser } from '../interactions/http-browser.ts';
import {
  type AuthorizationResult,
  authorize,
  CALLBACK,
  createWorkspace,
  dumpStore,
  type RegisteredClient,
  rawToken,
  registerClient,
  relyingParty,
  stores,
  userinfoStatus,
  type Workspace,
  walk,
} from './fixtures.ts';

const OTHER_CALLBACK = 'http://127.0.0.1:9/other-callback';

describe.each(stores)('attacks on the authorization code flow, %s store', (_name, store) => {
  let gh: TestServer & { dataDir?: string };
  let choice: StoreChoice;
  let ws: Workspace;
  let client: RegisteredClient;
  let publicClient: RegisteredClient;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    choice = store();
    gh = await startGatehouse(choice);
    ws = await createWorkspace(gh.container);
    client = await registerClient(gh.container, ws.id, { redirectUris: [CALLBACK, OTHER_CALLBACK] });
    publicClient = await registerClient(gh.container, ws.id, { name: 'Acme Mobile', public: true });
    rp = await relyingParty(gh.issuer, client);
  });
  afterAll(async () => {
    await gh?.close();
  });

  const basic = () => ({ id: client.clientId, secret: client.clientSecret! });
  const codeOf = (u: URL) => u.searchParams.get('code')!;
  /** The token request that redeems `a`'s code as issued (fields overridden where an attack differs). */
  const redeem = (a: AuthorizationResult, change: Record<string, string> = {}) => ({
    grant_type: 'authorization_code',
    code: codeOf(a.callback),
    redirect_uri: CALLBACK,
    code_verifier: a.verifier,
    ...change,
  });

  /** Starts an authorization and returns what the browser sees first (no following of foreign redirects). */
  async function start(config: oidc.Configuration, params: Record<string, string>) {
    const b = new HttpBrowser(gh.url);
    const url = oidc.buildAuthorizationUrl(config, { scope: 'openid', redirect_uri: CALLBACK, ...params });
    return b.follow(await b.get(url.toString()));
  }

  it('never redirects to an unregistered redirect_uri', async () => {
    const challenge = await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier());
    for (const redirect_uri of [
      'https://evil.test/callback',
      `${CALLBACK}/../evil`,
      `${CALLBACK}?next=https://evil.test`,
      'http://127.0.0.1:9/callbackx',
    ]) {
      const page = await start(rp, {
        redirect_uri,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      expect(page.status, redirect_uri).toBe(400);
      expect(page.location).toBeUndefined();
      expect(page.html).not.toContain('evil.test/callback"');
    }
  });

  it('refuses a code redeemed with another (registered) redirect_uri than the one it was issued for', async () => {
    const a = await authorize(gh.url, rp, ws.owner.email, { scope: 'openid' });
    const res = await rawToken(gh.issuer, redeem(a, { redirect_uri: OTHER_CALLBACK }), basic());
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  it('refuses a missing or wrong PKCE verifier (and the code is then spent)', async () => {
    const a = await authorize(gh.url, rp, ws.owner.email, { scope: 'openid' });
    const form = { grant_type: 'authorization_code', code: codeOf(a.callback), redirect_uri: CALLBACK };
    const missing = await rawToken(gh.issuer, form, basic());
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatch(/invalid_grant|invalid_request/);
    const b = await authorize(gh.url, rp, ws.owner.email, { scope: 'openid' });
    const wrong = await rawToken(
      gh.issuer,
      { ...form, code: codeOf(b.callback), code_verifier: oidc.randomPKCECodeVerifier() },
      basic(),
    );
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_grant');
    // The right verifier afterwards does not rescue a code an attacker tried.
    const late = await rawToken(
      gh.issuer,
      { ...form, code: codeOf(b.callback), code_verifier: b.verifier },
      basic(),
    );
    expect(late.body.error).toBe('invalid_grant');
  });

  it('requires PKCE of public clients and refuses code_challenge_method=plain', async () => {
    const pub = await relyingParty(gh.issuer, publicClient, 'none');
    const none = await start(pub, {});
    const noneBack = new URL(none.location!, none.url);
    expect(`${noneBack.origin}${noneBack.pathname}`).toBe(CALLBACK);
    expect(noneBack.searchParams.get('error')).toBe('invalid_request');
    expect(noneBack.searchParams.get('code')).toBeNull();
    for (const config of [pub, rp]) {
      const verifier = oidc.randomPKCECodeVerifier();
      const plain = await start(config, { code_challenge: verifier, code_challenge_method: 'plain' });
      const back = new URL(plain.location!, plain.url);
      expect(back.searchParams.get('error')).toBe('invalid_request');
      expect(back.searchParams.get('code')).toBeNull();
    }
  });

  it('refuses a reused authorization code and revokes the tokens it issued', async () => {
    const a = await authorize(gh.url, rp, ws.owner.email, {
      scope: 'openid offline_access',
      prompt: 'consent',
    });
    const form = redeem(a);
    const first = await rawToken(gh.issuer, form, basic());
    expect(first.status).toBe(200);
    const access = String(first.body.access_token);
    const refresh = String(first.body.refresh_token);
    expect(await userinfoStatus(rp, `Bearer ${access}`)).toBe(200);
    const replay = await rawToken(gh.issuer, form, basic());
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect(await userinfoStatus(rp, `Bearer ${access}`)).toBe(401);
    expect((await oidc.tokenIntrospection(rp, access)).active).toBe(false);
    const refreshed = await rawToken(
      gh.issuer,
      { grant_type: 'refresh_token', refresh_token: refresh },
      basic(),
    );
    expect(refreshed.body.error).toBe('invalid_grant');
  });

  it('redeems a code at most once when the same code arrives concurrently', async () => {
    const a = await authorize(gh.url, rp, ws.owner.email, { scope: 'openid' });
    const form = redeem(a);
    const answers = await Promise.all(Array.from({ length: 4 }, () => rawToken(gh.issuer, form, basic())));
    const live: string[] = [];
    for (const r of answers.filter((x) => x.status === 200)) {
      if ((await oidc.tokenIntrospection(rp, String(r.body.access_token))).active)
        live.push(String(r.body.access_token));
    }
    // RFC 6749 §4.1.2: a code is single-use; a second redemption must leave no working tokens.
    expect(live.length, answers.map((x) => x.status).join(',')).toBeLessThanOrEqual(1);
  });

  it('refuses a code redeemed by another client', async () => {
    const a = await authorize(gh.url, rp, ws.owner.email, { scope: 'openid' });
    const other = await registerClient(gh.container, ws.id, { name: 'Other app' });
    const res = await rawToken(gh.issuer, redeem(a), { id: other.clientId, secret: other.clientSecret! });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  it('refuses a bad client secret, an unknown client and a missing one (invalid_client)', async () => {
    const a = await authorize(gh.url, rp, ws.owner.email, { scope: 'openid' });
    const form = redeem(a);
    const secret = client.clientSecret!;
    const near = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    for (const creds of [
      { id: client.clientId, secret: near },
      { id: client.clientId, secret: '' },
      { id: client.clientId, secret: `${secret}x` },
      { id: 'cl_does_not_exist', secret },
    ]) {
      const res = await rawToken(gh.issuer, form, creds);
      expect(res.status, JSON.stringify(creds)).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    }
    const post = await rawToken(gh.issuer, { ...form, client_id: client.clientId, client_secret: near });
    expect(post.status).toBe(401);
    // None of the attempts spent the code: the real client still gets its tokens.
    const ok = await rawToken(gh.issuer, form, basic());
    expect(ok.status).toBe(200);
    // A wrong-secret attempt at client_credentials and introspection is refused the same way.
    const intro = await fetch(rp.serverMetadata().introspection_endpoint!, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.clientId}:${near}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: String(ok.body.access_token) }).toString(),
    });
    expect(intro.status).toBe(401);
  });

  it('refuses a pushed authorization request with a bad secret or an unregistered redirect_uri', async () => {
    const par = rp.serverMetadata().pushed_authorization_request_endpoint!;
    const form = {
      client_id: client.clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: CALLBACK,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    };
    const push = (body: Record<string, string>, secret: string) =>
      fetch(par, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${client.clientId}:${secret}`).toString('base64')}`,
        },
        body: new URLSearchParams(body).toString(),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    const bad = await push(form, 'not-the-secret');
    expect(bad.status).toBe(401);
    expect(bad.body.error).toBe('invalid_client');
    const evil = await push({ ...form, redirect_uri: 'https://evil.test/cb' }, client.clientSecret!);
    expect(evil.status).toBe(400);
    expect(evil.body.request_uri).toBeUndefined();
    const ok = await push(form, client.clientSecret!);
    expect(ok.status).toBe(201);
    expect(String(ok.body.request_uri)).toMatch(/^urn:ietf:params:oauth:request_uri:/);
  });

  it('stores client secrets hashed, never in clear', async () => {
    const text = await dumpStore(choice, gh.dataDir);
    expect(text).toContain(client.clientId); // the dump does see the client
    expect(text).not.toContain(client.clientSecret!);
  });

  it("does not hand a member of one workspace a code for another workspace's app", async () => {
    const other = await createWorkspace(gh.container, 'globex');
    const b = new HttpBrowser(gh.url);
    const url = oidc.buildAuthorizationUrl(rp, {
      scope: 'openid',
      redirect_uri: CALLBACK,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const refused = await walk(b, await b.get(url.toString()), other.owner.email).then(
      (u) => u,
      (e: Error) => e,
    );
    if (refused instanceof URL) expect(refused.searchParams.get('code')).toBeNull();
    else expect(refused.message).toMatch(/unexpected page|neither sign-in nor consent|did not finish/);
  });
});
