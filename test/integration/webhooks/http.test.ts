/**
 * Webhooks through the HTTP API of a real server, on both stores: a receiver on loopback gets
 * signed key events (per key and per workspace), failed deliveries are retried with backoff,
 * the delivery log and the audit trail are readable, and delivery never blocks the request.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../../src/webhooks/signature.ts';
import { until } from '../../helpers/stores.ts';
import { type KeyWorld, keyWorld, stores } from '../keys/fixtures.ts';

interface Hit {
  at: number;
  event: string;
  body: Record<string, unknown>;
  verified: boolean;
  answered: number;
}

/** A platform's receiver: checks the signature with the exported verifier; `plan` says how to answer. */
async function receiver(
  secret: () => string | undefined,
  plan: (n: number) => { status: number; delayMs?: number },
) {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const s = secret();
      const verified = !!s && verifySignature(s, req.headers['gatehouse-signature'] as string, raw).valid;
      const { status, delayMs = 0 } = plan(hits.length + 1);
      hits.push({
        at: Date.now(),
        event: String(req.headers['gatehouse-event']),
        body: JSON.parse(raw),
        verified,
        answered: status,
      });
      setTimeout(() => res.writeHead(verified ? status : 400).end(), delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe.each(stores)('webhooks over HTTP on the %s store', (_name, store) => {
  let w: KeyWorld;
  beforeAll(async () => {
    w = await keyWorld(store(), { WEBHOOK_RETRY_BASE_MS: '300' });
  });
  afterAll(() => w?.server.close());

  it('a per-key endpoint gets signed key events, retried with backoff until it answers 2xx', async () => {
    let secret: string | undefined;
    const rx = await receiver(
      () => secret,
      (n) => ({ status: n <= 2 ? 503 : 200 }),
    );
    try {
      const k = await w.key({ name: 'watched', scopes: ['videos:read'] });
      const put = await w.call('PUT', `/api/v1/keys/${k.id}/webhook`, w.a.admin, {
        url: rx.url,
        events: ['key.updated', 'key.rotated', 'key.revoked'],
      });
      expect(put.status).toBe(201);
      expect(put.body.secret).toMatch(/^whsec_/);
      secret = put.body.secret;
      const again = await w.call('PUT', `/api/v1/keys/${k.id}/webhook`, w.a.admin, {
        url: rx.url,
        events: ['key.updated', 'key.rotated', 'key.revoked'],
      });
      expect(again.status).toBe(200);
      expect(again.body.secret).toBeUndefined();
      const shown = await w.call('GET', `/api/v1/keys/${k.id}/webhook`, w.a.admin);
      expect(shown.body).toMatchObject({ key_id: k.id, url: rx.url });
      expect(shown.body.secret).toBeUndefined();

      await w.call('PATCH', `/api/v1/keys/${k.id}`, w.a.admin, { name: 'watched, renamed' });
      const ok = await until(
        'a delivery answered 200',
        async () => rx.hits.find((h) => h.answered === 200),
        15_000,
      );
      expect(rx.hits).toHaveLength(3);
      for (const h of rx.hits) {
        expect(h.verified).toBe(true);
        expect(h.event).toBe('key.updated');
        expect(h.body).toMatchObject({ type: 'key.updated', workspace_id: w.a.id, key_id: k.id });
        expect(JSON.stringify(h.body)).not.toContain(k.secret);
      }
      // Backoff: the gaps grow (base 300 ms, doubling, jittered between half and full).
      expect(rx.hits[1]!.at - rx.hits[0]!.at).toBeGreaterThanOrEqual(140);
      expect(ok.body.data).toMatchObject({ key: { id: k.id, name: 'watched, renamed' } });

      let deliveries = await w.call('GET', `/api/v1/keys/${k.id}/webhook/deliveries`, w.a.admin);
      for (let i = 0; i < 40 && deliveries.body.data[0]?.status !== 'succeeded'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        deliveries = await w.call('GET', `/api/v1/keys/${k.id}/webhook/deliveries`, w.a.admin);
      }
      expect(deliveries.status).toBe(200);
      expect(deliveries.body.data[0]).toMatchObject({
        event_type: 'key.updated',
        status: 'succeeded',
        key_id: k.id,
      });
      expect(deliveries.body.data[0].attempts).toHaveLength(3);
      const one = await w.call('GET', `/api/v1/webhook/deliveries/${deliveries.body.data[0].id}`, w.a.admin);
      expect(one.body.id).toBe(deliveries.body.data[0].id);
    } finally {
      await rx.close();
    }
  });

  it('a per-key endpoint gets key.rotated and then key.revoked from the API', async () => {
    let secret: string | undefined;
    const rx = await receiver(
      () => secret,
      () => ({ status: 200 }),
    );
    try {
      const k = await w.key({ name: 'rotated then revoked', scopes: ['videos:read'] });
      const put = await w.call('PUT', `/api/v1/keys/${k.id}/webhook`, w.a.admin, {
        url: rx.url,
        events: ['key.rotated', 'key.revoked'],
      });
      secret = put.body.secret;
      expect((await w.call('POST', `/api/v1/keys/${k.id}/rotate`, w.a.admin, {})).status).toBe(200);
      const rotated = await until(
        'key.rotated',
        async () => rx.hits.find((h) => h.event === 'key.rotated'),
        15_000,
      );
      expect(rotated.verified).toBe(true);
      expect(rotated.body).toMatchObject({ type: 'key.rotated', workspace_id: w.a.id, key_id: k.id });
      expect((await w.call('POST', `/api/v1/keys/${k.id}/revoke`, w.a.admin)).status).toBe(200);
      const revoked = await until(
        'key.revoked',
        async () => rx.hits.find((h) => h.event === 'key.revoked'),
        15_000,
      );
      expect(revoked.verified).toBe(true);
      expect(revoked.body).toMatchObject({ type: 'key.revoked', key_id: k.id });
      expect(rx.hits.map((h) => h.event)).toEqual(['key.rotated', 'key.revoked']);
    } finally {
      await rx.close();
    }
  });

  it('a workspace endpoint gets key.created and credits.low; delivery never blocks the request', async () => {
    let secret: string | undefined;
    const rx = await receiver(
      () => secret,
      () => ({ status: 200, delayMs: 2000 }),
    );
    try {
      const put = await w.call('PUT', '/api/v1/webhook', w.a.admin, {
        url: rx.url,
        events: ['key.created', 'credits.low'],
      });
      expect(put.status).toBe(201);
      secret = put.body.secret;
      const started = Date.now();
      const created = await w.call('POST', '/api/v1/keys', w.a.admin, {
        name: 'announced',
        scopes: ['videos:write'],
      });
      expect(created.status).toBe(201);
      expect(Date.now() - started).toBeLessThan(1500);
      const hit = await until(
        'key.created',
        async () =>
          rx.hits.find(
            (h) =>
              h.event === 'key.created' &&
              (h.body.data as { key: { id: string } }).key.id === created.body.id,
          ),
        15_000,
      );
      expect(hit.verified).toBe(true);

      await w.call('POST', '/api/v1/credits/top-up', w.a.admin, { amount: 12 });
      const v = await w.call('POST', '/api/v1/keys/verify', undefined, {
        key: created.body.secret,
        required_scopes: ['videos:write'],
        cost: 5,
      });
      expect(v.body).toMatchObject({ valid: true, credits_remaining: 7 });
      const low = await until(
        'credits.low',
        async () => rx.hits.find((h) => h.event === 'credits.low'),
        15_000,
      );
      expect(low.body.data).toMatchObject({ credits_remaining: 7, threshold: 10 });
      const all = await w.call('GET', '/api/v1/webhook/deliveries', w.a.admin);
      expect(all.body.data.map((d: { event_type: string }) => d.event_type)).toEqual(
        expect.arrayContaining(['key.created']),
      );
    } finally {
      await rx.close();
    }
  });

  it('guards endpoints: webhooks:read reads, webhooks:manage changes, bad URLs are 400, other workspaces 404', async () => {
    const reader = await w.key({ name: 'hook reader', scopes: ['webhooks:read'] });
    expect((await w.call('GET', '/api/v1/webhook', reader.secret)).status).toBe(200);
    const put = await w.call('PUT', '/api/v1/webhook', reader.secret, {
      url: 'http://127.0.0.1:1/x',
      events: ['key.created'],
    });
    expect(put.status).toBe(403);
    expect(put.body.required_scopes).toEqual(['webhooks:manage']);
    for (const url of ['ftp://example.com/x', 'not a url', 'http://user:pw@example.com/']) {
      const r = await w.call('PUT', '/api/v1/webhook', w.a.admin, { url, events: ['key.created'] });
      expect(r.status, url).toBe(400);
    }
    expect(
      (await w.call('PUT', '/api/v1/webhook', w.a.admin, { url: 'http://127.0.0.1:1/x', events: ['nope'] }))
        .status,
    ).toBe(400);
    const bKey = await w.key({ name: 'b', scopes: ['videos:read'] }, w.b.id);
    expect(
      (
        await w.call('PUT', `/api/v1/keys/${bKey.id}/webhook`, w.a.admin, {
          url: 'http://127.0.0.1:1/x',
          events: ['key.created'],
        })
      ).status,
    ).toBe(404);
    expect((await w.call('GET', '/api/v1/webhook', w.b.admin)).status).toBe(404);
    const rotated = await w.call('POST', '/api/v1/webhook/rotate-secret', w.a.admin, { grace_seconds: 60 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.previous_secret_expires_at).not.toBeNull();
    expect((await w.call('DELETE', '/api/v1/webhook', w.a.admin)).status).toBe(204);
    expect((await w.call('GET', '/api/v1/webhook', w.a.admin)).status).toBe(404);
  });

  it('keeps an audit trail of key events, webhook changes and refused uses, readable with filters', async () => {
    const k = await w.key({ name: 'audited', scopes: ['videos:read'] });
    await w.call('POST', `/api/v1/keys/${k.id}/revoke`, w.a.admin);
    await w.call('GET', '/api/v1/keys', k.secret);
    await w.c.audit.flush();
    const trail = await w.call('GET', '/api/v1/audit?limit=200', w.a.admin);
    expect(trail.status).toBe(200);
    const actions = new Set(trail.body.data.map((e: { action: string }) => e.action));
    for (const a of [
      'key.created',
      'key.updated',
      'key.revoked',
      'key.use_refused',
      'webhook.created',
      'credits.topped_up',
    ])
      expect(actions, a).toContain(a);
    const refused = trail.body.data.find(
      (e: { action: string; target: { id: string } }) =>
        e.action === 'key.use_refused' && e.target.id === k.id,
    );
    expect(refused).toMatchObject({
      outcome: 'failure',
      reason: 'key_revoked',
      ip: '127.0.0.1',
      actor: { kind: 'api_key', id: k.id },
    });
    const filtered = await w.call('GET', `/api/v1/audit?action=key.revoked`, w.a.admin);
    expect(filtered.body.data.every((e: { action: string }) => e.action === 'key.revoked')).toBe(true);
    expect((await w.call('GET', '/api/v1/audit?since=yesterday', w.a.admin)).status).toBe(400);
    // Workspace B sees none of A's trail.
    const b = await w.call('GET', '/api/v1/audit?limit=200', w.b.admin);
    expect(b.body.data.some((e: { target?: { id: string } }) => e.target?.id === k.id)).toBe(false);
    const noScope = await w.key({ name: 'no audit', scopes: ['videos:read'] });
    expect((await w.call('GET', '/api/v1/audit', noScope.secret)).status).toBe(403);
  });
});

describe('key.expiring through a running server', () => {
  let w: KeyWorld;
  beforeAll(async () => {
    w = await keyWorld(
      { kind: 'embedded' },
      { WEBHOOK_EXPIRING_SCAN_MS: '200', WEBHOOK_EXPIRING_LEAD_SECONDS: '3600' },
    );
  });
  afterAll(() => w?.server.close());

  it('warns before a temporary key expires, once, and not for keys further out', async () => {
    let secret: string | undefined;
    const rx = await receiver(
      () => secret,
      () => ({ status: 200 }),
    );
    try {
      const put = await w.call('PUT', '/api/v1/webhook', w.a.admin, {
        url: rx.url,
        events: ['key.expiring'],
      });
      secret = put.body.secret;
      const soon = await w.call('POST', '/api/v1/keys', w.a.admin, {
        name: 'partner trial',
        temporary: true,
        expires_at: new Date(Date.now() + 30 * 60_000).toISOString(),
        scopes: ['videos:read'],
      });
      const later = await w.call('POST', '/api/v1/keys', w.a.admin, {
        name: 'later',
        temporary: true,
        expires_at: new Date(Date.now() + 5 * 3600_000).toISOString(),
        scopes: ['videos:read'],
      });
      const hit = await until(
        'key.expiring',
        async () => rx.hits.find((h) => h.event === 'key.expiring'),
        15_000,
      );
      expect(hit.verified).toBe(true);
      expect(hit.body).toMatchObject({ type: 'key.expiring', key_id: soon.body.id });
      expect(hit.body.data).toMatchObject({ key: { id: soon.body.id, expires_at: soon.body.expires_at } });
      // Several more scans: still one notice, and none for the key expiring after the lead time.
      await new Promise((r) => setTimeout(r, 800));
      expect(rx.hits.filter((h) => h.event === 'key.expiring')).toHaveLength(1);
      expect(rx.hits.some((h) => h.body.key_id === later.body.id)).toBe(false);
    } finally {
      await rx.close();
    }
  });
});
