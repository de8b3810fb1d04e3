import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../../helpers/server.ts';

/** A second Gatehouse as a real OS process (`src/main.ts`) on the same MongoDB. */
export interface ChildGatehouse {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function spawnGatehouse(
  mongoUri: string,
  env: Record<string, string> = {},
): Promise<ChildGatehouse> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      MONGODB_URI: mongoUri,
      LOG_LEVEL: 'warn',
      GATEHOUSE_CONFIG_DIR: '/nonexistent',
      PASSWORD_HASH_MEMORY_KIB: '1024',
      PASSWORD_HASH_ITERATIONS: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`gatehouse child did not start: ${err}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Gatehouse listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gatehouse child exited with ${code}: ${err}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
