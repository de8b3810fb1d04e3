import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateKey } from '../src/api-keys/format.ts';
import { ApiKeyService } from '../src/api-keys/service.ts';
import { EmbeddedStorage } from '../src/storage/embedded/store.ts';
import { systemClock } from '../src/storage/port.ts';
import { WorkspaceService } from '../src/workspaces/service.ts';
import { benchSeconds, report } from './lib.ts';

/**
 * In-process API-key verification on the embedded store: the service's own cost (parse,
 * digest, look-up, scopes, rate-limit counter, credit charge), without HTTP. One figure per
 * pipeline shape, `concurrency` verifications in flight.
 */
export default async function apiKeys(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gh-bench-keys-'));
  const storage = await EmbeddedStorage.open(dataDir);
  const workspaces = new WorkspaceService(storage, systemClock);
  const keys = new ApiKeyService({ storage, clock: systemClock, workspaces });
  try {
    await storage.ensureIndexes();
    const ws = await workspaces.create({ name: 'Bench' }, 'usr_bench');
    const all = { scopes: 'all' as const };
    for (let i = 0; i < 1000; i++)
      await keys.create(ws.id, { name: `filler ${i}`, scopes: ['videos:read'] }, all);
    const plain = await keys.create(ws.id, { name: 'plain', scopes: ['videos:read'] }, all);
    const limited = await keys.create(
      ws.id,
      {
        name: 'limited',
        scopes: ['videos:read'],
        rateLimit: { requests: 1_000_000, windowSeconds: 86_400 },
      },
      all,
    );
    await keys.credits.topUp(ws.id, 1_000_000_000);
    const cases = [
      { name: 'scope check', req: { key: plain.secret, requiredScopes: ['videos:read'] } },
      {
        name: 'scope check + rate limit + credit charge',
        req: { key: limited.secret, requiredScopes: ['videos:read'], cost: 1 },
      },
      { name: 'unknown (well-formed) key', req: { key: generateKey('sk', 'live').key } },
      { name: 'noise (refused offline)', req: { key: 'sk_live_not-a-key' } },
    ];
    const concurrency = 16;
    for (const c of cases) {
      const seconds = Math.max(1, benchSeconds / 2);
      let n = 0;
      const until = performance.now() + seconds * 1000;
      const worker = async () => {
        while (performance.now() < until) {
          await keys.verify(c.req);
          n++;
        }
      };
      const start = performance.now();
      await Promise.all(Array.from({ length: concurrency }, worker));
      const elapsed = (performance.now() - start) / 1000;
      report(`API key verify: ${c.name}`, n / elapsed, 'verifications/s', {
        store: 'embedded',
        inProcess: true,
        concurrency,
        seconds: Math.round(elapsed * 10) / 10,
        keysInStore: 1002,
      });
    }
  } finally {
    await keys.close();
    await storage.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
