/**
 * Security review findings on keys, against a real Gatehouse on loopback (both stores):
 *  - 10: a key holding any capped scope is never answered from the middleware's cache;
 *  - 6: a key's client_credentials token cannot dodge credits at a resource server (a JWT where
 *    the request costs credits is refused), and the key service counts token mints and token uses
 *    against the key's own rate limit (authenticateClient, hitRateLimit) without charging;
 *  - revoking, rotating or editing a key takes all of its power, and a key never loosens its own
 *    rate limit or expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseVerifier } from '../../../src/middleware/verifier.ts';
import { rawToken } from '../oidc/fixtures.ts';
import { type KeyWorld, keyWorld, stores } from './fixtures.ts';

describe.each(stores)('review fixes on keys (%s store)', (_name, store) => {
  let w: KeyWorld;
  const verifiers: GatehouseVerifier[] = [];
  const verifier = async () => {
    const v = new GatehouseVerifier({ gatehouseUrl: w.server.url, cacheTtlMs: 60_000, revocationPollMs: 0 });
    verifiers.push(v);
    return v;
  };

  beforeAll(async () => {
    w = await keyWorld(store());
    await w.c.apiKeys.scopes.editScope(w.a.id, 'emails:send', { cap: { limit: 1, windowSeconds: 3600 } });
  });
  afterAll(async () => {
    for (const v of verifiers) v.close();
    await w?.server.close();
  });

  describe('finding 10: per-scope caps and the middleware cache', () => {
    it('counts every capped check of a key even after an uncapped check of the same key', async () => {
      const k = await w.key({ name: 'mixed', scopes: ['videos:read', 'emails:send'] });
      const v = await verifier();
      const h = { authorization: `Bearer ${k.secret}` };
      const first = await v.check(h, { scopes: ['videos:read'] });
      expect(first.ok).toBe(true);
      // Nothing of this key may be cached: it holds a capped scope.
      expect(v.size).toBe(0);
      const sends: (number | 'ok')[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await v.check(h, { scopes: ['emails:send'] });
        sends.push(r.ok ? 'ok' : r.status);
      }
      expect(sends).toEqual(['ok', 429, 429]);
    });

    it('treats a grant-all key as capped when the workspace has any capped scope', async () => {
      const k = await w.key({ name: 'all', grantAll: true });
      const verify = await w.call('POST', '/api/v1/keys/verify', undefined, {
        key: k.secret,
        required_scopes: ['videos:read'],
      });
      expect(verify.body).toMatchObject({ valid: true, metered: true });
      const v = await verifier();
      const h = { authorization: `Bearer ${k.secret}` };
      expect((await v.check(h, { scopes: ['videos:read'] })).ok).toBe(true);
      const sends: (number | 'ok')[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await v.check(h, { scopes: ['emails:send'] });
        sends.push(r.ok ? 'ok' : r.status);
      }
      expect(sends).toEqual(['ok', 429, 429]);
    });

    it('still caches a key none of whose scopes is capped', async () => {
      const k = await w.key({ name: 'plain', scopes: ['videos:read'] });
      const v = await verifier();
      const h = { authorization: `Bearer ${k.secret}` };
      await v.check(h, { scopes: ['videos:read'] });
      const again = await v.check(h, { scopes: ['videos:read'] });
      expect(again.ok && again.principal.cached).toBe(true);
    });
  });

  describe('finding 6: a key and its client_credentials token', () => {
    it('refuses a JWT where the request costs credits, and charges nothing', async () => {
      const k = await w.key({ name: 'jwt', scopes: ['videos:write'] }, w.b.id);
      await w.c.apiKeys.credits.topUp(w.b.id, 100);
      const tok = await rawToken(
        w.server.issuer,
        { grant_type: 'client_credentials' },
        { id: k.id, secret: k.secret },
      );
      expect(tok.status).toBe(200);
      const jwt = String(tok.body.access_token);
      const v = await verifier();
      const h = { authorization: `Bearer ${jwt}` };
      for (let i = 0; i < 3; i++) {
        const r = await v.check(h, { scopes: ['videos:write'], cost: 5 });
        expect(r.ok).toBe(false);
        if (!r.ok) {
          expect(r.status).toBe(401);
          expect(r.body).toMatchObject({
            error: 'invalid_token',
            message: 'This request costs credits: present the API key itself.',
          });
          expect(r.headers['WWW-Authenticate']).toMatch(/invalid_token/);
        }
      }
      expect(await w.c.apiKeys.credits.balance(w.b.id)).toBe(100);
      // The same token where nothing is charged, and the key itself where it is: both fine.
      expect((await v.check(h, { scopes: ['videos:write'] })).ok).toBe(true);
      expect(
        (await v.check({ authorization: `Bearer ${k.secret}` }, { scopes: ['videos:write'], cost: 5 })).ok,
      ).toBe(true);
      expect(await w.c.apiKeys.credits.balance(w.b.id)).toBe(95);
    });

    it('authenticateClient counts a mint against the key rate limit, never charges', async () => {
      const k = await w.key(
        { name: 'minter', scopes: ['videos:read'], rateLimit: { requests: 2, windowSeconds: 3600 } },
        w.b.id,
      );
      const before = await w.c.apiKeys.credits.balance(w.b.id);
      // Another key's id with this secret: not this client, and no hit on anyone's limit.
      expect(await w.c.apiKeys.authenticateClient(w.b.adminId, k.secret)).toEqual({
        valid: false,
        reason: 'key_invalid',
      });
      const first = await w.c.apiKeys.authenticateClient(k.id, k.secret);
      expect(first).toMatchObject({ valid: true, keyId: k.id, rateLimit: { limit: 2, remaining: 1 } });
      expect(await w.c.apiKeys.authenticateClient(k.id, k.secret)).toMatchObject({ valid: true });
      expect(await w.c.apiKeys.authenticateClient(k.id, k.secret)).toMatchObject({
        valid: false,
        reason: 'rate_limited',
        keyId: k.id,
      });
      // The same window as the key's direct use.
      const direct = await w.call('POST', '/api/v1/keys/verify', undefined, { key: k.secret });
      expect(direct.body).toMatchObject({ valid: false, error: 'rate_limited' });
      expect(await w.c.apiKeys.credits.balance(w.b.id)).toBe(before);
      expect(await w.c.apiKeys.authenticateClient(k.id, 'sk_live_nope')).toMatchObject({ valid: false });
    });

    it('hitRateLimit counts a use of the key token against the key rate limit', async () => {
      const k = await w.key(
        { name: 'token user', scopes: ['videos:read'], rateLimit: { requests: 2, windowSeconds: 3600 } },
        w.b.id,
      );
      expect(await w.c.apiKeys.hitRateLimit(k.id)).toMatchObject({
        valid: true,
        rateLimit: { remaining: 1 },
      });
      expect(await w.c.apiKeys.hitRateLimit(k.id)).toMatchObject({
        valid: true,
        rateLimit: { remaining: 0 },
      });
      const third = await w.c.apiKeys.hitRateLimit(k.id);
      expect(third).toMatchObject({ valid: false, reason: 'rate_limited', limit: 2 });
      expect(third.valid === false && third.reason === 'rate_limited' && third.retryAfter).toBeGreaterThan(0);
      const unlimited = await w.key({ name: 'free', scopes: ['videos:read'] }, w.b.id);
      expect(await w.c.apiKeys.hitRateLimit(unlimited.id)).toMatchObject({ valid: true, rateLimit: null });
      await w.c.apiKeys.revoke(w.b.id, unlimited.id);
      expect(await w.c.apiKeys.hitRateLimit(unlimited.id)).toMatchObject({
        valid: false,
        reason: 'key_revoked',
      });
      expect(await w.c.apiKeys.hitRateLimit('key_doesnotexist0000000000')).toEqual({
        valid: false,
        reason: 'key_invalid',
      });
    });
  });

  describe('managing a key takes all of its power; a key never loosens its own limits', () => {
    it('a narrower api_keys:manage key cannot revoke, rotate or edit a wider key', async () => {
      const manager = await w.key({ name: 'manager', scopes: ['api_keys:manage', 'videos:read'] });
      const grantAll = await w.key({ name: 'root', grantAll: true });
      const wider = await w.key({ name: 'wider', scopes: ['videos:read', 'videos:write'] });
      for (const target of [grantAll, wider]) {
        const revoke = await w.call('POST', `/api/v1/keys/${target.id}/revoke`, manager.secret);
        expect(revoke.status, 'revoke').toBe(403);
        expect(revoke.body.error).toBe('scope_escalation');
        expect((await w.call('DELETE', `/api/v1/keys/${target.id}`, manager.secret)).status, 'delete').toBe(
          403,
        );
        expect((await w.call('POST', `/api/v1/keys/${target.id}/rotate`, manager.secret, {})).status).toBe(
          403,
        );
        const patch = await w.call('PATCH', `/api/v1/keys/${target.id}`, manager.secret, {
          rate_limit: null,
          expires_at: null,
        });
        expect(patch.status, 'patch').toBe(403);
      }
      // Not even narrowing a wider key to what the manager holds.
      const narrow = await w.call('PATCH', `/api/v1/keys/${wider.id}`, manager.secret, {
        scopes: ['videos:read'],
      });
      expect(narrow.status).toBe(403);
      expect(narrow.body.missing_scopes).toEqual(['videos:write']);
      // Both keys still work untouched.
      for (const target of [grantAll, wider]) {
        const r = await w.call('POST', '/api/v1/keys/verify', undefined, { key: target.secret });
        expect(r.body.valid).toBe(true);
      }
      // A key within the manager's power: fine.
      const within = await w.key({ name: 'within', scopes: ['videos:read'] });
      expect((await w.call('POST', `/api/v1/keys/${within.id}/revoke`, manager.secret)).status).toBe(200);
    });

    it('a key may tighten but not loosen its own rate limit and expiry', async () => {
      const expires = new Date(Date.now() + 86_400_000);
      const self = await w.key({
        name: 'self',
        scopes: ['api_keys:manage', 'videos:read'],
        rateLimit: { requests: 50, windowSeconds: 3600 },
        expiresAt: expires,
      });
      const path = `/api/v1/keys/${self.id}`;
      for (const body of [
        { rate_limit: null },
        { rate_limit: { requests: 51, window_seconds: 3600 } },
        { rate_limit: { requests: 50, window_seconds: 60 } },
        { expires_at: null },
        { expires_at: new Date(expires.getTime() + 60_000).toISOString() },
      ]) {
        const r = await w.call('PATCH', path, self.secret, body);
        expect(r.status, JSON.stringify(body)).toBe(403);
        expect(r.body.error).toBe('forbidden');
      }
      const tighter = await w.call('PATCH', path, self.secret, {
        rate_limit: { requests: 40, window_seconds: 3600 },
        expires_at: new Date(expires.getTime() - 60_000).toISOString(),
      });
      expect(tighter.status).toBe(200);
      expect(tighter.body.rate_limit).toEqual({ requests: 40, window_seconds: 3600 });
      // Nor through a twin: a key it creates (or edits) gets no looser limits than its own.
      const twinLimits = {
        rate_limit: { requests: 40, window_seconds: 3600 },
        expires_at: new Date(expires.getTime() - 60_000).toISOString(),
      };
      for (const loose of [
        { rate_limit: null },
        { expires_at: null },
        { expires_at: undefined, temporary: true },
      ]) {
        const twin = await w.call('POST', '/api/v1/keys', self.secret, {
          name: 'twin',
          scopes: ['videos:read'],
          ...twinLimits,
          ...loose,
        });
        expect(twin.status, JSON.stringify(loose)).toBe(403);
      }
      const twin = await w.call('POST', '/api/v1/keys', self.secret, {
        name: 'twin',
        scopes: ['videos:read'],
        ...twinLimits,
      });
      expect(twin.status).toBe(201);
      const twinId = twin.body.id;
      const liftTwin = await w.call('PATCH', `/api/v1/keys/${twinId}`, self.secret, { rate_limit: null });
      expect(liftTwin.status).toBe(403);
      // Someone holding everything the key holds may loosen it.
      const lifted = await w.call('PATCH', path, w.a.admin, { rate_limit: null, expires_at: null });
      expect(lifted.status).toBe(200);
      expect(lifted.body).toMatchObject({ rate_limit: null, expires_at: null });
    });
  });
});
