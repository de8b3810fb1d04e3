import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { inject } from 'vitest';
import { EmbeddedStorage } from '../../src/storage/embedded/store.ts';
import { MongoStorage } from '../../src/storage/mongo/store.ts';
import type { Clock, Storage } from '../../src/storage/port.ts';

export interface FakeClock extends Clock {
  /** Moves time forward (or back, with a negative amount). */
  advance(ms: number): void;
  set(at: Date): void;
}

export function fakeClock(start: Date = new Date('2030-01-01T00:00:00.000Z')): FakeClock {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    advance: (ms) => {
      now += ms;
    },
    set: (at) => {
      now = at.getTime();
    },
  };
}

export interface StoreOptions {
  sweepIntervalMs?: number;
  onWarning?: (message: string) => void;
}

export interface OpenedStore<S> {
  storage: S;
  /** Closes the store (if still open) and removes its data. */
  cleanup(): Promise<void>;
}

export async function openEmbedded(
  clock?: Clock,
  options: StoreOptions & { dataDir?: string } = {},
): Promise<OpenedStore<EmbeddedStorage> & { dataDir: string }> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gh-embedded-'));
  const storage = await EmbeddedStorage.open(dataDir, { clock, sweepIntervalMs: options.sweepIntervalMs });
  return {
    storage,
    dataDir,
    cleanup: async () => {
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The URI of the server the globalSetup provisioned (or MONGODB_URI), without a database. */
export function mongoServerUri(): string {
  let uri: string | undefined;
  try {
    uri = inject('mongoUri');
  } catch {
    // outside a vitest worker
  }
  uri ||= process.env.MONGODB_URI_TEST;
  if (!uri) throw new Error('no MongoDB server: run the tests through vitest (test/setup/mongo-server.ts)');
  return uri;
}

/** The same server with another default database (keeping the credentials' auth database). */
export function withDatabase(uri: string, db: string): string {
  const m = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(?:\/([^?]*))?(?:\?(.*))?$/.exec(uri);
  if (!m) throw new Error(`not a MongoDB URI: ${uri}`);
  const [, base, original, query] = m;
  const params = new URLSearchParams(query ?? '');
  if (base!.includes('@') && !params.has('authSource')) params.set('authSource', original || 'admin');
  const q = params.toString();
  return `${base}/${db}${q ? `?${q}` : ''}`;
}

export function randomDbName(prefix = 'gh_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** A MongoStorage on a database of its own on the test server; cleanup drops it. */
export async function openMongo(
  clock?: Clock,
  options: StoreOptions & { db?: string } = {},
): Promise<OpenedStore<MongoStorage> & { uri: string; db: string }> {
  const db = options.db ?? randomDbName();
  const uri = withDatabase(mongoServerUri(), db);
  const storage = await MongoStorage.open({
    uri,
    timeoutMs: 10_000,
    clock,
    sweepIntervalMs: options.sweepIntervalMs,
    onWarning: options.onWarning,
  });
  return {
    storage,
    uri,
    db,
    cleanup: async () => {
      await storage.close();
      await dropDatabase(uri);
    },
  };
}

export async function dropDatabase(uri: string): Promise<void> {
  const client = new mongoose.mongo.MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    await client.db().dropDatabase();
  } finally {
    await client.close();
  }
}

/** Both stores with the real clock, for `describe.each`: each opens a fresh, empty one. */
export const bothStores: [name: string, open: () => Promise<OpenedStore<Storage>>][] = [
  ['embedded', () => openEmbedded()],
  ['mongo', () => openMongo()],
];

/** Polls `probe` every 20 ms until it answers something; fails naming `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
