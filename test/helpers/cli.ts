import { spawn } from 'node:child_process';

export interface CliResult {
  code: number | null;
  out: string;
  /** stderr without oidc-provider's "Unsupported runtime" notice on Node 20. */
  err: string;
}

/** `gatehouse <args>` as a real process (bin/gatehouse.js through tsx), with only `env` set. */
export function runCli(args: string[], env: Record<string, string>, stdin = ''): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/gatehouse.js', ...args], {
    env: { PATH: process.env.PATH ?? '', GATEHOUSE_CONFIG_DIR: '/nonexistent', LOG_LEVEL: 'warn', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  child.stdin.end(stdin);
  return new Promise((resolve) =>
    child.on('exit', (code) => resolve({ code, out, err: err.replace(/^oidc-provider WARNING.*\n/gm, '') })),
  );
}
