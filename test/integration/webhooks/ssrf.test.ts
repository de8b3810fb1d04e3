/**
 * Review finding 12: in production a webhook must never reach a non-public address. Literal IPs
 * are refused when the endpoint is saved; a host name is checked when the delivery connects:
 * every address it resolves to must be public, and the socket goes to the address checked. The
 * resolver is injected (a name that "resolves" to 127.0.0.1, where a real TCP listener counts
 * connections), on both stores.
 */
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.ts';
import { type Storage, systemClock } from '../../../src/storage/port.ts';
import { DeliveryQueue } from '../../../src/webhooks/delivery.ts';
import { REFUSED_ADDRESS, type Resolver } from '../../../src/webhooks/guarded-fetch.ts';
import { SecretBox } from '../../../src/webhooks/secret-box.ts';
import { type DeliveryView, WebhookService } from '../../../src/webhooks/service.ts';
import { bothStores, until } from '../../helpers/stores.ts';

describe.each(bothStores)('webhook SSRF guard (%s store)', (_name, open) => {
  let store: { storage: Storage; cleanup(): Promise<void> };
  let box: SecretBox;
  let tcp: TcpServer;
  let port: number;
  let connections: number;
  const queues: DeliveryQueue[] = [];
  const logger = createLogger('silent');

  beforeEach(async () => {
    store = await open();
    box = new SecretBox([SecretBox.generateKey()]);
    connections = 0;
    // Whatever connects here (TLS or not) is counted, then dropped.
    tcp = createTcpServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    port = (tcp.address() as AddressInfo).port;
  });

  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.stop()));
    await new Promise<void>((r) => tcp.close(() => r()));
    await store.cleanup();
  });

  function world(allowInsecureUrls: boolean, resolve: Resolver) {
    const service = new WebhookService({
      storage: store.storage,
      clock: systemClock,
      logger,
      secretBox: box,
      allowInsecureUrls,
    });
    const q = new DeliveryQueue({
      storage: store.storage,
      clock: systemClock,
      logger,
      secretBox: box,
      allowInsecureUrls,
      resolve,
      policy: { maxAttempts: 1, baseDelayMs: 50, maxDelayMs: 50 },
      timeoutMs: 2000,
      pollIntervalMs: 25,
      random: () => 0,
    });
    queues.push(q);
    q.start();
    const done = async (): Promise<DeliveryView | undefined> => {
      const [d] = (await service.listDeliveries('ws_1')).items;
      return d && (d.status === 'succeeded' || d.status === 'failed') ? d : undefined;
    };
    const emit = () =>
      q.emit({ type: 'key.rotated', workspaceId: 'ws_1', keyId: 'key_1', data: { key: { id: 'key_1' } } });
    return { service, done, emit };
  }

  it('refuses, at delivery, a name that resolves to loopback (no connection is made)', async () => {
    const resolved: string[] = [];
    const w = world(false, async (host) => {
      resolved.push(host);
      return [{ address: '127.0.0.1', family: 4 }];
    });
    // A name passes the save-time check: only the connect-time check can know where it points.
    await w.service.put(
      'ws_1',
      { kind: 'key', keyId: 'key_1' },
      { url: `https://hooks.customer.test:${port}/hook`, events: ['key.rotated'] },
    );
    expect(await w.emit()).toBe(1);
    const d = await until('the delivery to fail', w.done);
    expect(d.status).toBe('failed');
    expect(d.attempts).toHaveLength(1);
    expect(d.attempts[0]!.error).toContain(REFUSED_ADDRESS);
    expect(resolved).toEqual(['hooks.customer.test']);
    expect(connections).toBe(0);
  });

  it('refuses a name with any non-public address among public ones, and rebinding answers', async () => {
    let calls = 0;
    // Public first, then loopback (a rebinding resolver), and a mixed answer: all refused or
    // never connected to loopback.
    const w = world(false, async () => {
      calls++;
      return [
        { address: '8.8.8.8', family: 4 },
        { address: '::ffff:127.0.0.1', family: 6 },
      ];
    });
    await w.service.put(
      'ws_1',
      { kind: 'key', keyId: 'key_1' },
      { url: `https://rebind.customer.test:${port}/hook`, events: ['key.rotated'] },
    );
    await w.emit();
    const d = await until('the delivery to fail', w.done);
    expect(d.attempts[0]!.error).toContain(REFUSED_ADDRESS);
    expect(calls).toBe(1);
    expect(connections).toBe(0);
  });

  it('refuses private and internal IP literals when the endpoint is saved', async () => {
    const w = world(false, async () => []);
    for (const host of ['10.0.0.5', '192.168.1.1', '[fd00:ec2::254]', '[::7f00:1]', '[64:ff9b::a9fe:a9fe]']) {
      await expect(
        w.service.put(
          'ws_1',
          { kind: 'key', keyId: 'key_1' },
          { url: `https://${host}/hook`, events: ['key.rotated'] },
        ),
        host,
      ).rejects.toMatchObject({ status: 400 });
    }
  });

  it('connects to the address it checked (outside production, where loopback is allowed)', async () => {
    // Same path with the guard letting loopback through: the name exists only in the injected
    // resolver, so a delivery that arrives proves the socket went to the resolved address.
    const hits: string[] = [];
    const http: Server = createServer((req, res) => {
      hits.push(String(req.headers.host));
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    try {
      const httpPort = (http.address() as AddressInfo).port;
      const w = world(true, async () => [{ address: '127.0.0.1', family: 4 }]);
      await w.service.put(
        'ws_1',
        { kind: 'key', keyId: 'key_1' },
        { url: `http://only-in-resolver.test:${httpPort}/hook`, events: ['key.rotated'] },
      );
      await w.emit();
      const d = await until('the delivery to succeed', w.done);
      expect(d.status).toBe('succeeded');
      expect(hits).toEqual([`only-in-resolver.test:${httpPort}`]);
    } finally {
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    }
  });
});
