import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchServer, freePort, startServer } from './lib.ts';

/**
 * Shared setup of the API-key benchmarks: a Gatehouse process with a known bootstrap owner, an
 * admin key made through the login API and the keys API (the process owns its store), and a
 * MongoDB for the mongo runs (MONGODB_URI, else the FerretDB the test setup caches).
 */
export const OWNER = { email: 'bench-keys@example.com', password: 'a benchmark password' };

async function post(url: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${url} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

export interface KeyServer extends BenchServer {
  /** A grant-all key of the bootstrap workspace, to manage keys with. */
  admin: string;
  createKey(body: Record<string, unknown>): Promise<{ id: string; secret: string }>;
}

export async function startKeyServer(env: Record<string, string> = {}): Promise<KeyServer> {
  const server = await startServer({
    BOOTSTRAP_ADMIN_EMAIL: OWNER.email,
    BOOTSTRAP_ADMIN_PASSWORD: OWNER.password,
    AUTH_LOGIN_LIMIT_PER_IP: '100000',
    AUTH_LOGIN_LIMIT_PER_EMAIL: '100000',
    ...env,
  });
  try {
    const login = await post(`${server.url}/api/v1/auth/login`, OWNER);
    const token = String(login.access_token);
    const admin = await post(`${server.url}/api/v1/keys`, { name: 'bench admin', grant_all: true }, token);
    const adminSecret = String(admin.secret);
    return {
      ...server,
      admin: adminSecret,
      async createKey(body) {
        const k = await post(`${server.url}/api/v1/keys`, body, adminSecret);
        return { id: String(k.id), secret: String(k.secret) };
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** A second process on the same store (MongoDB only). */
export function startPeer(env: Record<string, string>): Promise<BenchServer> {
  return startServer(env);
}

export interface Mongo {
  uri: string;
  stop(): Promise<void>;
}

/** MONGODB_URI (with a fresh database), or the cached FerretDB binary; null when neither exists. */
export async function benchMongo(): Promise<Mongo | null> {
  const db = `gh_bench_${Date.now().toString(36)}`;
  const given = process.env.MONGODB_URI;
  if (given) {
    const u = new URL(given);
    u.pathname = `/${db}`;
    return { uri: u.toString(), stop: async () => {} };
  }
  const bin = join(
    process.env.GATEHOUSE_CACHE_DIR ?? join(homedir(), '.cache', 'gatehouse'),
    'ferretdb-1.24.2',
    'ferretdb',
  );
  if (!existsSync(bin)) return null;
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), 'gh-bench-ferret-'));
  const child: ChildProcess = spawn(
    bin,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${state}/`,
      `--state-dir=${state}`,
      `--listen-addr=127.0.0.1:${port}`,
      '--telemetry=disable',
      '--debug-addr=-',
      '--log-level=warn',
    ],
    { stdio: 'ignore' },
  );
  const net = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    uri: `mongodb://127.0.0.1:${port}/${db}`,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(state, { recursive: true, force: true });
    },
  };
}
