import { performance } from 'node:perf_hooks';
import { GatehouseVerifier } from '../src/middleware/index.ts';
import { benchMongo, startKeyServer, startPeer } from './keys-lib.ts';
import { report } from './lib.ts';

/**
 * Revocation propagation between two Gatehouse processes on one MongoDB, over 50 revocations:
 * - Gatehouse to Gatehouse: revoke through process A, then ask process B until it refuses
 *   (Gatehouse caches no key, so this is one request);
 * - to the middleware (default settings: 5 s cache, 1 s revocation feed) in front of process B,
 *   with the key cached there before the revocation.
 * Times run from the revoke answer to the first refusal (median and max).
 */
const ROUNDS = 50;

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
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
  const verifier = new GatehouseVerifier({ gatehouseUrl: b.url });
  try {
    await verifier.pollNow();
    const direct: number[] = [];
    const middleware: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const k = await a.createKey({ name: `r${i}`, scopes: ['videos:read'] });
      const headers = { authorization: `Bearer ${k.secret}` };
      const ask = async () =>
        (
          (await (
            await fetch(`${b.url}/api/v1/keys/verify`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ key: k.secret }),
            })
          ).json()) as { valid: boolean }
        ).valid;
      if (!(await ask())) throw new Error('fresh key refused by B');
      if (!(await verifier.check(headers)).ok) throw new Error('fresh key refused by the middleware');
      const res = await fetch(`${a.url}/api/v1/keys/${k.id}/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${a.admin}` },
      });
      if (res.status !== 200) throw new Error(`revoke answered ${res.status}`);
      const t0 = performance.now();
      while (await ask()) await new Promise((r) => setTimeout(r, 1));
      direct.push(performance.now() - t0);
      while ((await verifier.check(headers)).ok) await new Promise((r) => setTimeout(r, 5));
      middleware.push(performance.now() - t0);
    }
    const conditions = { rounds: ROUNDS, store: 'mongo', processes: 2 };
    const d = stats(direct);
    const m = stats(middleware);
    report('revocation propagation A→B (Gatehouse) median', d.median, 'ms', conditions);
    report('revocation propagation A→B (Gatehouse) max', d.max, 'ms', conditions);
    const mc = { ...conditions, cacheTtlMs: 5000, revocationPollMs: 1000 };
    report('revocation propagation A→middleware via B median', m.median, 'ms', mc);
    report('revocation propagation A→middleware via B max', m.max, 'ms', mc);
  } finally {
    verifier.close();
    await b.stop();
    await a.stop();
    await mongo.stop();
  }
}
