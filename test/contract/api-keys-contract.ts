/**
 * API keys on the storage port: the key service's rules (shown once, no escalation, explicit
 * grant-all, temporary keys, revoke/rotate/edit effective at once, workspace isolation), the
 * verification reasons, rate limits, scope caps and credits, the scopes catalogue and presets —
 * run identically against each store (api-keys.test.ts). The clock is injected: expiry is
 * tested through reads.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateKey } from '../../src/api-keys/format.ts';
import { apiKeysSpec } from '../../src/api-keys/repository.ts';
import { ApiKeyService, type Caller, type ApiKeyService as Service } from '../../src/api-keys/service.ts';
import type { VerifyResult } from '../../src/api-keys/verify.ts';
import type { AuditEventInput } from '../../src/audit/model.ts';
import type { AppError } from '../../src/http/errors.ts';
import { Metrics } from '../../src/metrics.ts';
import type { Storage } from '../../src/storage/port.ts';
import type { WebhookEvent } from '../../src/webhooks/events.ts';
import { BUILTIN_SCOPES } from '../../src/workspaces/scopes.ts';
import { WorkspaceService } from '../../src/workspaces/service.ts';
import { rejection } from '../helpers/rejection.ts';
import { type FakeClock, fakeClock } from '../helpers/stores.ts';

export type OpenKeysStore = (clock: FakeClock) => Promise<{ storage: Storage; cleanup(): Promise<void> }>;

const ALL: Caller = { scopes: 'all' };
const DAY = 86_400_000;

function reason(r: VerifyResult): string {
  return r.valid ? 'valid' : r.reason;
}

export function apiKeysContract(name: string, open: OpenKeysStore): void {
  describe(`API keys on the ${name} store`, () => {
    let clock: FakeClock;
    let storage: Storage;
    let cleanup: () => Promise<void>;
    let keys: Service;
    let events: WebhookEvent[];
    let audits: AuditEventInput[];
    let metrics: Metrics;
    let wsA: string;
    let wsB: string;

    beforeEach(async () => {
      clock = fakeClock();
      ({ storage, cleanup } = await open(clock));
      const workspaces = new WorkspaceService(storage, clock);
      events = [];
      audits = [];
      metrics = new Metrics(false);
      keys = new ApiKeyService({
        audit: { record: (e) => void audits.push(e) },
        metrics,
        storage,
        clock,
        workspaces,
        emit: async (e) => {
          events.push(e);
          return 1;
        },
        usageFlushMs: 3_600_000,
      });
      await storage.ensureIndexes();
      wsA = (await workspaces.create({ name: 'Acme' }, 'usr_owner')).id;
      wsB = (await workspaces.create({ name: 'VideoGen', settings: { key_prefix: 'vg_key' } }, 'usr_owner'))
        .id;
    });

    afterEach(async () => {
      await keys.close();
      await cleanup();
    });

    const create = (ws: string, input: Parameters<Service['create']>[1], caller: Caller = ALL) =>
      keys.create(ws, input, caller);

    describe('create', () => {
      it('returns the full secret once; storage keeps only its SHA-256 digest and a hint', async () => {
        const { key, secret } = await create(wsA, { name: 'server', scopes: ['videos:read'] });
        expect(secret).toMatch(/^sk_live_[0-9A-Za-z]{33}$/);
        expect(key).toMatchObject({
          name: 'server',
          environment: 'live',
          scopes: ['videos:read'],
          status: 'active',
        });
        expect(key.id).toMatch(/^key_[0-9A-Za-z]{16}$/);
        expect(key.hint).toBe(`sk_live_…${secret.slice(-4)}`);
        const raw = await storage.collection<{ id: string }>(apiKeysSpec).get(key.id);
        expect(JSON.stringify(raw)).not.toContain(secret);
        expect(JSON.stringify(raw)).not.toContain(secret.slice(8, 30));
        expect(raw).toMatchObject({ digest: createHash('sha256').update(secret).digest('hex') });
        const again = await keys.get(wsA, key.id);
        expect(JSON.stringify(again)).not.toContain(secret);
        expect(JSON.stringify(events)).not.toContain(secret);
        expect(events.map((e) => e.type)).toEqual(['key.created']);
      });

      it("uses the workspace's prefix and the asked environment", async () => {
        const { secret } = await create(wsB, { name: 'sdk', environment: 'test', scopes: ['videos:read'] });
        expect(secret.startsWith('vg_key_test_')).toBe(true);
        expect(reason(await keys.verify({ key: secret }))).toBe('valid');
      });

      it('needs a name and at least one scope: no wildcard by accident', async () => {
        expect(await rejection(create(wsA, { name: '  ', scopes: ['videos:read'] }))).toMatchObject({
          status: 400,
          extra: { field: 'name' },
        });
        expect(await rejection(create(wsA, { name: 'k' }))).toMatchObject({
          status: 400,
          code: 'scopes_required',
        });
        expect(await rejection(create(wsA, { name: 'k', scopes: [] }))).toMatchObject({
          code: 'scopes_required',
        });
        expect(await rejection(create(wsA, { name: 'k', scopes: ['*'] }))).toMatchObject({ status: 400 });
        expect(await rejection(create(wsA, { name: 'k', scopes: ['videos:*'] }))).toMatchObject({
          status: 400,
        });
        expect(await rejection(create(wsA, { name: 'k', scopes: ['nope:read'] }))).toMatchObject({
          status: 400,
          code: 'unknown_scopes',
          extra: { unknown_scopes: ['nope:read'] },
        });
        expect(await rejection(create(wsA, { name: 'k', grantAll: false }))).toMatchObject({
          code: 'scopes_required',
        });
        expect((await keys.list(wsA)).data).toEqual([]);
      });

      it('grants everything only through the explicit grant_all flag, and only to a caller holding everything', async () => {
        const { key, secret } = await create(wsA, { name: 'ops', grantAll: true });
        expect(key).toMatchObject({ grantAll: true, scopes: [] });
        const r = await keys.verify({ key: secret, requiredScopes: ['members:write', 'future:scope'] });
        expect(r).toMatchObject({ valid: true, scopes: 'all' });
        expect(
          await rejection(
            create(wsA, { name: 'x', grantAll: true }, { scopes: BUILTIN_SCOPES.map((s) => s.name) }),
          ),
        ).toMatchObject({ status: 403, code: 'scope_escalation' });
        expect(
          await rejection(create(wsA, { name: 'x', grantAll: true, scopes: ['videos:read'] })),
        ).toMatchObject({
          status: 400,
        });
        expect(
          await rejection(create(wsA, { name: 'x', grantAll: true, preset: 'read-only' })),
        ).toMatchObject({
          status: 400,
        });
      });

      it('refuses escalation: a caller cannot create a key with a scope it does not hold', async () => {
        const caller: Caller = { scopes: ['videos:read', 'api_keys:manage'] };
        const err = await rejection(
          create(wsA, { name: 'x', scopes: ['videos:read', 'videos:write'] }, caller),
        );
        expect(err).toMatchObject({
          status: 403,
          code: 'scope_escalation',
          extra: { missing_scopes: ['videos:write'] },
        });
        expect(await rejection(create(wsA, { name: 'x', preset: 'read-only' }, caller))).toMatchObject({
          code: 'scope_escalation',
          extra: { missing_scopes: ['collections:read', 'members:read'] },
        });
        const ok = await create(wsA, { name: 'x', scopes: ['videos:read'] }, caller);
        expect(ok.key.scopes).toEqual(['videos:read']);
      });

      it('makes temporary keys expire after 7 days unless expires_at says otherwise', async () => {
        const now = clock.now().getTime();
        const t = await create(wsA, { name: 'partner', temporary: true, scopes: ['videos:read'] });
        expect(t.key.expiresAt).toEqual(new Date(now + 7 * DAY));
        expect(t.key.temporary).toBe(true);
        const custom = new Date(now + 2 * DAY);
        const c = await create(wsA, {
          name: 'p2',
          temporary: true,
          expiresAt: custom,
          scopes: ['videos:read'],
        });
        expect(c.key.expiresAt).toEqual(custom);
        const iso = await create(wsA, {
          name: 'p3',
          expiresAt: '2030-02-01T00:00:00Z',
          scopes: ['videos:read'],
        });
        expect(iso.key.expiresAt).toEqual(new Date('2030-02-01T00:00:00Z'));
        const forever = await create(wsA, { name: 'server', scopes: ['videos:read'] });
        expect(forever.key.expiresAt).toBeNull();
        expect(
          await rejection(create(wsA, { name: 'x', expiresAt: clock.now(), scopes: ['videos:read'] })),
        ).toMatchObject({
          status: 400,
          extra: { field: 'expires_at' },
        });
        expect(
          await rejection(create(wsA, { name: 'x', expiresAt: 'tomorrow', scopes: ['videos:read'] })),
        ).toMatchObject({
          status: 400,
        });
      });

      it('validates metadata and rate limits, and refuses unknown workspaces and fields', async () => {
        const ok = await create(wsA, {
          name: 'k',
          scopes: ['videos:read'],
          metadata: { team: 'data', build: 42, ci: true, none: null },
          rateLimit: { requests: 100, windowSeconds: 60 },
        });
        expect(ok.key.metadata).toEqual({ team: 'data', build: 42, ci: true, none: null });
        expect(ok.key.rateLimit).toEqual({ requests: 100, windowSeconds: 60 });
        const big = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'x'.repeat(300)]));
        expect(
          await rejection(create(wsA, { name: 'k', scopes: ['videos:read'], metadata: big })),
        ).toMatchObject({
          status: 400,
        });
        const bad = { name: 'k', scopes: ['videos:read'], metadata: { 'a.b': 1 } };
        expect(await rejection(create(wsA, bad))).toMatchObject({ status: 400 });
        const nested = { name: 'k', scopes: ['videos:read'], metadata: { a: { b: 1 } } } as never;
        expect(await rejection(create(wsA, nested))).toMatchObject({ status: 400 });
        const rl = { name: 'k', scopes: ['videos:read'], rateLimit: { requests: 0, windowSeconds: 60 } };
        expect(await rejection(create(wsA, rl))).toMatchObject({ status: 400 });
        expect(
          await rejection(create(wsA, { name: 'k', scopes: ['videos:read'], role: 'admin' } as never)),
        ).toMatchObject({
          status: 400,
        });
        expect(await rejection(create('ws_nope', { name: 'k', scopes: ['videos:read'] }))).toMatchObject({
          status: 404,
        });
      });

      it('audits management actions and refused escalations, with the actor', async () => {
        const admin: Caller = { scopes: 'all', actor: { kind: 'user', id: 'usr_admin' }, ip: '192.0.2.1' };
        const { key } = await create(wsA, { name: 'k', scopes: ['videos:read'] }, admin);
        await keys.update(wsA, key.id, { name: 'k2' }, admin);
        await keys.rotate(wsA, key.id, {}, admin);
        const weak: Caller = {
          scopes: ['videos:read'],
          actor: { kind: 'api_key', id: 'key_weakweakweakweak' },
        };
        await rejection(create(wsA, { name: 'x', scopes: ['members:write'] }, weak));
        await rejection(create(wsA, { name: '', scopes: ['videos:read'] }, weak)); // plain bad input: not audited
        await keys.revoke(wsA, key.id, admin);
        await new Promise((r) => setImmediate(r));
        expect(audits.map((a) => [a.action, a.outcome, a.target?.id ?? null, a.actor.id])).toEqual([
          ['key.created', 'success', key.id, 'usr_admin'],
          ['key.updated', 'success', key.id, 'usr_admin'],
          ['key.rotated', 'success', key.id, 'usr_admin'],
          ['key.created', 'failure', null, 'key_weakweakweakweak'],
          ['key.revoked', 'success', key.id, 'usr_admin'],
        ]);
        expect(audits[0]).toMatchObject({ workspaceId: wsA, ip: '192.0.2.1', at: clock.now() });
        expect(audits[3]).toMatchObject({ reason: 'scope_escalation' });
      });
    });

    describe('verification', () => {
      it('answers valid with the key, its workspace and scopes', async () => {
        const { key, secret } = await create(wsA, { name: 'k', scopes: ['videos:read', 'videos:write'] });
        const r = await keys.verify({ key: secret, workspaceId: wsA, requiredScopes: ['videos:read'] });
        expect(r).toEqual({
          valid: true,
          keyId: key.id,
          workspaceId: wsA,
          name: 'k',
          environment: 'live',
          scopes: ['videos:read', 'videos:write'],
          expiresAt: null,
          rateLimit: null,
          creditsRemaining: null,
          metered: false,
        });
      });

      it('answers key_invalid for noise, a bad checksum, an unknown key and a key of another workspace', async () => {
        const { secret } = await create(wsA, { name: 'k', scopes: ['videos:read'] });
        expect(reason(await keys.verify({ key: 'sk_live_nope' }))).toBe('key_invalid');
        expect(
          reason(await keys.verify({ key: `${secret.slice(0, -1)}${secret.endsWith('a') ? 'b' : 'a'}` })),
        ).toBe('key_invalid');
        expect(reason(await keys.verify({ key: generateKey('sk', 'live').key }))).toBe('key_invalid');
        expect(await keys.verify({ key: secret, workspaceId: wsB })).toEqual({
          valid: false,
          reason: 'key_invalid',
        });
        expect(reason(await keys.verify({ key: secret, workspaceId: wsA }))).toBe('valid');
        const exposition = await metrics.registry.metrics();
        expect(exposition).toContain('gatehouse_api_key_verifications_total{result="key_invalid"} 4');
        expect(exposition).toContain('gatehouse_api_key_verifications_total{result="valid"} 1');
      });

      it('keeps workspaces apart: another workspace cannot read, edit, revoke or rotate a key', async () => {
        const { key, secret } = await create(wsA, { name: 'k', scopes: ['videos:read'] });
        expect(await rejection(keys.get(wsB, key.id))).toMatchObject({ status: 404 });
        expect(await rejection(keys.update(wsB, key.id, { name: 'mine' }, ALL))).toMatchObject({
          status: 404,
        });
        expect(await rejection(keys.revoke(wsB, key.id))).toMatchObject({ status: 404 });
        expect(await rejection(keys.rotate(wsB, key.id, {}, ALL))).toMatchObject({ status: 404 });
        expect((await keys.list(wsB)).data).toEqual([]);
        // ids that are not id strings never reach the store as filters
        expect(await rejection(keys.get(wsA, { $ne: null } as never))).toMatchObject({ status: 404 });
        expect(await rejection(keys.revoke({ $ne: null } as never, key.id))).toMatchObject({ status: 404 });
        expect(await rejection(keys.list({ $ne: null } as never))).toMatchObject({ status: 404 });
        expect(reason(await keys.verify({ key: secret }))).toBe('valid');
        expect((await keys.get(wsA, key.id)).name).toBe('k');
      });

      it('answers key_revoked right after a revoke', async () => {
        const { key, secret } = await create(wsA, { name: 'k', scopes: ['videos:read'] });
        const revoked = await keys.revoke(wsA, key.id);
        expect(revoked).toMatchObject({ status: 'revoked', revokedAt: clock.now() });
        expect(await keys.verify({ key: secret })).toEqual({
          valid: false,
          reason: 'key_revoked',
          keyId: key.id,
          workspaceId: wsA,
        });
        clock.advance(1000);
        expect((await keys.revoke(wsA, key.id)).revokedAt).toEqual(revoked.revokedAt);
        expect(events.filter((e) => e.type === 'key.revoked')).toHaveLength(1);
        expect(await rejection(keys.update(wsA, key.id, { name: 'again' }, ALL))).toMatchObject({
          status: 409,
          code: 'key_revoked',
        });
        expect(await rejection(keys.rotate(wsA, key.id, {}, ALL))).toMatchObject({ code: 'key_revoked' });
      });

      it('expires keys by the clock, and shows them as expired', async () => {
        const { key, secret } = await create(wsA, { name: 'k', temporary: true, scopes: ['videos:read'] });
        clock.advance(7 * DAY - 1);
        expect(reason(await keys.verify({ key: secret }))).toBe('valid');
        expect((await keys.get(wsA, key.id)).status).toBe('active');
        clock.advance(1);
        expect(reason(await keys.verify({ key: secret }))).toBe('key_expired');
        expect((await keys.get(wsA, key.id)).status).toBe('expired');
        expect((await keys.list(wsA, { status: 'expired' })).data.map((k) => k.id)).toEqual([key.id]);
        expect((await keys.list(wsA, { status: 'active' })).data).toEqual([]);
        expect(await rejection(keys.rotate(wsA, key.id, {}, ALL))).toMatchObject({ code: 'key_expired' });
        // extending the expiry brings it back
        await keys.update(wsA, key.id, { expiresAt: new Date(clock.now().getTime() + DAY) }, ALL);
        expect(reason(await keys.verify({ key: secret }))).toBe('valid');
      });

      it('answers insufficient_scope with the missing scopes', async () => {
        const { secret } = await create(wsA, { name: 'k', preset: 'read-only' });
        expect(
          await keys.verify({ key: secret, requiredScopes: ['videos:read', 'videos:write', 'emails:send'] }),
        ).toMatchObject({
          valid: false,
          reason: 'insufficient_scope',
          requiredScopes: ['videos:read', 'videos:write', 'emails:send'],
          missingScopes: ['videos:write', 'emails:send'],
        });
      });

      it('applies edited scopes on the very next call', async () => {
        const { key, secret } = await create(wsA, { name: 'k', scopes: ['videos:read', 'videos:write'] });
        expect(reason(await keys.verify({ key: secret, requiredScopes: ['videos:write'] }))).toBe('valid');
        const edited = await keys.update(wsA, key.id, { scopes: ['videos:read'] }, ALL);
        expect(edited.scopes).toEqual(['videos:read']);
        expect(reason(await keys.verify({ key: secret, requiredScopes: ['videos:write'] }))).toBe(
          'insufficient_scope',
        );
        await keys.update(wsA, key.id, { preset: 'content-agent' }, ALL);
        expect(reason(await keys.verify({ key: secret, requiredScopes: ['images:generate'] }))).toBe('valid');
        await keys.update(wsA, key.id, { grantAll: true }, ALL);
        expect(await keys.verify({ key: secret, requiredScopes: ['members:write'] })).toMatchObject({
          valid: true,
          scopes: 'all',
        });
        expect(await rejection(keys.update(wsA, key.id, { grantAll: false }, ALL))).toMatchObject({
          code: 'scopes_required',
        });
        await keys.update(wsA, key.id, { grantAll: false, scopes: ['analytics:read'] }, ALL);
        expect(reason(await keys.verify({ key: secret, requiredScopes: ['members:write'] }))).toBe(
          'insufficient_scope',
        );
        expect(events.filter((e) => e.type === 'key.updated')).toHaveLength(4);
      });

      it('refuses escalation on edit: no added scope the caller lacks, no grant-all, no key beyond the caller', async () => {
        const { key } = await create(wsA, { name: 'k', scopes: ['videos:read'] });
        const caller: Caller = { scopes: ['videos:read', 'collections:read'] };
        expect(
          await rejection(keys.update(wsA, key.id, { scopes: ['videos:read', 'videos:write'] }, caller)),
        ).toMatchObject({
          status: 403,
          code: 'scope_escalation',
          extra: { missing_scopes: ['videos:write'] },
        });
        expect(await rejection(keys.update(wsA, key.id, { grantAll: true }, caller))).toMatchObject({
          status: 403,
        });
        expect((await keys.update(wsA, key.id, { scopes: ['collections:read'] }, caller)).scopes).toEqual([
          'collections:read',
        ]);
        const strong = await create(wsA, { name: 'strong', scopes: ['members:write'] });
        expect(await rejection(keys.update(wsA, strong.key.id, { name: 'renamed' }, caller))).toMatchObject({
          status: 403,
        });
        expect(await rejection(keys.rotate(wsA, strong.key.id, {}, caller))).toMatchObject({ status: 403 });
        const all = await create(wsA, { name: 'all', grantAll: true });
        expect(await rejection(keys.rotate(wsA, all.key.id, {}, caller))).toMatchObject({ status: 403 });
      });

      it('answers rate_limited with retry_after once the key uses up its window', async () => {
        const { secret } = await create(wsA, {
          name: 'k',
          scopes: ['videos:read'],
          rateLimit: { requests: 3, windowSeconds: 60 },
        });
        clock.set(new Date('2030-01-01T00:00:15.000Z'));
        const results = [];
        for (let i = 0; i < 4; i++) results.push(await keys.verify({ key: secret }));
        expect(results.map(reason)).toEqual(['valid', 'valid', 'valid', 'rate_limited']);
        expect(results[2]).toMatchObject({
          rateLimit: { limit: 3, remaining: 0, resetAt: new Date('2030-01-01T00:01:00.000Z') },
        });
        expect(results[3]).toMatchObject({ reason: 'rate_limited', retryAfter: 45, limit: 3 });
        clock.advance(44_000);
        expect(await keys.verify({ key: secret })).toMatchObject({ reason: 'rate_limited', retryAfter: 1 });
        clock.advance(1000);
        expect(await keys.verify({ key: secret })).toMatchObject({
          valid: true,
          rateLimit: { remaining: 2 },
        });
      });

      it('caps scopes per key and window, grant-all keys included (guardrails)', async () => {
        await keys.scopes.editScope(wsA, 'emails:send', { cap: { limit: 2, windowSeconds: 86_400 } });
        const a = await create(wsA, { name: 'mailer', scopes: ['emails:send', 'videos:read'] });
        const all = await create(wsA, { name: 'all', grantAll: true });
        for (const secret of [a.secret, all.secret]) {
          const r = [];
          for (let i = 0; i < 3; i++)
            r.push(await keys.verify({ key: secret, requiredScopes: ['emails:send'] }));
          expect(r.map(reason)).toEqual(['valid', 'valid', 'rate_limited']);
          expect(r[2]).toMatchObject({ scope: 'emails:send', retryAfter: 86_400 });
          // other scopes are not capped
          expect(reason(await keys.verify({ key: secret, requiredScopes: ['videos:read'] }))).toBe('valid');
        }
        // the cap is per workspace: B keeps the default of 1000 a day
        expect((await keys.scopes.capsFor(wsB, ['emails:send'])).get('emails:send')).toEqual({
          limit: 1000,
          windowSeconds: 86_400,
        });
      });
    });

    describe('credits', () => {
      it('charges the cost and reports credits_remaining; at zero answers credits_exhausted with 0', async () => {
        const { secret } = await create(wsA, { name: 'k', scopes: ['videos:read'] });
        expect(await keys.verify({ key: secret, cost: 1 })).toMatchObject({
          valid: false,
          reason: 'credits_exhausted',
          creditsRemaining: 0,
        });
        expect(await keys.credits.topUp(wsA, 3)).toBe(3);
        expect(await keys.verify({ key: secret, cost: 2 })).toMatchObject({
          valid: true,
          creditsRemaining: 1,
        });
        expect(await keys.verify({ key: secret, cost: 2 })).toMatchObject({
          reason: 'credits_exhausted',
          creditsRemaining: 1,
        });
        expect(await keys.verify({ key: secret })).toMatchObject({ valid: true, creditsRemaining: null });
        // a refused request costs nothing
        expect(reason(await keys.verify({ key: secret, cost: 1, requiredScopes: ['videos:write'] }))).toBe(
          'insufficient_scope',
        );
        expect(await keys.credits.balance(wsA)).toBe(1);
        expect(await keys.verify({ key: secret, cost: 1 })).toMatchObject({
          valid: true,
          creditsRemaining: 0,
        });
        expect(await keys.verify({ key: secret, cost: 1 })).toMatchObject({
          reason: 'credits_exhausted',
          creditsRemaining: 0,
        });
        expect(await keys.credits.balance(wsB)).toBe(0);
      });

      it('tells credits.low once, when a charge takes the balance down to the threshold', async () => {
        const { key, secret } = await create(wsA, { name: 'k', scopes: ['videos:read'] });
        await keys.credits.topUp(wsA, 12);
        for (let i = 0; i < 4; i++) await keys.verify({ key: secret, cost: 1 });
        const low = events.filter((e) => e.type === 'credits.low');
        expect(low).toHaveLength(1);
        expect(low[0]).toMatchObject({
          workspaceId: wsA,
          keyId: key.id,
          data: { credits_remaining: 10, threshold: 10 },
        });
        await keys.credits.topUp(wsA, 20);
        await keys.verify({ key: secret, cost: 20 });
        expect(events.filter((e) => e.type === 'credits.low')).toHaveLength(2);
      });

      it('validates costs and top-ups', async () => {
        const { secret } = await create(wsA, { name: 'k', scopes: ['videos:read'] });
        expect(await rejection(keys.verify({ key: secret, cost: -1 }))).toMatchObject({ status: 400 });
        expect(await rejection(keys.verify({ key: secret, cost: 1.5 }))).toMatchObject({ status: 400 });
        expect(await rejection(keys.credits.topUp(wsA, 0))).toMatchObject({ status: 400 });
        expect(await rejection(keys.credits.topUp(wsA, Number.NaN))).toMatchObject({ status: 400 });
        expect(await keys.credits.topUp(wsA, 5)).toBe(5);
        expect(await keys.credits.topUp(wsA, 5)).toBe(10);
      });

      it('lets exactly 10 of 20 parallel cost-1 verifications pass on a balance of 10', async () => {
        const { secret } = await create(wsA, { name: 'k', scopes: ['videos:read'] });
        await keys.credits.topUp(wsA, 10);
        const results = await Promise.all(
          Array.from({ length: 20 }, () => keys.verify({ key: secret, cost: 1 })),
        );
        expect(results.filter((r) => r.valid)).toHaveLength(10);
        expect(results.filter((r) => !r.valid && r.reason === 'credits_exhausted')).toHaveLength(10);
        expect(await keys.credits.balance(wsA)).toBe(0);
        // Each charge reports the balance it left. (Not checked as exactly 0..9: mongo-java-server's
        // post-images can lag under concurrency, though its counts are right; MongoDB's do not lag.)
        for (const r of results) if (r.valid) expect(r.creditsRemaining).toBeGreaterThanOrEqual(0);
      });

      it('never admits more than the rate limit under parallel verifications', async () => {
        const { secret } = await create(wsA, {
          name: 'k',
          scopes: ['videos:read'],
          rateLimit: { requests: 5, windowSeconds: 60 },
        });
        const results = await Promise.all(Array.from({ length: 15 }, () => keys.verify({ key: secret })));
        expect(results.filter((r) => r.valid)).toHaveLength(5);
        expect(results.filter((r) => reason(r) === 'rate_limited')).toHaveLength(10);
      });
    });

    describe('rotation', () => {
      it('issues a new secret for the same key; the old one is invalid at once', async () => {
        const { key, secret: old } = await create(wsA, {
          name: 'k',
          scopes: ['videos:read'],
          metadata: { a: 1 },
        });
        clock.advance(1000);
        const { key: rotated, secret } = await keys.rotate(wsA, key.id, {}, ALL);
        expect(secret).not.toBe(old);
        expect(rotated).toMatchObject({
          id: key.id,
          name: 'k',
          scopes: ['videos:read'],
          metadata: { a: 1 },
          status: 'active',
        });
        expect(rotated.rotatedAt).toEqual(clock.now());
        expect(rotated.hint).toBe(`sk_live_…${secret.slice(-4)}`);
        expect(rotated.previousSecretExpiresAt).toBeNull();
        expect(reason(await keys.verify({ key: old }))).toBe('key_invalid');
        expect(reason(await keys.verify({ key: secret }))).toBe('valid');
        expect(events.filter((e) => e.type === 'key.rotated')).toHaveLength(1);
      });

      it('keeps the old secret valid through a requested grace period, and no longer', async () => {
        const { key, secret: old } = await create(wsA, { name: 'k', scopes: ['videos:read'] });
        const { key: rotated, secret } = await keys.rotate(wsA, key.id, { graceSeconds: 60 }, ALL);
        expect(rotated.previousSecretExpiresAt).toEqual(new Date(clock.now().getTime() + 60_000));
        expect(reason(await keys.verify({ key: old }))).toBe('valid');
        expect(reason(await keys.verify({ key: secret }))).toBe('valid');
        clock.advance(59_999);
        expect(reason(await keys.verify({ key: old }))).toBe('valid');
        clock.advance(1);
        expect(reason(await keys.verify({ key: old }))).toBe('key_invalid');
        expect(reason(await keys.verify({ key: secret }))).toBe('valid');
        expect((await keys.get(wsA, key.id)).previousSecretExpiresAt).toBeNull();
        expect(await rejection(keys.rotate(wsA, key.id, { graceSeconds: 8 * 86_400 }, ALL))).toMatchObject({
          status: 400,
        });
      });

      it('revoking during a grace period ends both secrets', async () => {
        const { key, secret: old } = await create(wsA, { name: 'k', scopes: ['videos:read'] });
        const { secret } = await keys.rotate(wsA, key.id, { graceSeconds: 600 }, ALL);
        await keys.revoke(wsA, key.id);
        expect(reason(await keys.verify({ key: secret }))).toBe('key_revoked');
        expect(reason(await keys.verify({ key: old }))).not.toBe('valid');
      });

      it('leaves exactly one valid secret after concurrent rotations of one key', async () => {
        const { key, secret: original } = await create(wsA, { name: 'k', scopes: ['videos:read'] });
        const settled = await Promise.allSettled(
          Array.from({ length: 6 }, () => keys.rotate(wsA, key.id, {}, ALL)),
        );
        const won = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.secret] : []));
        const lost = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as AppError] : []));
        // Rotations that overlap lose with 409; one that read after another's write wins too (and
        // replaces it). Either way exactly one secret works afterwards: the last winner's.
        expect(won.length).toBeGreaterThanOrEqual(1);
        expect(won.length + lost.length).toBe(6);
        for (const err of lost) expect(err).toMatchObject({ status: 409, code: 'conflict' });
        const valid = [];
        for (const secret of [original, ...won]) {
          if ((await keys.verify({ key: secret })).valid) valid.push(secret);
        }
        expect(valid).toHaveLength(1);
        expect((await keys.get(wsA, key.id)).hint).toBe(`sk_live_…${valid[0]!.slice(-4)}`);
      });
    });

    describe('listing and last use', () => {
      it('lists newest first with cursor pagination and filters by status and environment', async () => {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const env = i % 2 === 0 ? 'live' : 'test';
          ids.push((await create(wsA, { name: `k${i}`, environment: env, scopes: ['videos:read'] })).key.id);
          clock.advance(1000);
        }
        await keys.revoke(wsA, ids[1]!);
        const p1 = await keys.list(wsA, { limit: 2 });
        expect(p1.data.map((k) => k.name)).toEqual(['k4', 'k3']);
        const p2 = await keys.list(wsA, { limit: 2, cursor: p1.nextCursor! });
        expect(p2.data.map((k) => k.name)).toEqual(['k2', 'k1']);
        const p3 = await keys.list(wsA, { limit: 2, cursor: p2.nextCursor! });
        expect(p3).toMatchObject({ nextCursor: null });
        expect(p3.data.map((k) => k.name)).toEqual(['k0']);
        expect((await keys.list(wsA, { environment: 'test' })).data.map((k) => k.name)).toEqual(['k3', 'k1']);
        expect((await keys.list(wsA, { status: 'revoked' })).data.map((k) => k.name)).toEqual(['k1']);
        expect(
          (await keys.list(wsA, { status: 'active', environment: 'live' })).data.map((k) => k.name),
        ).toEqual(['k4', 'k2', 'k0']);
        expect(await rejection(keys.list(wsA, { cursor: 'garbage' }))).toMatchObject({ status: 400 });
        expect(await rejection(keys.list(wsA, { limit: 0 }))).toMatchObject({
          status: 400,
          extra: { field: 'limit' },
        });
        expect(await rejection(keys.list(wsA, { status: 'gone' as never }))).toMatchObject({ status: 400 });
      });

      it('tracks last_used_at and IP with coalesced writes', async () => {
        const { key, secret } = await create(wsA, { name: 'k', scopes: ['videos:read'] });
        const touch = vi.spyOn(keys.repo, 'touch');
        for (let i = 0; i < 25; i++) {
          clock.advance(1000);
          await keys.verify({ key: secret, ip: `203.0.113.${i}` });
        }
        expect(touch).not.toHaveBeenCalled();
        // this process already shows the latest use
        expect(await keys.get(wsA, key.id)).toMatchObject({
          lastUsedAt: clock.now(),
          lastUsedIp: '203.0.113.24',
        });
        await keys.flush();
        expect(touch).toHaveBeenCalledTimes(1);
        const raw = await storage.collection<{ id: string; lastUsedAt: Date }>(apiKeysSpec).get(key.id);
        expect(raw).toMatchObject({ lastUsedAt: clock.now(), lastUsedIp: '203.0.113.24' });
        // refused keys are not "used"
        await keys.revoke(wsA, key.id);
        clock.advance(1000);
        await keys.verify({ key: secret, ip: '198.51.100.1' });
        await keys.flush();
        expect(touch).toHaveBeenCalledTimes(1);
      });

      it('finds keys about to expire for the key.expiring notice', async () => {
        const soon = await create(wsA, { name: 'soon', temporary: true, scopes: ['videos:read'] });
        await create(wsA, {
          name: 'later',
          expiresAt: new Date(clock.now().getTime() + 30 * DAY),
          scopes: ['videos:read'],
        });
        const revoked = await create(wsB, { name: 'gone', temporary: true, scopes: ['videos:read'] });
        await keys.revoke(wsB, revoked.key.id);
        const found = await keys.findExpiringBetween(clock.now(), new Date(clock.now().getTime() + 8 * DAY));
        expect(found).toEqual([
          { id: soon.key.id, workspaceId: wsA, name: 'soon', expiresAt: soon.key.expiresAt },
        ]);
      });
    });

    describe('scopes catalogue and presets', () => {
      it('adds, edits, retires and restores custom scopes, per workspace', async () => {
        const added = await keys.scopes.addScope(wsA, {
          name: 'reports:export',
          description: 'Export reports',
          risk: 'medium',
        });
        expect(added).toMatchObject({
          name: 'reports:export',
          risk: 'medium',
          retired: false,
          source: 'custom',
        });
        expect(
          await rejection(
            keys.scopes.addScope(wsA, { name: 'reports:export', description: 'x', risk: 'low' }),
          ),
        ).toMatchObject({
          status: 409,
        });
        expect(
          await rejection(keys.scopes.addScope(wsA, { name: 'videos:read', description: 'x', risk: 'low' })),
        ).toMatchObject({
          status: 409,
        });
        expect((await keys.scopes.list(wsA)).length).toBe(BUILTIN_SCOPES.length + 1);
        expect((await keys.scopes.list(wsB)).length).toBe(BUILTIN_SCOPES.length);
        const k = await create(wsA, { name: 'k', scopes: ['reports:export'] });
        expect(await rejection(create(wsB, { name: 'k', scopes: ['reports:export'] }))).toMatchObject({
          code: 'unknown_scopes',
        });

        expect(
          await keys.scopes.editScope(wsA, 'reports:export', { risk: 'high', unlocks: ['GET /export'] }),
        ).toMatchObject({
          risk: 'high',
          unlocks: ['GET /export'],
        });
        await keys.scopes.retireScope(wsA, 'reports:export');
        expect(await rejection(create(wsA, { name: 'k2', scopes: ['reports:export'] }))).toMatchObject({
          status: 400,
          code: 'retired_scopes',
        });
        // a key that held it keeps it, and may be edited without dropping it
        expect(reason(await keys.verify({ key: k.secret, requiredScopes: ['reports:export'] }))).toBe(
          'valid',
        );
        await keys.update(wsA, k.key.id, { scopes: ['reports:export', 'videos:read'] }, ALL);
        await keys.scopes.restoreScope(wsA, 'reports:export');
        expect((await create(wsA, { name: 'k3', scopes: ['reports:export'] })).key.scopes).toEqual([
          'reports:export',
        ]);
        expect(await rejection(keys.scopes.retireScope(wsA, 'nope:read'))).toMatchObject({ status: 404 });
        // a missing workspace id never widens a read to every workspace
        expect(await rejection(keys.scopes.list(undefined as never))).toMatchObject({ status: 404 });
        expect(await rejection(keys.scopes.presets({ $ne: null } as never))).toMatchObject({ status: 404 });
      });

      it('edits and retires built-in scopes for one workspace only', async () => {
        await keys.scopes.editScope(wsA, 'videos:read', { description: 'See the videos' });
        await keys.scopes.retireScope(wsA, 'analytics:read');
        const a = await keys.scopes.get(wsA, 'videos:read');
        expect(a).toMatchObject({
          description: 'See the videos',
          risk: 'low',
          source: 'builtin',
          retired: false,
        });
        expect((await keys.scopes.get(wsA, 'analytics:read'))?.retired).toBe(true);
        expect((await keys.scopes.get(wsB, 'analytics:read'))?.retired).toBe(false);
        expect(await rejection(create(wsA, { name: 'k', scopes: ['analytics:read'] }))).toMatchObject({
          code: 'retired_scopes',
        });
        // full-access leaves retired scopes out
        const full = await keys.scopes.resolvePreset(wsA, 'full-access');
        expect(full).not.toContain('analytics:read');
        expect(full.length).toBe(BUILTIN_SCOPES.length - 1);
        expect(
          await rejection(keys.scopes.editScope(wsA, 'videos:read', { risk: 'severe' as never })),
        ).toMatchObject({
          status: 400,
        });
      });

      it('offers the built-in presets and workspace presets such as admin, readonly and upload', async () => {
        const names = (await keys.scopes.presets(wsA)).map((p) => p.name);
        expect(names).toEqual(['read-only', 'content-agent', 'full-access']);
        await keys.scopes.createPreset(wsA, {
          name: 'admin',
          description: 'Read everything and manage library resources',
          scopes: [
            'videos:read',
            'streams:read',
            'library:read',
            'library:upload',
            'library:manage',
            'streams:create',
          ],
        });
        await keys.scopes.createPreset(wsA, {
          name: 'readonly',
          scopes: ['videos:read', 'streams:read', 'downloads:request'],
        });
        await keys.scopes.createPreset(wsA, { name: 'upload', scopes: ['library:upload'] });
        expect((await keys.scopes.presets(wsA)).map((p) => `${p.source}:${p.name}`)).toEqual([
          'builtin:read-only',
          'builtin:content-agent',
          'builtin:full-access',
          'custom:admin',
          'custom:readonly',
          'custom:upload',
        ]);
        const up = await create(wsA, { name: 'uploader', preset: 'upload' });
        expect(up.key.scopes).toEqual(['library:upload']);
        expect(reason(await keys.verify({ key: up.secret, requiredScopes: ['videos:read'] }))).toBe(
          'insufficient_scope',
        );
        const mixed = await create(wsA, { name: 'mixed', preset: 'readonly', scopes: ['analytics:read'] });
        expect(mixed.key.scopes.sort()).toEqual([
          'analytics:read',
          'downloads:request',
          'streams:read',
          'videos:read',
        ]);
        expect(await rejection(create(wsB, { name: 'x', preset: 'upload' }))).toMatchObject({
          status: 400,
          code: 'unknown_preset',
        });

        expect(
          await rejection(keys.scopes.createPreset(wsA, { name: 'upload', scopes: ['videos:read'] })),
        ).toMatchObject({
          status: 409,
        });
        expect(
          await rejection(keys.scopes.createPreset(wsA, { name: 'read-only', scopes: ['videos:read'] })),
        ).toMatchObject({
          status: 409,
        });
        expect(
          await rejection(keys.scopes.createPreset(wsA, { name: 'bad', scopes: ['nope:read'] })),
        ).toMatchObject({
          code: 'unknown_scopes',
        });
        await keys.scopes.retireScope(wsA, 'analytics:read');
        expect(
          await rejection(keys.scopes.createPreset(wsA, { name: 'stats', scopes: ['analytics:read'] })),
        ).toMatchObject({
          code: 'retired_scopes',
        });
        expect(
          await keys.scopes.updatePreset(wsA, 'upload', { scopes: ['library:upload', 'library:read'] }),
        ).toMatchObject({
          scopes: ['library:upload', 'library:read'],
        });
        await keys.scopes.deletePreset(wsA, 'upload');
        expect(await rejection(keys.scopes.deletePreset(wsA, 'upload'))).toMatchObject({ status: 404 });
        expect(await rejection(keys.scopes.updatePreset(wsA, 'upload', { description: 'x' }))).toMatchObject({
          status: 404,
        });
      });
    });
  });
}
