import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Browser tests drive Debian's Chromium. On a fresh machine `npm test` installs it (as root, with
 * apt-get); where that is impossible the browser tests say why and skip.
 */
export const CHROMIUM = '/usr/bin/chromium';

export default function setup(): void {
  if (existsSync(CHROMIUM)) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) {
    process.stdout.write(
      `[chromium] ${CHROMIUM} is absent and cannot be installed here; browser tests will skip\n`,
    );
    return;
  }
  process.stdout.write('[chromium] installing Debian chromium for the browser tests (one time)\n');
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Fail fast on a machine without a reachable mirror rather than stall the test run.
    const quick = [
      '-o',
      'Acquire::Retries=0',
      '-o',
      'Acquire::http::Timeout=20',
      '-o',
      'Acquire::https::Timeout=20',
    ];
    execFileSync('apt-get', [...quick, 'update', '-qq'], { stdio: 'ignore', env, timeout: 180_000 });
    execFileSync('apt-get', [...quick, 'install', '-y', '-qq', 'chromium'], {
      stdio: 'ignore',
      env,
      timeout: 420_000,
    });
    process.stdout.write('[chromium] installed\n');
  } catch (err) {
    process.stdout.write(`[chromium] install failed (${(err as Error).message}); browser tests will skip\n`);
  }
}
