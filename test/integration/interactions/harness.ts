import { afterAll, beforeAll, expect, inject } from 'vitest';
import { mongoUriWithDb, type StoreChoice, startGatehouse, type TestServer } from '../../helpers/server.ts';
import { authorizeUrl, createTenant, PASSWORD, type Tenant } from './fixtures.ts';
import { HttpBrowser, inputValue, type Page } from './http-browser.ts';

/** Every interaction test runs on both stores. */
export const STORES: [string, () => StoreChoice][] = [
  ['embedded', () => ({ kind: 'embedded' })],
  ['mongo', () => ({ kind: 'mongo', uri: mongoUriWithDb(inject('mongoUri')) })],
];

/** The app's redirect URI; never contacted: the browser stops at the first foreign redirect. */
export const CALLBACK = 'http://127.0.0.1:9/callback';

export interface PagesEnv {
  gh: TestServer;
  t: Tenant;
}

/**
 * A Gatehouse (started before the tests of the calling describe, closed after) with one tenant,
 * and the steps the page tests share.
 */
export function usePages(store: () => StoreChoice, env: Record<string, string> = {}) {
  const s = {} as PagesEnv;
  beforeAll(async () => {
    s.gh = await startGatehouse(store(), env);
    s.t = await createTenant(s.gh.container, CALLBACK);
  });
  afterAll(async () => {
    await s.gh?.close();
  });

  /** A fresh browser at the sign-in page of a new authorization request. */
  async function atSignIn(extra: Record<string, string> = {}) {
    const b = new HttpBrowser(s.gh.url);
    const page = await b.follow(await b.get(authorizeUrl(s.gh.issuer, s.t, extra)));
    expect(page.status).toBe(200);
    expect(page.url).toMatch(/\/interaction\/[^/]+$/);
    const csrf = inputValue(page.html, 'csrf')!;
    return { b, page, csrf, uid: uidOf(page) };
  }

  function signIn(
    b: HttpBrowser,
    uid: string,
    csrf: string,
    email: string,
    password = PASSWORD,
  ): Promise<Page> {
    return b.post(`/interaction/${uid}/login`, { csrf, email, password });
  }

  /** A browser signed in to the app (sign-in and consent done), and the end-session URL for it. */
  async function signedIn(params: Record<string, string> = {}) {
    const { b, uid, csrf } = await atSignIn({ scope: 'openid' });
    const consent = await b.follow(await signIn(b, uid, csrf, s.t.member.email));
    await b.follow(
      await b.post(`/interaction/${uidOf(consent)}/confirm`, { csrf: inputValue(consent.html, 'csrf')! }),
    );
    const endSession = new URL('/session/end', s.gh.issuer);
    endSession.search = new URLSearchParams(params).toString();
    return { b, endSession: endSession.toString() };
  }

  return { state: s, atSignIn, signIn, signedIn };
}

/** The interaction uid of a page at /interaction/:uid. */
export function uidOf(page: Page): string {
  return new URL(page.url).pathname.split('/').pop()!;
}
