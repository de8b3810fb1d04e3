/**
 * Webhooks and audit on a real store: endpoints, the durable delivery queue (claims, retries,
 * log), the key.expiring scanner and the audit log. Run on both stores by webhooks-audit.test.ts.
 * Receivers here are a scripted fetch and time is a fake clock; test/integration/webhooks uses
 * real HTTP receivers.
 */
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/service.ts';
import { AppError } from '../../src/http/errors.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import type { Storage } from '../../src/storage/port.ts';
import { DeliveryQueue } from '../../src/webhooks/delivery.ts';
import type { WebhookEvent } from '../../src/webhooks/events.ts';
import { type ExpiringKeysSource, scanExpiringKeys } from '../../src/webhooks/expiring.ts';
import { deliveriesSpec, endpointsSpec, type WebhookDelivery } from '../../src/webhooks/model.ts';
import { SecretBox } from '../../src/webhooks/secret-box.ts';
import { WebhookService } from '../../src/webhooks/service.ts';
import { verifySignature } from '../../src/webhooks/signature.ts';
import { type FakeClock, fakeClock } from '../helpers/stores.ts';

export type OpenWebhookStore = (clock: FakeClock) => Promise<{ storage: Storage; cleanup(): Promise<void> }>;

interface Call {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A fetch that answers from a script (status, headers, or an Error to throw) and records calls. */
function scriptedFetch(
  script: (call: Call, n: number) => { status: number; headers?: Record<string, string> } | Error,
) {
  const calls: Call[] = [];
  const fn = (async (input: string | URL | Request, init?: RequestInit) => {
    const headers = Object.fromEntries(
      Object.entries((init?.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const call = { url: String(input), headers, body: String(init?.body) };
    calls.push(call);
    const answer = script(call, calls.length);
    if (answer instanceof Error) throw answer;
    return new Response(answer.status === 204 ? null : 'ok', {
      status: answer.status,
      headers: answer.headers,
    });
  }) as typeof fetch;
  return { fn, calls };
}

function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger('debug', sink), lines };
}

const WS = 'ws_one';
const KEY = { kind: 'key', keyId: 'key_abc' } as const;
const WORKSPACE = { kind: 'workspace' } as const;
const POLICY = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 60_000 };

export function webhooksAuditContract(name: string, open: OpenWebhookStore): void {
  describe(`webhooks and audit: ${name} store`, () => {
    let clock: FakeClock;
    let store: Awaited<ReturnType<OpenWebhookStore>>;
    let storage: Storage;
    let box: SecretBox;
    let log: ReturnType<typeof capturingLogger>;
    let service: WebhookService;

    beforeEach(async () => {
      clock = fakeClock();
      store = await open(clock);
      storage = store.storage;
      box = new SecretBox([SecretBox.generateKey()]);
      log = capturingLogger();
      service = new WebhookService({
        storage,
        clock,
        logger: log.logger,
        secretBox: box,
        allowInsecureUrls: true,
      });
      storage.collection(endpointsSpec);
      storage.collection(deliveriesSpec);
      await storage.ensureIndexes();
    });

    afterEach(async () => {
      await store.cleanup();
    });

    function queue(
      fetchFn: typeof fetch,
      extra: Partial<ConstructorParameters<typeof DeliveryQueue>[0]> = {},
    ) {
      return new DeliveryQueue({
        storage,
        clock,
        logger: log.logger,
        secretBox: box,
        allowInsecureUrls: true,
        fetch: fetchFn,
        policy: POLICY,
        timeoutMs: 2000,
        random: () => 0,
        ...extra,
      });
    }

    const created = (keyId: string = KEY.keyId): WebhookEvent => ({
      type: 'key.created',
      workspaceId: WS,
      keyId,
      data: { key: { id: keyId, name: 'ci' } },
    });

    async function rawDeliveries(): Promise<WebhookDelivery[]> {
      return storage
        .collection<WebhookDelivery>(deliveriesSpec)
        .find({}, { sort: { field: 'id', order: 'asc' } });
    }

    describe('endpoints', () => {
      it('creates an endpoint with a secret shown once and stored sealed', async () => {
        const res = await service.put(WS, KEY, {
          url: 'https://hooks.example.com/a',
          events: ['key.created'],
        });
        expect(res.created).toBe(true);
        expect(res.secret).toMatch(/^whsec_/);
        expect(res.endpoint).toMatchObject({
          workspaceId: WS,
          keyId: 'key_abc',
          url: 'https://hooks.example.com/a',
          events: ['key.created'],
          enabled: true,
          previousSecretExpiresAt: null,
        });
        expect(JSON.stringify(res.endpoint)).not.toContain('whsec_');
        const raw = await storage
          .collection<{ id: string; secret: string }>(endpointsSpec)
          .get(res.endpoint.id);
        expect(raw!.secret).not.toContain(res.secret!.slice(6));
        expect(box.open(raw!.secret, res.endpoint.id)).toBe(res.secret);

        const again = await service.put(WS, KEY, {
          url: 'https://hooks.example.com/b',
          events: ['key.revoked', 'key.revoked', 'key.rotated'],
          enabled: false,
        });
        expect(again.created).toBe(false);
        expect(again.secret).toBeUndefined();
        expect(again.endpoint).toMatchObject({
          id: res.endpoint.id,
          url: 'https://hooks.example.com/b',
          events: ['key.revoked', 'key.rotated'],
          enabled: false,
        });
        const raw2 = await storage
          .collection<{ id: string; secret: string }>(endpointsSpec)
          .get(res.endpoint.id);
        expect(box.open(raw2!.secret, res.endpoint.id)).toBe(res.secret); // replacing keeps the secret
      });

      it('creates one endpoint and shows one secret when several PUTs race', async () => {
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            service.put(WS, KEY, { url: `https://hooks.example.com/${i}`, events: ['key.created'] }),
          ),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(results.filter((r) => r.secret)).toHaveLength(1);
        expect(new Set(results.map((r) => r.endpoint.id)).size).toBe(1);
        expect(await storage.collection(endpointsSpec).count({})).toBe(1);
      });

      it('keeps workspace, key and other-workspace endpoints apart', async () => {
        await service.put(WS, WORKSPACE, { url: 'https://a.example.com/', events: ['credits.low'] });
        await service.put(WS, KEY, { url: 'https://b.example.com/', events: ['key.created'] });
        expect((await service.get(WS, WORKSPACE))!.url).toBe('https://a.example.com/');
        expect((await service.get(WS, KEY))!.url).toBe('https://b.example.com/');
        expect(await service.get(WS, { kind: 'key', keyId: 'key_other' })).toBeNull();
        expect(await service.get('ws_two', WORKSPACE)).toBeNull();
        expect(await service.remove('ws_two', KEY)).toBe(false);
        expect(await service.remove(WS, KEY)).toBe(true);
        expect(await service.get(WS, KEY)).toBeNull();
        expect(await service.get(WS, WORKSPACE)).not.toBeNull();
      });

      it('refuses bad input with a 400 and writes nothing', async () => {
        const bad: [unknown, string][] = [
          [{ url: 'ftp://x.example.com/', events: ['key.created'] }, 'invalid_webhook_url'],
          [{ url: 'https://u:p@x.example.com/', events: ['key.created'] }, 'invalid_webhook_url'],
          [{ url: 'not a url', events: ['key.created'] }, 'invalid_webhook_url'],
          [{ url: 'https://x.example.com/', events: [] }, 'invalid_request'],
          [{ url: 'https://x.example.com/', events: ['key.exploded'] }, 'invalid_request'],
          [{ url: 'https://x.example.com/', events: ['key.created'], secret: 'mine' }, 'invalid_request'],
          [{ events: ['key.created'] }, 'invalid_request'],
          ['nope', 'invalid_request'],
        ];
        for (const [input, code] of bad) {
          const err = await service.put(WS, KEY, input).catch((e) => e);
          expect(err, JSON.stringify(input)).toBeInstanceOf(AppError);
          expect(err).toMatchObject({ status: 400, code });
        }
        expect(await service.get(WS, KEY)).toBeNull();
        for (const keyId of ['', '../x', 'a'.repeat(201), 42]) {
          await expect(
            service.put(WS, { kind: 'key', keyId } as never, {
              url: 'https://x.example.com/',
              events: ['key.created'],
            }),
          ).rejects.toMatchObject({ status: 400 });
        }
        await expect(service.get(WS, { kind: 'team' } as never)).rejects.toMatchObject({ status: 400 });
        const prod = new WebhookService({
          storage,
          clock,
          logger: log.logger,
          secretBox: box,
          allowInsecureUrls: false,
        });
        for (const url of ['http://x.example.com/', 'https://127.0.0.1/', 'https://169.254.169.254/']) {
          await expect(prod.put(WS, KEY, { url, events: ['key.created'] })).rejects.toMatchObject({
            status: 400,
            code: 'invalid_webhook_url',
          });
        }
      });

      it('rotates the secret, optionally signing with the old one during a grace period', async () => {
        await expect(service.rotateSecret(WS, KEY)).rejects.toMatchObject({ status: 404 });
        const first = await service.put(WS, KEY, { url: 'https://x.example.com/', events: ['key.created'] });
        const r1 = await service.rotateSecret(WS, KEY, { graceSeconds: 3600 });
        expect(r1.secret).toMatch(/^whsec_/);
        expect(r1.secret).not.toBe(first.secret);
        expect(r1.endpoint.previousSecretExpiresAt).toEqual(new Date(clock.now().getTime() + 3600_000));
        await expect(service.rotateSecret(WS, KEY, { graceSeconds: -1 })).rejects.toMatchObject({
          status: 400,
        });
        await expect(service.rotateSecret(WS, KEY, { graceSeconds: 1.5 })).rejects.toMatchObject({
          status: 400,
        });

        const { fn, calls } = scriptedFetch(() => ({ status: 200 }));
        const q = queue(fn);
        await q.emit(created());
        await q.runOnce();
        const sig = calls[0]!.headers['gatehouse-signature'];
        expect(sig!.match(/v1=/g)).toHaveLength(2);
        const now = clock.now();
        expect(verifySignature(r1.secret, sig, calls[0]!.body, { now }).valid).toBe(true);
        expect(verifySignature(first.secret!, sig, calls[0]!.body, { now }).valid).toBe(true);

        clock.advance(3601_000);
        expect((await service.get(WS, KEY))!.previousSecretExpiresAt).toBeNull();
        await q.emit(created());
        await q.runOnce();
        const sig2 = calls[1]!.headers['gatehouse-signature'];
        expect(sig2!.match(/v1=/g)).toHaveLength(1);
        expect(verifySignature(first.secret!, sig2, calls[1]!.body, { now: clock.now() }).valid).toBe(false);

        const r2 = await service.rotateSecret(WS, KEY); // no grace: the old one stops at once
        expect(r2.endpoint.previousSecretExpiresAt).toBeNull();
        await q.emit(created());
        await q.runOnce();
        const sig3 = calls[2]!.headers['gatehouse-signature'];
        expect(verifySignature(r2.secret, sig3, calls[2]!.body, { now: clock.now() }).valid).toBe(true);
        expect(verifySignature(r1.secret, sig3, calls[2]!.body, { now: clock.now() }).valid).toBe(false);
      });
    });

    describe('delivery queue', () => {
      it('emit queues one delivery per subscribed, enabled endpoint and contacts nobody', async () => {
        await service.put(WS, WORKSPACE, {
          url: 'https://ws.example.com/',
          events: ['key.created', 'credits.low'],
        });
        await service.put(WS, KEY, { url: 'https://key.example.com/', events: ['key.created'] });
        await service.put(
          WS,
          { kind: 'key', keyId: 'key_off' },
          {
            url: 'https://off.example.com/',
            events: ['key.created'],
            enabled: false,
          },
        );
        await service.put('ws_two', WORKSPACE, { url: 'https://two.example.com/', events: ['key.created'] });
        const { fn, calls } = scriptedFetch(() => ({ status: 200 }));
        const q = queue(fn);
        expect(await q.emit(created())).toBe(2);
        expect(await q.emit(created('key_other'))).toBe(1); // the workspace endpoint only
        expect(await q.emit(created('key_off'))).toBe(1);
        expect(await q.emit({ type: 'key.revoked', workspaceId: WS, keyId: KEY.keyId, data: {} })).toBe(0);
        expect(await q.emit({ type: 'credits.low', workspaceId: WS, data: { balance: 5 } })).toBe(1);
        expect(await q.emit({ type: 'bogus' as 'key.created', workspaceId: WS, data: {} })).toBe(0);
        // a missing workspace never widens to every tenant's endpoints
        expect(await q.emit({ type: 'key.created', workspaceId: undefined as never, data: {} })).toBe(0);
        await expect(service.listDeliveries(undefined as never)).rejects.toThrow(/workspaceId/);
        await expect(service.get('', WORKSPACE)).rejects.toThrow(/workspaceId/);
        expect(calls).toHaveLength(0);
        const stored = await rawDeliveries();
        expect(stored).toHaveLength(5);
        expect(stored.every((d) => d.status === 'pending' && d.attempts.length === 0)).toBe(true);
        const firstEvent = stored.filter((d) => JSON.parse(d.body).key_id === 'key_abc');
        expect(firstEvent).toHaveLength(2);
        expect(firstEvent[1]!.eventId).toBe(firstEvent[0]!.eventId); // one event, two endpoints
        expect(firstEvent[1]!.body).toBe(firstEvent[0]!.body);
        expect(JSON.parse(firstEvent[0]!.body)).toEqual({
          id: expect.stringMatching(/^evt_/),
          type: 'key.created',
          created_at: clock.now().toISOString(),
          workspace_id: WS,
          key_id: 'key_abc',
          data: { key: { id: 'key_abc', name: 'ci' } },
        });
      });

      it('posts signed JSON and records a successful attempt', async () => {
        const { secret } = await service.put(WS, KEY, {
          url: 'http://127.0.0.1:9/hook',
          events: ['key.created'],
        });
        const { fn, calls } = scriptedFetch(() => ({ status: 204 }));
        const observed: unknown[] = [];
        const q = queue(fn, {
          onAttempt: (a) => {
            observed.push(a);
            throw new Error('a broken metrics hook changes nothing');
          },
        });
        await q.emit(created());
        expect(await q.runOnce()).toBe(1);
        expect(observed).toEqual([
          { event: 'key.created', result: 'succeeded', statusCode: 204, durationMs: expect.any(Number) },
        ]);
        expect(await q.runOnce()).toBe(0);
        expect(calls).toHaveLength(1);
        const call = calls[0]!;
        expect(call.url).toBe('http://127.0.0.1:9/hook');
        expect(call.headers['content-type']).toBe('application/json');
        expect(call.headers['gatehouse-event']).toBe('key.created');
        const [d] = await rawDeliveries();
        expect(call.headers['gatehouse-delivery']).toBe(d!.id);
        expect(call.headers['gatehouse-event-id']).toBe(d!.eventId);
        expect(call.body).toBe(d!.body);
        expect(
          verifySignature(secret!, call.headers['gatehouse-signature'], call.body, { now: clock.now() }),
        ).toEqual({
          valid: true,
          timestamp: Math.floor(clock.now().getTime() / 1000),
        });
        expect(d).toMatchObject({ status: 'succeeded', completedAt: clock.now() });
        expect(d!.lockedBy).toBeUndefined();
        expect(d!.attempts).toEqual([
          { n: 1, at: clock.now(), durationMs: expect.any(Number), statusCode: 204, result: 'succeeded' },
        ]);
      });

      it('retries 5xx, 429 (honouring Retry-After) and network errors on the backoff schedule', async () => {
        await service.put(WS, KEY, { url: 'https://x.example.com/', events: ['key.created'] });
        const answers = [
          { status: 503 },
          { status: 429, headers: { 'retry-after': '30' } },
          new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }),
          { status: 200 },
        ];
        const { fn, calls } = scriptedFetch((_c, n) => answers[n - 1]!);
        const q = queue(fn, { policy: { ...POLICY, maxAttempts: 4 } });
        await q.emit(created());
        const t0 = clock.now().getTime();
        expect(await q.runOnce()).toBe(1);
        let [d] = await rawDeliveries();
        expect(d).toMatchObject({
          status: 'pending',
          nextAttemptAt: new Date(t0 + 500),
          lastError: 'HTTP 503',
        });
        expect(d!.attempts[0]).toMatchObject({
          n: 1,
          statusCode: 503,
          result: 'retry',
          retryAt: new Date(t0 + 500),
        });

        clock.advance(499);
        expect(await q.runOnce()).toBe(0); // not due yet
        clock.advance(1);
        expect(await q.runOnce()).toBe(1);
        [d] = await rawDeliveries();
        // schedule says 1 s (jitter 0 → 1 s), the receiver asked for 30 s: 30 s it is
        expect(d!.nextAttemptAt).toEqual(new Date(t0 + 500 + 30_000));
        expect(d!.attempts[1]).toMatchObject({ n: 2, statusCode: 429, result: 'retry' });

        clock.advance(30_000);
        expect(await q.runOnce()).toBe(1);
        [d] = await rawDeliveries();
        expect(d!.attempts[2]).toMatchObject({ n: 3, error: 'network error: ECONNRESET', result: 'retry' });
        expect(d!.attempts[2]!.statusCode).toBeUndefined();
        expect(d!.nextAttemptAt).toEqual(new Date(t0 + 30_500 + 2000));

        clock.advance(2000);
        expect(await q.runOnce()).toBe(1);
        [d] = await rawDeliveries();
        expect(d!.status).toBe('succeeded');
        expect(d!.attempts.map((a) => a.result)).toEqual(['retry', 'retry', 'retry', 'succeeded']);
        expect(calls).toHaveLength(4);
        // every attempt sends the same bytes, signed at its own time
        expect(new Set(calls.map((c) => c.body)).size).toBe(1);
        const T = t0 / 1000;
        expect(calls.map((c) => c.headers['gatehouse-signature']!.match(/^t=(\d+),/)![1])).toEqual(
          [T, T, T + 30, T + 32].map(String),
        );
      });

      it('gives up after maxAttempts, and at once on a 4xx or a redirect', async () => {
        await service.put(WS, KEY, { url: 'https://x.example.com/', events: ['key.created', 'key.revoked'] });
        await service.put(WS, WORKSPACE, { url: 'https://y.example.com/', events: ['key.updated'] });
        const { fn } = scriptedFetch((c) =>
          c.url.startsWith('https://y.')
            ? { status: 302, headers: { location: 'http://169.254.169.254/' } }
            : c.headers['gatehouse-event'] === 'key.revoked'
              ? { status: 410 }
              : { status: 500 },
        );
        const q = queue(fn);
        await q.emit(created());
        await q.emit({ type: 'key.revoked', workspaceId: WS, keyId: KEY.keyId, data: {} });
        await q.emit({ type: 'key.updated', workspaceId: WS, data: {} });
        for (let i = 0; i < 5; i++) {
          await q.runOnce();
          clock.advance(60_000);
        }
        const byType = Object.fromEntries((await rawDeliveries()).map((d) => [d.eventType, d]));
        expect(byType['key.created']).toMatchObject({ status: 'failed', lastError: 'HTTP 500' });
        expect(byType['key.created']!.attempts.map((a) => a.result)).toEqual(['retry', 'retry', 'failed']);
        expect(byType['key.revoked']!.status).toBe('failed');
        expect(byType['key.revoked']!.attempts).toHaveLength(1);
        expect(byType['key.updated']).toMatchObject({
          status: 'failed',
          lastError: 'HTTP 302 (redirects are not followed)',
        });
      });

      it('resends a failed delivery once on request, keeping its log', async () => {
        await service.put(WS, KEY, { url: 'https://x.example.com/', events: ['key.created'] });
        let status = 500;
        const { fn, calls } = scriptedFetch(() => ({ status }));
        const q = queue(fn);
        await q.emit(created());
        for (let i = 0; i < 3; i++) {
          await q.runOnce();
          clock.advance(60_000);
        }
        const [failed] = (await service.listDeliveries(WS)).items;
        expect(failed).toMatchObject({ status: 'failed', lastError: 'HTTP 500' });
        expect(await service.redeliver('ws_two', failed!.id)).toBeNull();
        expect(await service.redeliver(WS, 'dlv_nope')).toBeNull();

        expect(await service.redeliver(WS, failed!.id)).toMatchObject({ status: 'pending', lastError: null });
        await expect(service.redeliver(WS, failed!.id)).rejects.toMatchObject({ status: 409 });
        await q.runOnce(); // still 500: one attempt only, then failed again
        clock.advance(60_000);
        await q.runOnce();
        let d = await service.getDelivery(WS, failed!.id);
        expect(d!.status).toBe('failed');
        expect(d!.attempts.map((a) => a.result)).toEqual(['retry', 'retry', 'failed', 'failed']);

        status = 200;
        await service.redeliver(WS, failed!.id);
        await q.runOnce();
        d = await service.getDelivery(WS, failed!.id);
        expect(d!.status).toBe('succeeded');
        expect(d!.attempts.map((a) => a.n)).toEqual([1, 2, 3, 4, 5]);
        expect(calls).toHaveLength(5);
        await expect(service.redeliver(WS, failed!.id)).rejects.toMatchObject({ status: 409 });
      });

      it('cancels deliveries whose endpoint was disabled or removed before the attempt', async () => {
        await service.put(WS, KEY, { url: 'https://x.example.com/', events: ['key.created'] });
        await service.put(WS, WORKSPACE, { url: 'https://y.example.com/', events: ['key.created'] });
        const { fn, calls } = scriptedFetch(() => ({ status: 200 }));
        const q = queue(fn);
        await q.emit(created());
        await service.put(WS, KEY, {
          url: 'https://x.example.com/',
          events: ['key.created'],
          enabled: false,
        });
        await service.remove(WS, WORKSPACE);
        await q.runOnce();
        expect(calls).toHaveLength(0);
        const errors = (await rawDeliveries()).map((d) => [d.status, d.lastError]).sort();
        expect(errors).toEqual([
          ['cancelled', 'endpoint disabled'],
          ['cancelled', 'endpoint removed'],
        ]);
      });

      it('lets several workers share the store: each delivery is claimed and sent once', async () => {
        await service.put(WS, WORKSPACE, { url: 'https://x.example.com/', events: ['key.created'] });
        for (let i = 0; i < 12; i++) await queue(fetch).emit(created(`key_${i}`));
        const { fn, calls } = scriptedFetch(() => ({ status: 200 }));
        const workers = [
          queue(fn, { concurrency: 3 }),
          queue(fn, { concurrency: 3 }),
          queue(fn, { concurrency: 2 }),
        ];
        for (let round = 0; round < 4; round++) await Promise.all(workers.map((w) => w.runOnce()));
        const ids = calls.map((c) => c.headers['gatehouse-delivery']);
        expect(ids).toHaveLength(12);
        expect(new Set(ids).size).toBe(12);
        expect(
          (await rawDeliveries()).every((d) => d.status === 'succeeded' && d.attempts.length === 1),
        ).toBe(true);
      });

      it('takes over a delivery whose claim lapsed (a worker died mid-attempt)', async () => {
        await service.put(WS, KEY, { url: 'https://x.example.com/', events: ['key.created'] });
        const { fn, calls } = scriptedFetch(() => ({ status: 200 }));
        const q = queue(fn, { lockMs: 10_000 });
        await q.emit(created());
        const deliveries = storage.collection<WebhookDelivery>(deliveriesSpec);
        const now = clock.now();
        // what a claim by a process that then died leaves behind
        await deliveries.update(
          { status: 'pending' },
          {
            set: {
              status: 'in_flight',
              lockedBy: 'lock_dead',
              lockedUntil: new Date(now.getTime() + 10_000),
            },
          },
        );
        expect(await q.runOnce()).toBe(0);
        clock.advance(10_000);
        expect(await q.runOnce()).toBe(1);
        expect(calls).toHaveLength(1);
        expect((await rawDeliveries())[0]!.status).toBe('succeeded');
      });

      it('lists the delivery log newest first with a cursor, by endpoint and status', async () => {
        await service.put(WS, KEY, { url: 'https://x.example.com/', events: ['key.created'] });
        await service.put(WS, WORKSPACE, { url: 'https://y.example.com/', events: ['credits.low'] });
        const { fn } = scriptedFetch((c) =>
          c.url.startsWith('https://y.') ? { status: 400 } : { status: 200 },
        );
        const q = queue(fn);
        for (let i = 0; i < 5; i++) {
          await q.emit(created());
          clock.advance(1000);
        }
        await q.emit({ type: 'credits.low', workspaceId: WS, data: { balance: 1 } });
        await q.runOnce();

        const page1 = await service.listDeliveries(WS, { limit: 4 });
        expect(page1.items.map((d) => d.eventType)).toEqual([
          'credits.low',
          'key.created',
          'key.created',
          'key.created',
        ]);
        expect(page1.nextCursor).toBe(page1.items[3]!.id);
        const page2 = await service.listDeliveries(WS, { limit: '4', cursor: page1.nextCursor });
        expect(page2.items).toHaveLength(2);
        expect(page2.nextCursor).toBeNull();
        const all = [...page1.items, ...page2.items];
        expect(all.map((d) => d.createdAt.getTime())).toEqual(
          [...all.map((d) => d.createdAt.getTime())].sort((a, b) => b - a),
        );
        expect(new Set(all.map((d) => d.id)).size).toBe(6);

        const keyOnly = await service.listDeliveries(WS, {}, KEY);
        expect(keyOnly.items).toHaveLength(5);
        expect(keyOnly.items[0]).toMatchObject({
          keyId: 'key_abc',
          status: 'succeeded',
          payload: { type: 'key.created', key_id: 'key_abc' },
          attempts: [{ n: 1, statusCode: 200, result: 'succeeded' }],
          nextAttemptAt: null,
        });
        const failed = await service.listDeliveries(WS, { status: 'failed' });
        expect(failed.items.map((d) => d.eventType)).toEqual(['credits.low']);
        expect(await service.getDelivery(WS, failed.items[0]!.id)).toMatchObject({ lastError: 'HTTP 400' });
        expect(await service.getDelivery('ws_two', failed.items[0]!.id)).toBeNull();
        expect(await service.getDelivery(WS, 'dlv_bogus')).toBeNull();
        expect((await service.listDeliveries('ws_two')).items).toEqual([]);
        for (const bad of [{ limit: 0 }, { limit: 101 }, { cursor: 'x' }, { status: 'lost' }, { extra: 1 }]) {
          await expect(service.listDeliveries(WS, bad)).rejects.toMatchObject({ status: 400 });
        }
      });

      it('never writes a signing secret to the logs', async () => {
        const { secret } = await service.put(WS, KEY, {
          url: 'https://x.example.com/',
          events: ['key.created'],
        });
        const rotated = await service.rotateSecret(WS, KEY, { graceSeconds: 60 });
        const { fn } = scriptedFetch((_c, n) => (n === 1 ? { status: 500 } : { status: 200 }));
        const q = queue(fn);
        await q.emit(created());
        await q.runOnce();
        clock.advance(60_000);
        await q.runOnce();
        const text = log.lines.join('');
        expect(text).toContain('webhook delivered');
        expect(text).not.toContain(secret!);
        expect(text).not.toContain(rotated.secret);
        expect(text).not.toContain('whsec_');
      });
    });

