import { OWNER, startKeyServer } from './keys-lib.ts';
import { benchSeconds, type LoadResult, load, report } from './lib.ts';

/**
 * `client_credentials` at `POST /token` with an API key as the client (client_id = key id,
 * client_secret = the key) vs a registered static client of the same workspace, on one embedded
 * Gatehouse process, same scope, same run (loopback, 16 connections). Rounds alternate so that
 * machine noise hits both alike; the ratio is the key client's total over the static client's.
 * Target ratio >= 0.8.
 */
const ROUNDS = 2;

async function json(url: string, init: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(url, init);
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

function tokenRequest(url: string, id: string, secret: string) {
  return {
    url: `${url}/token`,
    method: 'POST' as const,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials&scope=videos%3Aread',
  };
}

export default async function keysClientCredentials(): Promise<void> {
  const server = await startKeyServer();
  try {
    const key = await server.createKey({ name: 'token client', scopes: ['videos:read'] });
    const login = await json(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(OWNER),
    });
    const client = await json(`${server.url}/api/v1/workspaces/default/clients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${login.access_token}` },
      body: JSON.stringify({ client_name: 'static service', grant_types: ['client_credentials'] }),
    });
    const asKey = tokenRequest(server.url, key.id, key.secret);
    const asClient = tokenRequest(server.url, String(client.client_id), String(client.client_secret));
    await load({ ...asKey, duration: 1 });
    await load({ ...asClient, duration: 1 });
    const runs: { key: LoadResult[]; client: LoadResult[] } = { key: [], client: [] };
    for (let i = 0; i < ROUNDS; i++) {
      runs.key.push(await load({ ...asKey, duration: benchSeconds }));
      runs.client.push(await load({ ...asClient, duration: benchSeconds }));
    }
    const conditions = { store: 'embedded', connections: 16, seconds: benchSeconds, rounds: ROUNDS };
    const sum = (rs: LoadResult[], f: (r: LoadResult) => number) => rs.reduce((a, r) => a + f(r), 0);
    for (const [name, rs] of [
      ['API key as client', runs.key],
      ['static client', runs.client],
    ] as const) {
      const extra = { ...conditions, errors: sum(rs, (r) => r.errors), non2xx: sum(rs, (r) => r.non2xx) };
      report(`client_credentials (${name}) throughput`, sum(rs, (r) => r.rps) / rs.length, 'tokens/s', extra);
      report(`client_credentials (${name}) p99 latency`, Math.max(...rs.map((r) => r.p99)), 'ms', extra);
    }
    report(
      'client_credentials API key / static client throughput ratio',
      sum(runs.key, (r) => r.rps) / sum(runs.client, (r) => r.rps),
      'ratio',
      { ...conditions, target: 0.8 },
    );
  } finally {
    await server.stop();
  }
}
