/**
 * `POST /api/v1/keys/verify` has two doors: plain JSON bodies are answered straight from Node's
 * server (verifyFastLane), any other body by the Koa app (verifyLane). Which door a request
 * takes must not show: same answers, request ids, metrics, caller IP and error shapes.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyFastLane } from '../../../src/http/routes/verify.ts';
import { StorageUnavailableError } from '../../../src/storage/index.ts';
import { type KeyWorld, keyWorld } from './fixtures.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request with exactly these headers and body (no chunking unless `pieces` is given). */
function send(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string | Buffer; pieces?: string[] },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'POST', headers: o.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    if (o.pieces) {
      for (const p of o.pieces) req.write(p);
      req.end();
    } else req.end(o.body);
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };
/** The fast lane's door: a plain JSON body with its length. */
const plain = (url: string, body: string, headers: Record<string, string> = {}) =>
  send(url, {
    headers: { ...JSON_TYPE, 'content-length': String(Buffer.byteLength(body)), ...headers },
    body,
  });
/** The Koa app's door: the same body, chunked in two pieces (no length given). */
const chunked = (url: string, body: string, headers: Record<string, string> = {}) =>
  send(url, { headers: { ...JSON_TYPE, ...headers }, pieces: [body.slice(0, 5), body.slice(5)] });

let w: KeyWorld;
let verifyUrl: string;

beforeAll(async () => {
  w = await keyWorld({ kind: 'embedded' });
  verifyUrl = `${w.server.url}/api/v1/keys/verify`;
}, 60_000);

afterAll(async () => {
  await w?.server.close();
});

describe('which requests the fast lane takes', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    // The real lane over the test server's container; everything else lands in a marker.
    server = createServer(
      verifyFastLane(w.c, (req, res) => {
        req.resume();
        res.writeHead(299).end('rest');
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers POST with a plain JSON body, and hands every other request on', async () => {
    const k = await w.key({ name: 'doors', scopes: ['videos:read'] });
    const body = JSON.stringify({ key: k.secret });
    const path = `${base}/api/v1/keys/verify`;
    for (const headers of [{}, { 'content-type': 'application/json; charset=utf-8' }] as Record<
      string,
      string
    >[]) {
      const r = await plain(path, body, headers);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text)).toMatchObject({ valid: true, key_id: k.id });
    }
    const handedOn = [
      chunked(path, body),
      send(path, { method: 'PUT', headers: JSON_TYPE, body }),
      send(path, { method: 'GET' }),
      plain(`${path}?x=1`, body),
      plain(`${path}/`, body),
      plain(`${base}/api/v1/keys`, body),
      send(path, { headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, body: gzipSync(body) }),
      send(path, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `key=${k.secret}`,
      }),
      send(path, { headers: { 'content-type': 'text/plain' }, body }),
      send(path, { headers: { ...JSON_TYPE, 'content-length': '0' } }),
      plain(path, JSON.stringify({ key: 'x'.repeat(200_000) })),
    ];
    for (const r of await Promise.all(handedOn)) expect([r.status, r.text]).toEqual([299, 'rest']);
  });
});

