/**
 * A registered client's changes apply to its very next request at the token endpoint, on both
 * stores (the embedded store keeps clients in an exact cache, client-cache.ts; each request
 * here follows one that put the client in it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import { form, stores, tenant } from './fixtures.ts';

describe.each(stores)('registered client changes on the %s store', (_name, store) => {
  let gh: TestServer;

  beforeAll(async () => {
    gh = await startGatehouse(store(), { PASSWORD_HASH_MEMORY_KIB: '1024', PASSWORD_HASH_ITERATIONS: '1' });
  }, 60_000);

  afterAll(async () => {
    await gh?.close();
  });

  const cc = (id: string, secret: string) =>
    form(`${gh.url}/token`, { grant_type: 'client_credentials', scope: 'api_keys:read' }, { id, secret });

  it('a new secret, new grant types and a deletion each apply to the next token request', async () => {
    const c = gh.container;
    const { workspaceId } = await tenant(c, 'changes');
    const made = await c.clients.create(workspaceId, { name: 'svc', grantTypes: ['client_credentials'] });
    const id = made.client.id;
    expect((await cc(id, made.secret!)).status).toBe(200);
    expect((await cc(id, made.secret!)).status).toBe(200);

    const rotated = await c.clients.rotateSecret(workspaceId, id);
    expect(await cc(id, made.secret!)).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    expect((await cc(id, rotated.secret!)).status).toBe(200);

    await c.clients.update(workspaceId, id, {
      grantTypes: ['authorization_code'],
      redirectUris: ['https://app.example/callback'],
    });
    expect(await cc(id, rotated.secret!)).toMatchObject({
      status: 400,
      json: { error: 'unauthorized_client' },
    });
    await c.clients.update(workspaceId, id, { grantTypes: ['client_credentials'] });
    expect((await cc(id, rotated.secret!)).status).toBe(200);

    await c.clients.delete(workspaceId, id);
    expect(await cc(id, rotated.secret!)).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
  });
});
