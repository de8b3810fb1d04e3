/**
 * Webhook delivery against real HTTP receivers on 127.0.0.1: retries with backoff, signatures
 * checked by the exported verifier, timeouts, and `emit` never waiting for a receiver. Runs on
 * both stores with the real clock and short intervals.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.ts';
import { type Storage, systemClock } from '../../../src/storage/port.ts';
import { DeliveryQueue } from '../../../src/webhooks/delivery.ts';
import { SecretBox } from '../../../src/webhooks/secret-box.ts';
import { type DeliveryView, WebhookService } from '../../../src/webhooks/service.ts';
import { verifySignature } from '../../../src/webhooks/signature.ts';
import { bothStores, until } from '../../helpers/stores.ts';

interface Hit {
  at: number;
  headers: IncomingMessage['headers'];
  body: string;
  verified: boolean;
}

interface Receiver {
  url: string;
  hits: Hit[];
  close(): Promise<void>;
}

/** A webhook receiver as a platform would write one: raw body, then the exported verifier. */
async function startReceiver(
  secret: () => string,
  respond: (hit: Hit, res: ServerResponse) => void,
): Promise<Receiver> {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = req.headers['gatehouse-signature'] as string | undefined;
      const hit = {
        at: Date.now(),
        headers: req.headers,
        body,
        verified: verifySignature(secret(), header, body).valid,
      };
      hits.push(hit);
      if (!hit.verified) {
        res.writeHead(400).end('bad signature');
        return;
      }
      respond(hit, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/gatehouse`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.each(bothStores)('webhook delivery to real receivers (%s store)', (_name, open) => {
  let store: { storage: Storage; cleanup(): Promise<void> };
  let service: WebhookService;
  let box: SecretBox;
  const receivers: Receiver[] = [];
  const queues: DeliveryQueue[] = [];
  const logger = createLogger('silent');

  beforeEach(async () => {
    store = await open();
    box = new SecretBox([SecretBox.generateKey()]);
    service = new WebhookService({
      storage: store.storage,
      clock: systemClock,
      logger,
      secretBox: box,
      allowInsecureUrls: true,
    });
  });

  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.stop()));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    await store.cleanup();
  });

  function startQueue(options: {
    maxAttempts: number;
    baseDelayMs: number;
    timeoutMs: number;
  }): DeliveryQueue {
    const q = new DeliveryQueue({
      storage: store.storage,
      clock: systemClock,
      logger,
      secretBox: box,
      allowInsecureUrls: true,
      policy: { maxAttempts: options.maxAttempts, baseDelayMs: options.baseDelayMs, maxDelayMs: 5000 },
      timeoutMs: options.timeoutMs,
      pollIntervalMs: 25,
      random: () => 0,
    });
    queues.push(q);
    q.start();
    return q;
  }

  async function register(respond: (hit: Hit, res: ServerResponse) => void): Promise<Receiver> {
    let secret = '';
    const receiver = await startReceiver(() => secret, respond);
    receivers.push(receiver);
    const put = await service.put(
      'ws_1',
      { kind: 'key', keyId: 'key_1' },
      {
        url: receiver.url,
        events: ['key.rotated'],
      },
    );
    secret = put.secret!;
    return receiver;
  }

  const terminal = async (): Promise<DeliveryView | undefined> => {
    const [d] = (await service.listDeliveries('ws_1')).items;
    return d && (d.status === 'succeeded' || d.status === 'failed') ? d : undefined;
  };

  it('retries a receiver that fails twice with 500, with backoff, then succeeds', async () => {
    const receiver = await register((_hit, res) => {
      res.writeHead(receiver.hits.length <= 2 ? 500 : 200).end();
    });
    const q = startQueue({ maxAttempts: 5, baseDelayMs: 200, timeoutMs: 2000 });
    expect(
      await q.emit({
        type: 'key.rotated',
        workspaceId: 'ws_1',
        keyId: 'key_1',
        data: { key: { id: 'key_1' } },
      }),
    ).toBe(1);

    const d = await until('the delivery to succeed', terminal);
    expect(d.status).toBe('succeeded');
    expect(d.attempts.map((a) => [a.n, a.statusCode, a.result])).toEqual([
      [1, 500, 'retry'],
      [2, 500, 'retry'],
      [3, 200, 'succeeded'],
    ]);
    for (const a of d.attempts) {
      expect(a.durationMs).toBeGreaterThanOrEqual(0);
      expect(a.at).toBeInstanceOf(Date);
    }
    // every request carried a valid signature over the same body, checked by the receiver
    expect(receiver.hits).toHaveLength(3);
    expect(receiver.hits.every((h) => h.verified)).toBe(true);
    expect(new Set(receiver.hits.map((h) => h.body)).size).toBe(1);
    expect(receiver.hits[0]!.headers['gatehouse-delivery']).toBe(d.id);
    expect(JSON.parse(receiver.hits[0]!.body)).toMatchObject({
      type: 'key.rotated',
      workspace_id: 'ws_1',
      key_id: 'key_1',
      data: { key: { id: 'key_1' } },
    });
    // backoff: with jitter pinned low, waits of at least 100 ms then 200 ms (base 200 ms, doubling)
    const gaps = [receiver.hits[1]!.at - receiver.hits[0]!.at, receiver.hits[2]!.at - receiver.hits[1]!.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
  });

  it('times out on a receiver that never answers, retries, and gives up after N attempts', async () => {
    const receiver = await register(() => {
      // never answers; the socket is closed by the sender's timeout (or by close() at the end)
    });
    const q = startQueue({ maxAttempts: 3, baseDelayMs: 50, timeoutMs: 300 });
    await q.emit({ type: 'key.rotated', workspaceId: 'ws_1', keyId: 'key_1', data: {} });

    const d = await until('the delivery to fail', terminal);
    expect(d.status).toBe('failed');
    expect(d.lastError).toBe('timed out after 300 ms');
    expect(d.attempts.map((a) => [a.n, a.result, a.error, a.statusCode])).toEqual([
      [1, 'retry', 'timed out after 300 ms', undefined],
      [2, 'retry', 'timed out after 300 ms', undefined],
      [3, 'failed', 'timed out after 300 ms', undefined],
    ]);
    for (const a of d.attempts) expect(a.durationMs).toBeGreaterThanOrEqual(290);
    expect(receiver.hits).toHaveLength(3);
  });

  it('emit returns before the receiver is contacted, however slow the receiver is', async () => {
    let answered = 0;
    const receiver = await register((_hit, res) => {
      setTimeout(() => {
        res.writeHead(204).end();
        answered = Date.now();
      }, 500);
    });
    const q = startQueue({ maxAttempts: 3, baseDelayMs: 50, timeoutMs: 2000 });
    const queued = await q.emit({ type: 'key.rotated', workspaceId: 'ws_1', keyId: 'key_1', data: {} });
    const returned = Date.now();
    expect(queued).toBe(1);
    expect(receiver.hits).toHaveLength(0);

    const d = await until('the delivery to succeed', terminal);
    expect(d.status).toBe('succeeded');
    expect(receiver.hits[0]!.at).toBeGreaterThanOrEqual(returned);
    expect(answered).toBeGreaterThanOrEqual(returned + 450);
  });

  it('stop() waits for the attempt in flight and then stops polling', async () => {
    const receiver = await register((_hit, res) => {
      setTimeout(() => res.writeHead(200).end(), 200);
    });
    const q = startQueue({ maxAttempts: 3, baseDelayMs: 50, timeoutMs: 2000 });
    await q.emit({ type: 'key.rotated', workspaceId: 'ws_1', keyId: 'key_1', data: {} });
    await until('the receiver to be contacted', async () => (receiver.hits.length ? true : undefined));
    await q.stop();
    expect((await service.listDeliveries('ws_1')).items[0]!.status).toBe('succeeded');
    await q.emit({ type: 'key.rotated', workspaceId: 'ws_1', keyId: 'key_1', data: {} });
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.hits).toHaveLength(1);
    expect((await service.listDeliveries('ws_1', { status: 'pending' })).items).toHaveLength(1);
  });
});