describe('both doors answer alike', () => {
  it('the same status, body and headers for valid, refused and malformed requests', async () => {
    const k = await w.key({ name: 'alike', scopes: ['videos:read'] });
    const revoked = await w.key({ name: 'gone', scopes: ['videos:read'] });
    await w.call('POST', `/api/v1/keys/${revoked.id}/revoke`, w.a.admin);
    const bodies = [
      JSON.stringify({ key: k.secret, required_scopes: ['videos:read'] }),
      JSON.stringify({ key: k.secret, required_scopes: ['videos:write'] }),
      JSON.stringify({ key: revoked.secret }),
      JSON.stringify({ key: `${k.secret.slice(0, -1)}x` }),
      JSON.stringify({ key: k.secret, cost: -1 }),
      JSON.stringify({ key: k.secret, surprise: true }),
      JSON.stringify({}),
      JSON.stringify([k.secret]),
      '{"key":',
      '42',
      '{"__proto__":{"admin":true},"key":"x"}',
    ];
    for (const body of bodies) {
      const [fast, koa] = [await plain(verifyUrl, body), await chunked(verifyUrl, body)];
      expect(fast.status, body).toBe(koa.status);
      expect(JSON.parse(fast.text), body).toEqual(JSON.parse(koa.text));
      for (const h of ['content-type', 'cache-control'])
        expect(fast.headers[h], `${h} ${body}`).toBe(koa.headers[h]);
      expect(fast.status === 200 || fast.status === 400, body).toBe(true);
      expect(fast.text).not.toMatch(/at .*\.ts:\d+/); // never a stack
    }
  });

  it('echo a well-formed X-Request-Id and make one otherwise, on answers and errors', async () => {
    const k = await w.key({ name: 'ids', scopes: ['videos:read'] });
    const body = JSON.stringify({ key: k.secret });
    for (const door of [plain, chunked]) {
      expect((await door(verifyUrl, body, { 'x-request-id': 'rs-42.a_b' })).headers['x-request-id']).toBe(
        'rs-42.a_b',
      );
      const made = await door(verifyUrl, '{"key":', { 'x-request-id': 'not an id!' });
      expect(made.status).toBe(400);
      expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('count in the request metrics under the operation route', async () => {
    const k = await w.key({ name: 'metered', scopes: ['videos:read'] });
    const body = JSON.stringify({ key: k.secret });
    const series =
      /gatehouse_http_requests_total\{method="POST",route="\/api\/v1\/keys\/verify",status="200"\} (\d+)/;
    const count = async () =>
      Number((await send(`${w.server.url}/metrics`, { method: 'GET' })).text.match(series)?.[1] ?? 0);
    const before = await count();
    await plain(verifyUrl, body);
    await chunked(verifyUrl, body);
    expect(await count()).toBe(before + 2);
  });

  it("note the caller's address as Koa reads it: the peer, or the first forwarded address behind a trusted proxy", async () => {
    const trusted = await keyWorld({ kind: 'embedded' }, { TRUST_PROXY: 'true' });
    try {
      const forwarded = { 'x-forwarded-for': '203.0.113.7, 10.0.0.1', 'user-agent': 'rs/1.0' };
      const cases = [
        { world: w, expected: '127.0.0.1' },
        { world: trusted, expected: '203.0.113.7' },
      ];
      for (const { world, expected } of cases) {
        for (const door of [plain, chunked]) {
          const k = await world.key({ name: 'ip', scopes: ['videos:read'] });
          const url = `${world.server.url}/api/v1/keys/verify`;
          await door(url, JSON.stringify({ key: k.secret }), forwarded);
          const shown = await world.call('GET', `/api/v1/keys/${k.id}`, world.a.admin);
          expect(shown.body.last_used_ip, door.name).toBe(expected);
          // A refusal is audited with the same address and the caller's user agent.
          await world.call('POST', `/api/v1/keys/${k.id}/revoke`, world.a.admin);
          await door(url, JSON.stringify({ key: k.secret }), forwarded);
          await world.c.audit.flush();
          const trail = await world.call(
            'GET',
            '/api/v1/audit?action=key.use_refused&limit=200',
            world.a.admin,
          );
          const mine = trail.body.data.find((e: { target: { id: string } }) => e.target.id === k.id);
          expect(mine, door.name).toMatchObject({
            reason: 'key_revoked',
            ip: expected,
            user_agent: 'rs/1.0',
          });
        }
      }
    } finally {
      await trusted.server.close();
    }
  });

  it('answer 503 when the store is down and 500 without detail on a bug, and go on serving', async () => {
    const k = await w.key({ name: 'faults', scopes: ['videos:read'] });
    const body = JSON.stringify({ key: k.secret });
    const service = w.c.apiKeys;
    const original = service.verifyRequest;
    try {
      service.verifyRequest = () => Promise.reject(new StorageUnavailableError('down'));
      for (const door of [plain, chunked]) {
        const r = await door(verifyUrl, body);
        expect(r.status).toBe(503);
        expect(JSON.parse(r.text)).toMatchObject({ error: 'storage_unavailable' });
      }
      service.verifyRequest = () => Promise.reject(new Error('boom at secret place'));
      for (const door of [plain, chunked]) {
        const r = await door(verifyUrl, body);
        expect(r.status).toBe(500);
        expect(JSON.parse(r.text)).toEqual({
          error: 'internal_error',
          message: 'Something went wrong on our side; the error was logged.',
        });
      }
    } finally {
      service.verifyRequest = original;
    }
    expect(JSON.parse((await plain(verifyUrl, body)).text)).toMatchObject({ valid: true, key_id: k.id });
  });
});
