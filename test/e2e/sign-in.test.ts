import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../helpers/server.ts';
import { createTenant, PASSWORD, type Tenant } from '../integration/interactions/fixtures.ts';

/**
 * A real browser (Debian's Chromium) signs a user in through the interaction pages, consents,
 * and a relying party (openid-client) receives and verifies the tokens; then signs out.
 * Screenshots of every page land in test-artifacts/screenshots/.
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  process.stdout.write(`[e2e] skipped: ${CHROMIUM} is absent (install Debian's chromium package)\n`);

const SHOTS = join(process.cwd(), 'test-artifacts', 'screenshots');

/** The relying party's loopback callback: records each request and answers a small page. */
async function callbackServer(): Promise<{
  url: string;
  server: Server;
  next(): Promise<URL>;
  reset(): void;
}> {
  const waiting: ((u: URL) => void)[] = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', `http://${req.headers.host}`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Relying party</title><p>Back at the app.</p>');
    waiting.shift()?.(u);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/callback`,
    server,
    next: () => new Promise<URL>((resolve) => waiting.push(resolve)),
    /** Forgets waiters of an earlier (failed) test. */
    reset: () => {
      waiting.length = 0;
    },
  };
}

// A browser on a busy 2-core machine is slow: generous test time, and Playwright gives up first with a clear message.
describe.skipIf(!hasChromium)('sign-in in a real browser', { timeout: 60_000 }, () => {
  let gh: TestServer;
  let t: Tenant;
  let rp: Awaited<ReturnType<typeof callbackServer>>;
  let browser: Browser;
  let page: Page;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    rp = await callbackServer();
    gh = await startGatehouse({ kind: 'embedded' });
    t = await createTenant(gh.container, rp.url);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  // Each test gets its own browser context (cookies, pages): a failure cannot leak a pending
  // navigation or a session into the next test.
  let context: BrowserContext;
  beforeEach(async () => {
    rp.reset();
    context = await browser.newContext({ viewport: { width: 1024, height: 820 } });
    context.setDefaultTimeout(25_000);
    page = await context.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
  });
  afterEach(async () => {
    await context?.close();
  });

  afterAll(async () => {
    await browser?.close();
    await gh?.close();
    rp?.server.close();
  });

  /**
   * The relying party's view of Gatehouse, by discovery. The client registered
   * client_secret_basic (the registry's default), so the RP authenticates that way.
   */
  function rpConfig(): Promise<oidc.Configuration> {
    return oidc.discovery(
      new URL(gh.issuer),
      t.client.clientId,
      undefined,
      oidc.ClientSecretBasic(t.client.clientSecret),
      { execute: [oidc.allowInsecureRequests] },
    );
  }

  /** The text (or id) of the focused element. */
  function focused(): Promise<string | undefined> {
    return page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el?.id || el?.textContent?.trim();
    });
  }

  /** Whether the focused element draws a focus indicator (an outline or a ring). */
  function focusRingVisible(): Promise<boolean> {
    return page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return false;
      const style = getComputedStyle(el);
      return (style.outlineStyle !== 'none' && style.outlineWidth !== '0px') || style.boxShadow !== 'none';
    });
  }

  async function shot(name: string) {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  it('signs in with the keyboard, consents, and the app verifies the tokens; then signs out', async () => {
    const config = await rpConfig();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const authUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: rp.url,
      scope: 'openid email profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });

    // Sign-in page: the email field has focus; labels name every field.
    await page.goto(authUrl.toString());
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.locator('.card-head').textContent()).toContain(t.workspaceName);
    await shot('sign-in');
    expect(await focused()).toBe('email');
    expect(await page.getByLabel('Email address').getAttribute('autocomplete')).toBe('username');
    expect(await page.getByLabel('Password').getAttribute('autocomplete')).toBe('current-password');

    // A wrong password: the message is on the page, the email is kept.
    await page.keyboard.type(t.member.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type('not my password');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('Wrong email or password');
    await shot('sign-in-error');

    // Keyboard only: focus is on the password (the email is filled); Tab reaches the button.
    expect(await focused()).toBe('password');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Sign in');
    expect(await focusRingVisible()).toBe(true);
    await page.keyboard.press('Enter');

    // Consent in plain words.
    await page.getByRole('heading', { name: /wants to access your account/ }).waitFor();
    const text = await page.locator('.perms').first().textContent();
    expect(text).toContain('Confirm your identity');
    expect(text).toContain('See your email address');
    expect(text).toContain('See your name');
    expect(await page.locator('.card-head').textContent()).toContain(t.workspaceName);
    await shot('consent');
    // Keyboard, in reading order: "Not you?", Deny, then Allow, with a visible focus ring; Enter allows.
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Not you? Use another account');
    expect(await focusRingVisible()).toBe(true);
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Deny');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Allow');
    expect(await focusRingVisible()).toBe(true);
    const callback = rp.next();
    await page.keyboard.press('Enter');
    const cbUrl = await callback;

    // The relying party verifies the code exchange, the ID token and the userinfo.
    const tokens = await oidc
      .authorizationCodeGrant(config, cbUrl, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      })
      .catch((err: Error & { error?: string; error_description?: string }) => {
        // Name the protocol error in the failure, not just "error in the response body".
        throw new Error(`token exchange failed: ${err.error ?? err.message}: ${err.error_description ?? ''}`);
      });
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(t.member.id);
    expect(claims.iss).toBe(gh.issuer);
    expect(claims.aud).toBe(t.client.clientId);
    expect(claims.email).toBe(t.member.email);
    expect(claims.name).toBe('Ada Lovelace');
    expect(tokens.access_token).toBeTruthy();
    const info = await oidc.fetchUserInfo(config, tokens.access_token, t.member.id);
    expect(info.email).toBe(t.member.email);

    // Logout confirmation, then the signed-out page.
    await page.goto(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token! }).toString());
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    await shot('logout');
    expect(await focused()).toBe('Sign out');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
    await shot('signed-out');

    // Signed out for real: a new authorization asks for the password again.
    const again = oidc.buildAuthorizationUrl(config, {
      redirect_uri: rp.url,
      scope: 'openid',
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    await page.goto(again.toString());
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();

    expect(cspViolations).toEqual([]);
  });

  it('explains a refused sign-in, and refuses a form whose CSRF token was tampered with', async () => {
    const config = await rpConfig();
    const start = async () => {
      await page.context().clearCookies();
      await page.goto(
        oidc
          .buildAuthorizationUrl(config, {
            redirect_uri: rp.url,
            scope: 'openid',
            code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
            code_challenge_method: 'S256',
          })
          .toString(),
      );
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    };
    const signInAs = async (email: string) => {
      await page.getByLabel('Email address').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByLabel('Password').press('Enter');
      await page.getByRole('alert').waitFor();
      return (await page.getByRole('alert').textContent()) ?? '';
    };

    await start();
    expect(await signInAs(t.outsider.email)).toContain(`does not have access to ${t.workspaceName}`);
    await shot('sign-in-not-member');

    await start();
    expect(await signInAs(t.disabled.email)).toContain('This account is disabled');
    await shot('sign-in-disabled');

    await start();
    await page
      .locator('input[name="csrf"]')
      .first()
      .evaluate((el) => {
        (el as HTMLInputElement).value = 'A'.repeat(43);
      });
    await page.getByLabel('Email address').fill(t.member.email);
    await page.getByLabel('Password').fill(PASSWORD);
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByLabel('Password').press('Enter'),
    ]);
    expect(res.status()).toBe(403);
    await page.getByRole('heading', { name: 'This form has expired' }).waitFor();
    await shot('error-csrf');
    // The interaction survived the refusal: "Try again" leads back to a working sign-in.
    await page.getByRole('link', { name: 'Try again' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email address').fill(t.member.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Password').press('Enter');
    await page.getByRole('heading', { name: /wants to access your account/ }).waitFor();
  });

  it("lists API permissions in the workspace's words, and Deny returns access_denied to the app", async () => {
    const config = await rpConfig();
    await page.context().clearCookies();
    const state = oidc.randomState();
    await page.goto(
      oidc
        .buildAuthorizationUrl(config, {
          redirect_uri: rp.url,
          scope: 'openid email videos:read videos:write members:write',
          resource: `${gh.issuer}/api`,
          code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
          state,
        })
        .toString(),
    );
    await page.getByLabel('Email address').fill(t.member.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Password').press('Enter');
    await page.getByRole('heading', { name: /wants to access your account/ }).waitFor();
    const perms = await page.locator('.perms-block').textContent();
    expect(perms).toContain(`In ${t.workspaceName}, it may:`);
    expect(perms).toContain('List and read videos and their metadata');
    expect(perms).toContain('Invite, edit and remove members');
    expect(perms).toContain('high risk');
    await shot('consent-api');
    const callback = rp.next();
    await page.getByRole('button', { name: 'Deny' }).click();
    const back = await callback;
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(state);
  });

  it('lets someone else sign in from the consent page ("Not you?")', async () => {
    const config = await rpConfig();
    const grace = await gh.container.accounts.createUser({
      email: `grace.${Date.now()}@acme.test`,
      password: PASSWORD,
      name: 'Grace Hopper',
    });
    await gh.container.workspaces.addMember(t.workspaceId, grace.id, 'member');
    await page.context().clearCookies();

    // Ada signs in and allows "openid email"...
    const first = rp.next();
    await page.goto(
      oidc
        .buildAuthorizationUrl(config, {
          redirect_uri: rp.url,
          scope: 'openid email',
          code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
        })
        .toString(),
    );
    await page.getByLabel('Email address').fill(t.member.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Password').press('Enter');
    await page.getByRole('button', { name: 'Allow' }).click();
    await first;

    // ...then, on the same browser, the app asks for more and the consent page names Ada.
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    await page.goto(
      oidc
        .buildAuthorizationUrl(config, {
          redirect_uri: rp.url,
          scope: 'openid email profile',
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
        })
        .toString(),
    );
    await page.getByRole('heading', { name: /wants to access your account/ }).waitFor();
    expect(await page.locator('.card-head').textContent()).toContain(t.member.email);
    await page.getByRole('link', { name: 'Not you? Use another account' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await focused()).toBe('email');
    await page.keyboard.type(grace.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    // oidc-provider ends Ada's session (an auto-submitted form), then asks Grace for consent.
    await page.getByRole('heading', { name: /wants to access your account/ }).waitFor();
    expect(await page.locator('.card-head').textContent()).toContain(grace.email);
    await shot('consent-switched-account');
    const callback = rp.next();
    await page.getByRole('button', { name: 'Allow' }).click();
    const tokens = await oidc.authorizationCodeGrant(config, await callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      idTokenExpected: true,
    });
    expect(tokens.claims()!.sub).toBe(grace.id);
    expect(tokens.claims()!.name).toBe('Grace Hopper');
  });

  it('shows protocol errors on a designed page with a request id', async () => {
    const res = await page.goto(
      `${gh.issuer}/auth?client_id=${t.client.clientId}&response_type=code&scope=openid&redirect_uri=https://evil.test/cb`,
    );
    expect(res?.status()).toBe(400);
    await page.getByRole('heading', { name: 'This app is not set up correctly' }).waitFor();
    expect(await page.locator('.details').textContent()).toContain(res!.headers()['x-request-id']!);
    await shot('error');
  });

  it('fits a phone screen, in the dark colour scheme too', async () => {
    const phone = await browser.newPage({ viewport: { width: 375, height: 740 }, colorScheme: 'dark' });
    try {
      await phone.goto(
        oidc
          .buildAuthorizationUrl(await rpConfig(), {
            redirect_uri: rp.url,
            scope: 'openid',
            code_challenge: 'x'.repeat(43),
            code_challenge_method: 'S256',
          })
          .toString(),
      );
      await phone.getByRole('heading', { name: 'Sign in' }).waitFor();
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
      expect(overflow).toBe(false);
      // The dark palette is in use (the card is not white).
      const card = await phone.locator('.card').evaluate((el) => getComputedStyle(el).backgroundColor);
      expect(card).not.toBe('rgb(255, 255, 255)');
      await phone.screenshot({ path: join(SHOTS, 'sign-in-phone-dark.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  });
});
