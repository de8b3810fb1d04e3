import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openEmbedded } from '../helpers/stores.ts';
import { oidcAdapterContract } from './oidc-adapter-contract.ts';
import { storageContract } from './storage-contract.ts';

storageContract('embedded', (clock, options) => openEmbedded(clock, options));
oidcAdapterContract('embedded', (clock) => openEmbedded(clock));

describe('the embedded store on disk', () => {
  it('keeps its directory and files owner-only: they hold private signing keys', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'gh-perms-'));
    const dataDir = join(parent, 'data');
    const old = process.umask(0o022);
    try {
      const { storage, cleanup } = await openEmbedded(undefined, { dataDir });
      await storage.collection<{ id: string }>({ name: 'secrets' }).put({ id: 'x' });
      await (storage as { compact?: () => Promise<void> }).compact?.();
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      for (const f of readdirSync(dataDir).filter((n) => n !== 'LOCK')) {
        expect(statSync(join(dataDir, f)).mode & 0o077, f).toBe(0);
      }
      await cleanup();
    } finally {
      process.umask(old);
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