    describe('key.expiring scanner', () => {
      const DAY = 86_400_000;

      function keysSource(keys: { id: string; workspaceId: string; expiresAt: Date; name: string }[]) {
        const source: ExpiringKeysSource & { calls: [Date, Date][] } = {
          calls: [],
          async findExpiringBetween(from, to) {
            source.calls.push([from, to]);
            return keys.filter((k) => k.expiresAt > from && k.expiresAt <= to);
          },
        };
        return source;
      }

      it('emits key.expiring once per key and expiry, lead time before it', async () => {
        await service.put(WS, WORKSPACE, { url: 'https://x.example.com/', events: ['key.expiring'] });
        const t0 = clock.now().getTime();
        const keys = [
          { id: 'key_a', workspaceId: WS, name: 'a', expiresAt: new Date(t0 + 2 * DAY) },
          { id: 'key_b', workspaceId: WS, name: 'b', expiresAt: new Date(t0 + 5 * DAY) },
          { id: 'key_c', workspaceId: 'ws_quiet', name: 'c', expiresAt: new Date(t0 + DAY) },
        ];
        const source = keysSource(keys);
        const q = queue(fetch);
        const scan = () =>
          scanExpiringKeys({
            keys: source,
            emit: (e) => q.emit(e),
            storage,
            clock,
            logger: log.logger,
            leadTimeMs: 3 * DAY,
          });

        expect(await scan()).toBe(1); // key_a; key_c's workspace has no endpoint
        expect(source.calls[0]).toEqual([new Date(t0), new Date(t0 + 3 * DAY)]);
        expect(await scan()).toBe(0); // deduplicated
        clock.advance(2 * DAY + 1); // key_b now within 3 days (key_a expired)
        expect(await scan()).toBe(1);
        expect(await scan()).toBe(0);
        const payloads = (await rawDeliveries()).map((d) => JSON.parse(d.body));
        expect(payloads).toHaveLength(2);
        expect(payloads[0]).toMatchObject({
          type: 'key.expiring',
          workspace_id: WS,
          key_id: 'key_a',
          data: {
            key: { id: 'key_a', name: 'a', expires_at: keys[0]!.expiresAt.toISOString() },
            expires_in_seconds: 172_800,
          },
        });
        expect(payloads[1]).toMatchObject({ key_id: 'key_b' });

        // the expiry of key_b is moved later and comes close again: a new notice for the new date
        keys[1]!.expiresAt = new Date(clock.now().getTime() + 2 * DAY);
        expect(await scan()).toBe(1);
      });

      it('tries again on the next scan when the event could not be queued', async () => {
        await service.put(WS, KEY, { url: 'https://x.example.com/', events: ['key.expiring'] });
        const source = keysSource([
          { id: KEY.keyId, workspaceId: WS, name: 'a', expiresAt: new Date(clock.now().getTime() + DAY) },
        ]);
        let failing = true;
        const q = queue(fetch);
        const emit = async (e: WebhookEvent) => (failing ? 0 : q.emit(e));
        const scan = () => scanExpiringKeys({ keys: source, emit, storage, clock, logger: log.logger });
        expect(await scan()).toBe(0);
        failing = false;
        expect(await scan()).toBe(1);
        expect(await scan()).toBe(0);
        expect(await rawDeliveries()).toHaveLength(1);
      });
    });

