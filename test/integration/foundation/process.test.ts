import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, tempDir } from '../../helpers/server.ts';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { PATH: process.env.PATH ?? '', GATEHOUSE_CONFIG_DIR: '/nonexistent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function waitFor(check: () => boolean, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the gatehouse process', () => {
  it('exits non-zero with a one-line reason on invalid configuration', async () => {
    const p = run(['src/main.ts'], { PORT: 'abc' });
    expect(await p.exited).toBe(2);
    expect(
      p
        .err()
        .trim()
        .split('\n')
        .filter((l) => !l.includes('oidc-provider WARNING')),
    ).toEqual(['gatehouse: invalid configuration: PORT: expected a port number, got "abc"']);
  });

  it('prints where it listens, the issuer, the data directory and its warnings; drains in-flight requests on SIGTERM', async () => {
    const port = await freePort();
    const data = tempDir();
    const p = run(['src/main.ts'], { PORT: String(port), DATA_DIR: data.path, LOG_LEVEL: 'warn' });
    await waitFor(() => p.out().includes('Gatehouse listening'));
    expect(p.out()).toContain(`Gatehouse listening on http://127.0.0.1:${port}`);
    expect(p.out()).toContain(`issuer:  http://localhost:${port}`);
    expect(p.out()).toContain(`embedded store in ${data.path}`);
    expect(p.out()).toMatch(/warning: COOKIE_SECRETS/);

    // An in-flight request: headers sent, body still coming when SIGTERM arrives.
    const response = new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/token',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '29' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('grant_type=client_');
      setTimeout(() => {
        p.child.kill('SIGTERM');
        setTimeout(() => req.end('credentials'), 300);
      }, 200);
    });
    // Answered by oidc-provider (no client authentication given), not cut off by the shutdown.
    expect([400, 401]).toContain(await response);
    expect(await p.exited).toBe(0);
    data.remove();
  });

  it('has a CLI with help', async () => {
    const p = run(['bin/gatehouse.js', '--help'], {});
    expect(await p.exited).toBe(0);
    expect(p.out()).toMatch(/Usage: gatehouse/);
    expect(p.out()).toMatch(/serve/);
  });
});
