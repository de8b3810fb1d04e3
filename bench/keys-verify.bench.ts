import { benchMongo, startKeyServer } from './keys-lib.ts';
import { benchSeconds, load, report } from './lib.ts';

/**
 * `POST /api/v1/keys/verify` throughput and p99 against `GET /api/health` of the same process in
 * the same run (loopback, 16 connections), on the embedded store and on MongoDB. The key checks
 * a scope and has no rate limit or cost: the common resource-server call. Target ratio >= 0.5.
 * Both stores as shipped (the embedded store caches key records exactly: one writer; MongoDB for
 * at most API_KEY_CACHE_MS, 1 s), and MongoDB once more without that cache (API_KEY_CACHE_MS=0:
 * one store read per verification).
 */
async function run(store: 'embedded' | 'mongo', env: Record<string, string>): Promise<void> {
  const recordCacheMs = store === 'embedded' ? 'exact' : Number(env.API_KEY_CACHE_MS ?? 1000);
  const server = await startKeyServer(env);
  try {
    const k = await server.createKey({ name: 'resource server', scopes: ['videos:read'] });
    const verify = {
      url: `${server.url}/api/v1/keys/verify`,
      method: 'POST' as const,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: k.secret, required_scopes: ['videos:read'] }),
    };
    const health = { url: `${server.url}/api/health` };
    await load({ ...health, duration: 1 });
    await load({ ...verify, duration: 1 });
    const h = await load({ ...health, duration: benchSeconds });
    const v = await load({ ...verify, duration: benchSeconds });
    const conditions = {
      store,
      recordCacheMs,
      connections: 16,
      seconds: benchSeconds,
      errors: v.errors,
      non2xx: v.non2xx,
    };
    report('keys verify throughput', v.rps, 'req/s', conditions);
    report('keys verify p99 latency', v.p99, 'ms', conditions);
    report('health throughput (same run)', h.rps, 'req/s', {
      ...conditions,
      errors: h.errors,
      non2xx: h.non2xx,
    });
    report('health p99 latency (same run)', h.p99, 'ms', conditions);
    report('keys verify / health throughput ratio', v.rps / h.rps, 'ratio', { ...conditions, target: 0.5 });
  } finally {
    await server.stop();
  }
}

export default async function keysVerify(): Promise<void> {
  await run('embedded', { STORAGE: 'embedded' });
  const mongo = await benchMongo();
  if (!mongo) {
    process.stderr.write('# keys-verify: no MongoDB (set MONGODB_URI); mongo run skipped\n');
    return;
  }
  try {
    await run('mongo', { MONGODB_URI: mongo.uri, STORAGE: 'mongo' });
    // Without the record cache: revocations elsewhere apply to the very next request.
    await run('mongo', { MONGODB_URI: mongo.uri, STORAGE: 'mongo', API_KEY_CACHE_MS: '0' });
  } finally {
    await mongo.stop();
  }
}
