/**
 * The provider's endpoints are served by oidc-provider's own app (src/http/provider-lane.ts):
 * they keep Gatehouse's request id, metrics (with bounded route labels) and log line, and a
 * request target that is not a plain path still reaches them through Gatehouse's app.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';

let gh: TestServer;

beforeAll(async () => {
  gh = await startGatehouse();
}, 60_000);

afterAll(async () => {
  await gh?.close();
});

it('echoes a well-formed X-Request-Id on the provider endpoints and makes one otherwise', async () => {
  for (const path of ['/jwks', '/.well-known/openid-configuration', '/token', '/no-such-endpoint']) {
    const method = path === '/token' ? 'POST' : 'GET';
    const mine = await fetch(`${gh.url}${path}`, { method, headers: { 'x-request-id': 'rp-7.x_y' } });
    expect(mine.headers.get('x-request-id'), path).toBe('rp-7.x_y');
    const made = await fetch(`${gh.url}${path}`, { method, headers: { 'x-request-id': 'bad id <x>' } });
    expect(made.headers.get('x-request-id'), path).toMatch(/^[0-9a-f-]{36}$/);
  }
  expect((await fetch(`${gh.url}/token`, { method: 'POST' })).status).toBe(401);
  expect((await fetch(`${gh.url}/no-such-endpoint`)).status).toBe(404);
});

it('counts them in the request metrics under bounded route labels', async () => {
  const series = (route: string) =>
    new RegExp(`gatehouse_http_requests_total\\{method="GET",route="${route}",status="(\\d+)"\\} (\\d+)`);
  const scrape = async () => (await fetch(`${gh.url}/metrics`)).text();
  const before = Number((await scrape()).match(series('/jwks'))?.[2] ?? 0);
  await fetch(`${gh.url}/jwks`);
  await fetch(`${gh.url}/jwks?x=1`);
  for (let i = 0; i < 3; i++) await fetch(`${gh.url}/.well-known/made-up-${i}`);
  const text = await scrape();
  expect(Number(text.match(series('/jwks'))?.[2])).toBe(before + 2);
  // Made-up paths share one label: a caller cannot grow the series.
  expect(text).not.toContain('made-up');
  expect(text).toMatch(series('other'));
});

it('serves an absolute-form request target through Gatehouse’s app, alike', async () => {
  const { hostname, port } = new URL(gh.url);
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.end(`GET ${gh.url}/jwks HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  expect(raw).toMatch(/^HTTP\/1\.1 200 /);
  expect(raw).toMatch(/x-request-id: [0-9a-f-]{36}/i);
  expect(raw).toContain('"keys"');
});
