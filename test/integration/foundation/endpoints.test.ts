import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mongoUriWithDb, type StoreChoice, startGatehouse, type TestServer } from '../../helpers/server.ts';

const stores: [string, () => StoreChoice][] = [
  ['embedded', () => ({ kind: 'embedded' })],
  ['mongo', () => ({ kind: 'mongo', uri: mongoUriWithDb(inject('mongoUri')) })],
];

describe.each(stores)('foundation endpoints on the %s store', (_name, store) => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await startGatehouse(store());
  });
  afterAll(async () => {
    await gh?.close();
  });

  it('answers liveness without auth', async () => {
    const res = await fetch(`${gh.url}/api/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers readiness while the store answers', async () => {
    const res = await fetch(`${gh.url}/api/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready' });
  });

  it('serves discovery with the configured issuer and a JWKS with ES256 and RS256 public keys', async () => {
    const discovery = await (await fetch(`${gh.url}/.well-known/openid-configuration`)).json();
    expect(discovery.issuer).toBe(gh.issuer);
    expect(discovery.jwks_uri).toBe(`${gh.issuer}/jwks`);
    const jwks = await (await fetch(discovery.jwks_uri)).json();
    const algs = jwks.keys.map((k: { alg: string }) => k.alg).sort();
    expect(algs).toEqual(['ES256', 'RS256']);
    for (const key of jwks.keys) {
      expect(key.kid).toBeTruthy();
      expect(key.d).toBeUndefined(); // public parts only
      expect(key.p).toBeUndefined();
    }
  });

  it('tags responses with a request id and echoes a well-formed one', async () => {
    const mine = await fetch(`${gh.url}/api/health`, { headers: { 'x-request-id': 'abc-123' } });
    expect(mine.headers.get('x-request-id')).toBe('abc-123');
    const hostile = await fetch(`${gh.url}/api/health`, { headers: { 'x-request-id': 'not <ours>; drop' } });
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown API routes with a JSON 404', async () => {
    const res = await fetch(`${gh.url}/api/v1/nothing-here`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: 'not_found',
      message: 'No route for GET /api/v1/nothing-here.',
    });
  });

  it('exposes Prometheus metrics including request counts', async () => {
    await fetch(`${gh.url}/api/health`);
    const res = await fetch(`${gh.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(
      /gatehouse_http_requests_total\{method="GET",route="\/api\/health",status="200"\} \d+/,
    );
  });

  it('reports 503 with a JSON error once the store stops answering', async () => {
    const other = await startGatehouse(store());
    await other.container.storage.close();
    const res = await fetch(`${other.url}/api/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'storage_unavailable' });
    other.server.close();
  });
});
