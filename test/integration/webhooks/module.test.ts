/**
 * The webhook module as the container builds it (createWebhooks): the worker and the
 * key.expiring scanner started together deliver a signed `key.expiring` to a real receiver once.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.ts';
import { type Storage, systemClock } from '../../../src/storage/port.ts';
import { createWebhooks, verifySignature, type Webhooks } from '../../../src/webhooks/index.ts';
import { bothStores } from '../../helpers/stores.ts';

describe.each(bothStores)('createWebhooks (%s store)', (_name, open) => {
  let store: { storage: Storage; cleanup(): Promise<void> };
  let webhooks: Webhooks;
  const server = createServer();
  const hits: { body: string; signature: string }[] = [];

  beforeEach(async () => {
    hits.length = 0;
    store = await open();
    server.removeAllListeners('request');
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hits.push({
          body: Buffer.concat(chunks).toString(),
          signature: String(req.headers['gatehouse-signature']),
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });

  afterEach(async () => {
    await webhooks?.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await store.cleanup();
  });

  it('delivers key.expiring once, signed, for a key expiring within the lead time', async () => {
    webhooks = await createWebhooks({
      storage: store.storage,
      clock: systemClock,
      logger: createLogger('silent'),
      allowInsecureUrls: true,
      expiringLeadMs: 3600_000,
      expiringScanIntervalMs: 50,
    });
    await store.storage.ensureIndexes();
    const { port } = server.address() as AddressInfo;
    const { secret } = await webhooks.service.put(
      'ws_1',
      { kind: 'key', keyId: 'key_soon' },
      {
        url: `http://127.0.0.1:${port}/hook`,
        events: ['key.expiring'],
      },
    );
    const expiresAt = new Date(Date.now() + 600_000);
    webhooks.start({
      findExpiringBetween: async (from, to) =>
        [
          { id: 'key_soon', workspaceId: 'ws_1', name: 'deploy', expiresAt },
          {
            id: 'key_later',
            workspaceId: 'ws_1',
            name: 'later',
            expiresAt: new Date(Date.now() + 86_400_000),
          },
        ].filter((k) => k.expiresAt > from && k.expiresAt <= to),
    });
    const deadline = Date.now() + 10_000;
    while (hits.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300)); // several more scans: still one notice
    expect(hits).toHaveLength(1);
    expect(verifySignature(secret!, hits[0]!.signature, hits[0]!.body).valid).toBe(true);
    expect(JSON.parse(hits[0]!.body)).toMatchObject({
      type: 'key.expiring',
      key_id: 'key_soon',
      data: { key: { id: 'key_soon', name: 'deploy', expires_at: expiresAt.toISOString() } },
    });
  });
});
