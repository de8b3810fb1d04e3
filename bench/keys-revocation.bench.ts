import { performance } from 'node:perf_hooks';
import { GatehouseVerifier } from '../src/middleware/index.ts';
import { benchMongo, startKeyServer, startPeer } from './keys-lib.ts';
import { report } from './lib.ts';

/**
 * Revocation propagation between Gatehouse processes on one MongoDB, over 50 revocations:
 * - Gatehouse to Gatehouse: revoke through process A, then ask until it refuses process B, as
 *   shipped (its key-record cache, API_KEY_CACHE_MS 1 s, learns changes elsewhere every 500 ms),
 *   and process C without that cache (API_KEY_CACHE_MS=0: one request);
 * - to the middleware (default settings: 5 s cache, 1 s revocation feed) in front of process B,
 *   with the key cached there before the revocation.
 * Times run from the revoke answer to the first refusal (median and max).
 */
const ROUNDS = 50;

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
}

async function verifies(base: string, key: string): Promise<boolean> {
  const res = await fetch(`${base}/api/v1/keys/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  });
  return ((await res.json()) as { valid: boolean }).valid;
}

/** Asks `base` to verify `key` until it refuses it; the milliseconds since `t0`. */
async function untilRefused(base: string, key: string, t0: number): Promise<number> {
  while (await verifies(base, key)) await new Promise((r) => setTimeout(r, 1));
  return performance.now() - t0;
}

export default async function keysRevocation(): Promise<void> {
  const mongo = await benchMongo();
  if (!mongo) {
    process.stderr.write('# keys-revocation: no MongoDB (set MONGODB_URI); skipped\n');
    return;
  }
  const env = { MONGODB_URI: mongo.uri, STORAGE: 'mongo' };
  const a = await startKeyServer(env);
  const b = await startPeer(env);
  const c = await startPeer({ ...env, API_KEY_CACHE_MS: '0' });
  const verifier = new GatehouseVerifier({ gatehouseUrl: b.url });
  try {
    await verifier.pollNow();
    const toB: number[] = [];
    const toC: number[] = [];
    const middleware: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const k = await a.createKey({ name: `r${i}`, scopes: ['videos:read'] });
      const headers = { authorization: `Bearer ${k.secret}` };
      if (!(await verifies(b.url, k.secret))) throw new Error('fresh key refused by B');
      if (!(await verifier.check(headers)).ok) throw new Error('fresh key refused by the middleware');
      const res = await fetch(`${a.url}/api/v1/keys/${k.id}/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${a.admin}` },
      });
      if (res.status !== 200) throw new Error(`revoke answered ${res.status}`);
      const t0 = performance.now();
      // Concurrently: each clock runs from the same revoke answer.
      const [cMs, bMs, mMs] = await Promise.all([
        untilRefused(c.url, k.secret, t0),
        untilRefused(b.url, k.secret, t0),
        (async () => {
          while ((await verifier.check(headers)).ok) await new Promise((r) => setTimeout(r, 5));
          return performance.now() - t0;
        })(),
      ]);
      toC.push(cMs);
      toB.push(bMs);
      middleware.push(mMs);
    }
    const conditions = { rounds: ROUNDS, store: 'mongo', processes: 3 };
    for (const [name, xs, cacheMs] of [
      ['A→B (Gatehouse, as shipped)', toB, 1000],
      ['A→C (Gatehouse, no record cache)', toC, 0],
    ] as const) {
      const s = stats(xs);
      report(`revocation propagation ${name} median`, s.median, 'ms', {
        ...conditions,
        API_KEY_CACHE_MS: cacheMs,
      });
      report(`revocation propagation ${name} max`, s.max, 'ms', { ...conditions, API_KEY_CACHE_MS: cacheMs });
    }
    const m = stats(middleware);
    const mc = { ...conditions, cacheTtlMs: 5000, revocationPollMs: 1000 };
    report('revocation propagation A→middleware via B median', m.median, 'ms', mc);
    report('revocation propagation A→middleware via B max', m.max, 'ms', mc);
  } finally {
    verifier.close();
    await c.stop();
    await b.stop();
    await a.stop();
    await mongo.stop();
  }
}
