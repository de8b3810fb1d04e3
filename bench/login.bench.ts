import { performance } from 'node:perf_hooks';
import { DEFAULT_HASH_COST } from '../src/accounts/password.ts';
import { benchSeconds, report, startServer } from './lib.ts';

/**
 * The login API over HTTP against a real Gatehouse process (embedded store, loopback):
 * - password logins per second with the configured argon2id cost (the default: OWASP's
 *   m=19456 KiB, t=2, p=1), p50/p99;
 * - refresh grants per second (each a rotation: the presented refresh token is consumed and a
 *   new pair minted), p50/p99.
 * Each worker chains its own refresh tokens (autocannon cannot carry a token from one answer to
 * the next request), so the loop is ours; latencies are measured around each request.
 * The auth rate limits are raised for the run (one client address and one email would otherwise
 * hit 60/min and 15/min at once); everything else is as shipped.
 */
const EMAIL = 'bench@example.com';
const PASSWORD = 'a benchmark password';
const UNLIMITED = {
  AUTH_LOGIN_LIMIT_PER_IP: '100000000',
  AUTH_LOGIN_LIMIT_PER_EMAIL: '100000000',
  AUTH_REFRESH_LIMIT_PER_TOKEN: '100000000',
  AUTH_REFRESH_LIMIT_PER_IP: '100000000',
};

interface Run {
  rps: number;
  p50: number;
  p99: number;
  n: number;
  failures: number;
  seconds: number;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `concurrency` workers, each calling `step` back to back for `seconds`. */
async function drive(
  seconds: number,
  concurrency: number,
  step: (worker: number) => Promise<boolean>,
): Promise<Run> {
  const latencies: number[] = [];
  let failures = 0;
  const until = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < until) {
        const t = performance.now();
        const ok = await step(worker);
        latencies.push(performance.now() - t);
        if (!ok) failures++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    rps: (latencies.length - failures) / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    n: latencies.length,
    failures,
    seconds: Math.round(elapsed * 10) / 10,
  };
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, string> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, string> };
}

export default async function login(): Promise<void> {
  const server = await startServer({
    BOOTSTRAP_ADMIN_EMAIL: EMAIL,
    BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
    ...UNLIMITED,
  });
  try {
    const loginUrl = `${server.url}/api/v1/auth/login`;
    const refreshUrl = `${server.url}/api/v1/auth/refresh`;
    const signIn = () => post(loginUrl, { email: EMAIL, password: PASSWORD });
    const first = await signIn();
    if (first.status !== 200)
      throw new Error(`login answered ${first.status}: ${JSON.stringify(first.json)}`);

    const loginConcurrency = 4;
    await drive(1, loginConcurrency, async () => (await signIn()).status === 200); // warm-up
    const logins = await drive(benchSeconds, loginConcurrency, async () => (await signIn()).status === 200);
    const loginConditions = {
      store: 'embedded',
      concurrency: loginConcurrency,
      seconds: logins.seconds,
      argon2id: {
        memoryKib: DEFAULT_HASH_COST.memoryKib,
        iterations: DEFAULT_HASH_COST.iterations,
        parallelism: 1,
      },
      requests: logins.n,
      failures: logins.failures,
    };
    report('login API: password logins', logins.rps, 'logins/s', loginConditions);
    report('login API: password login p50 latency', logins.p50, 'ms', loginConditions);
    report('login API: password login p99 latency', logins.p99, 'ms', loginConditions);

    const refreshConcurrency = 16;
    const tokens: string[] = [];
    for (let i = 0; i < refreshConcurrency; i++) tokens.push((await signIn()).json.refresh_token!);
    const step = async (worker: number) => {
      const res = await post(refreshUrl, { refresh_token: tokens[worker] });
      if (res.status !== 200) {
        tokens[worker] = (await signIn()).json.refresh_token!; // keep the chain going
        return false;
      }
      tokens[worker] = res.json.refresh_token!;
      return true;
    };
    await drive(1, refreshConcurrency, step); // warm-up
    const refreshes = await drive(benchSeconds, refreshConcurrency, step);
    const refreshConditions = {
      store: 'embedded',
      concurrency: refreshConcurrency,
      seconds: refreshes.seconds,
      rotation: true,
      requests: refreshes.n,
      failures: refreshes.failures,
    };
    report('login API: refresh grants', refreshes.rps, 'grants/s', refreshConditions);
    report('login API: refresh grant p50 latency', refreshes.p50, 'ms', refreshConditions);
    report('login API: refresh grant p99 latency', refreshes.p99, 'ms', refreshConditions);
  } finally {
    await server.stop();
  }
}