    describe('audit log', () => {
      let audit: AuditLog;
      beforeEach(async () => {
        audit = new AuditLog({ storage, clock, logger: log.logger, retentionDays: 30 });
        await storage.ensureIndexes();
      });

      const alice = { kind: 'user', id: 'usr_alice' } as const;
      const ci = { kind: 'api_key', id: 'key_ci' } as const;

      it('records events and lists them newest first with a cursor', async () => {
        for (let i = 0; i < 7; i++) {
          await audit.record({
            workspaceId: WS,
            actor: i % 2 ? ci : alice,
            action: i === 3 ? 'key.used_refused' : 'key.created',
            target: { type: 'api_key', id: `key_${i}` },
            ip: '203.0.113.7',
            userAgent: 'curl/8',
            outcome: i === 3 ? 'failure' : 'success',
            ...(i === 3 ? { reason: 'insufficient_scope' } : {}),
          });
          clock.advance(1000);
        }
        await audit.record({
          workspaceId: 'ws_two',
          actor: alice,
          action: 'key.created',
          outcome: 'success',
        });

        const p1 = await audit.list(WS, { limit: 3 });
        expect(p1.items.map((e) => e.target!.id)).toEqual(['key_6', 'key_5', 'key_4']);
        const p2 = await audit.list(WS, { limit: 3, cursor: p1.nextCursor });
        expect(p2.items.map((e) => e.target!.id)).toEqual(['key_3', 'key_2', 'key_1']);
        const p3 = await audit.list(WS, { limit: 3, cursor: p2.nextCursor });
        expect(p3.items.map((e) => e.target!.id)).toEqual(['key_0']);
        expect(p3.nextCursor).toBeNull();
        expect(p2.items[0]).toMatchObject({
          workspaceId: WS,
          actor: ci,
          action: 'key.used_refused',
          outcome: 'failure',
          reason: 'insufficient_scope',
          ip: '203.0.113.7',
          userAgent: 'curl/8',
        });

        const refused = await audit.list(WS, { action: 'key.used_refused' });
        expect(refused.items).toHaveLength(1);
        const byKey = await audit.list(WS, { actor_kind: 'api_key', actor_id: 'key_ci' });
        expect(byKey.items.map((e) => e.target!.id)).toEqual(['key_5', 'key_3', 'key_1']);
        expect((await audit.list(WS, { actor_id: 'usr_alice' })).items).toHaveLength(4);
        const t0 = new Date('2030-01-01T00:00:00.000Z').getTime();
        const window = await audit.list(WS, {
          since: new Date(t0 + 2000).toISOString(),
          until: new Date(t0 + 4000).toISOString(),
        });
        expect(window.items.map((e) => e.target!.id)).toEqual(['key_4', 'key_3', 'key_2']);
        expect((await audit.list('ws_two')).items).toHaveLength(1);
        await expect(audit.list(undefined as never)).rejects.toThrow(/workspaceId/);
        for (const bad of [
          { limit: 0 },
          { since: 'yesterday' },
          { actor_kind: 'robot' },
          { cursor: 'aud_1' },
          { x: 1 },
        ]) {
          await expect(audit.list(WS, bad)).rejects.toMatchObject({ status: 400, code: 'invalid_request' });
        }
      });

      it('forgets entries after the retention period', async () => {
        await audit.record({ workspaceId: WS, actor: alice, action: 'key.created', outcome: 'success' });
        clock.advance(29 * 86_400_000);
        expect((await audit.list(WS)).items).toHaveLength(1);
        clock.advance(86_400_000);
        expect((await audit.list(WS)).items).toHaveLength(0);
      });

      it('never throws into the caller: bad events are dropped and storage failures logged', async () => {
        const bad = [
          { workspaceId: '', actor: alice, action: 'key.created', outcome: 'success' },
          { workspaceId: WS, actor: { kind: 'robot', id: 'x' }, action: 'key.created', outcome: 'success' },
          { workspaceId: WS, actor: alice, action: 'Key Created', outcome: 'success' },
          { workspaceId: WS, actor: alice, action: 'key.created', outcome: 'maybe' },
          null,
        ];
        for (const e of bad) await expect(audit.record(e as never)).resolves.toBeUndefined();
        expect((await audit.list(WS)).items).toHaveLength(0);
        expect(log.lines.join('')).toContain('audit event dropped');

        await audit.record({
          workspaceId: WS,
          actor: alice,
          action: 'key.created',
          outcome: 'success',
          userAgent: 'x'.repeat(5000),
        });
        expect((await audit.list(WS)).items[0]!.userAgent).toHaveLength(512);

        await store.cleanup();
        void audit.record({ workspaceId: WS, actor: alice, action: 'key.created', outcome: 'success' });
        await audit.flush();
        expect(log.lines.join('')).toContain('audit event could not be written');
        store = await open(clock); // afterEach cleans this one
      });
    });
  });
}
