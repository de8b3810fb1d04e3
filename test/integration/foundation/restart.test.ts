import { describe, expect, inject, it } from 'vitest';
import { mongoUriWithDb, type StoreChoice, startGatehouse, tempDir } from '../../helpers/server.ts';

async function kids(url: string): Promise<string[]> {
  const jwks = await (await fetch(`${url}/jwks`)).json();
  return jwks.keys.map((k: { kid: string }) => k.kid).sort();
}

describe('signing keys survive restarts', () => {
  const cases: [string, () => StoreChoice][] = [
    ['embedded', () => ({ kind: 'embedded', dataDir: tempDir().path })],
    ['mongo', () => ({ kind: 'mongo', uri: mongoUriWithDb(inject('mongoUri')) })],
  ];
  it.each(cases)('serves the same kids after a restart on the %s store', async (_name, choose) => {
    const store = choose();
    const first = await startGatehouse(store);
    const before = await kids(first.url);
    await first.close();
    const second = await startGatehouse(store);
    expect(await kids(second.url)).toEqual(before);
    await second.close();
  });

  it('rotation publishes new keys, signs with them and keeps the old ones published', async () => {
    const store: StoreChoice = { kind: 'embedded', dataDir: tempDir().path };
    const first = await startGatehouse(store);
    const before = await kids(first.url);
    await first.container.signingKeys.rotate(3600);
    await first.close();
    const second = await startGatehouse(store);
    const after = await kids(second.url);
    expect(after).toHaveLength(4);
    expect(after).toEqual(expect.arrayContaining(before));
    await second.close();
  });
});
