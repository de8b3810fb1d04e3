/**
 * Several Gatehouse processes on one MongoDB: each has its own connection and its own running
 * delivery worker. Every delivery must reach the receiver exactly once.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.ts';
import { systemClock } from '../../../src/storage/port.ts';
import { DeliveryQueue } from '../../../src/webhooks/delivery.ts';
import { SecretBox } from '../../../src/webhooks/secret-box.ts';
import { WebhookService } from '../../../src/webhooks/service.ts';
import { verifySignature } from '../../../src/webhooks/signature.ts';
import { openMongo, randomDbName } from '../../helpers/stores.ts';

describe('webhook workers in several processes sharing one MongoDB', () => {
  const db = randomDbName('gh_webhooks');
  const logger = createLogger('silent');
  const box = new SecretBox([SecretBox.generateKey()]);
  const hits: { delivery: string; verified: boolean }[] = [];
  let secret = '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const verified = verifySignature(secret, req.headers['gatehouse-signature'] as string, body).valid;
      hits.push({ delivery: String(req.headers['gatehouse-delivery']), verified });
      // a little latency, so the workers' polls overlap while deliveries are in flight
      setTimeout(() => res.writeHead(200).end(), 20);
    });
  });
  let stores: Awaited<ReturnType<typeof openMongo>>[] = [];
  let queues: DeliveryQueue[] = [];

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    stores = [await openMongo(systemClock, { db }), await openMongo(systemClock, { db })];
    queues = stores.map(
      ({ storage }) =>
        new DeliveryQueue({
          storage,
          clock: systemClock,
          logger,
          secretBox: box,
          allowInsecureUrls: true,
          pollIntervalMs: 10,
          concurrency: 4,
          timeoutMs: 2000,
        }),
    );
    for (const { storage } of stores) await storage.ensureIndexes();
  });

  afterAll(async () => {
    await Promise.all(queues.map((q) => q.stop()));
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await stores[1]?.storage.close();
    await stores[0]?.cleanup();
  });

  it('delivers each event exactly once', async () => {
    const { port } = server.address() as AddressInfo;
    const service = new WebhookService({
      storage: stores[0]!.storage,
      clock: systemClock,
      logger,
      secretBox: box,
      allowInsecureUrls: true,
    });
    const put = await service.put(
      'ws_1',
      { kind: 'workspace' },
      {
        url: `http://127.0.0.1:${port}/hook`,
        events: ['key.created'],
      },
    );
    secret = put.secret!;
    for (const q of queues) q.start();
    // events emitted by both processes while both workers poll
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        queues[i % 2]!.emit({ type: 'key.created', workspaceId: 'ws_1', keyId: `key_${i}`, data: { i } }),
      ),
    );
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const { items } = await service.listDeliveries('ws_1', { status: 'succeeded', limit: 100 });
      if (items.length === 30) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const { items } = await service.listDeliveries('ws_1', { limit: 100 });
    expect(items.filter((d) => d.status === 'succeeded')).toHaveLength(30);
    expect(items.every((d) => d.attempts.length === 1)).toBe(true);
    expect(hits).toHaveLength(30);
    expect(new Set(hits.map((h) => h.delivery)).size).toBe(30);
    expect(hits.every((h) => h.verified)).toBe(true);
  });
});
