/**
 * The embedded store's promises about the disk: an acknowledged write survives `kill -9`, a torn
 * last journal line is ignored, one process per data directory, and compaction loses nothing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal, type JournalOp } from '../../../src/storage/embedded/journal.ts';
import { EmbeddedStorage } from '../../../src/storage/embedded/store.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WRITER = join(ROOT, 'test/fixtures/embedded-writer.ts');

interface Item {
  id: string;
  n: number;
  at: Date;
  body: string;
}
const ITEMS = { name: 'items', indexes: [{ fields: ['n'], unique: true }] };

const children: ChildProcess[] = [];
const dirs: string[] = [];
const stores: EmbeddedStorage[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-durability-'));
  dirs.push(dir);
  return dir;
}

async function open(dir: string): Promise<EmbeddedStorage> {
  const s = await EmbeddedStorage.open(dir);
  stores.push(s);
  return s;
}

async function close(s: EmbeddedStorage): Promise<void> {
  stores.splice(stores.indexOf(s), 1);
  await s.close();
}

function runWriter(mode: 'write' | 'hold', dir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, mode, dir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  /** Lines printed in full: the ids whose insert was acknowledged. */
  const lines = () => stdout.split('\n').slice(0, -1);
  const waitFor = async (check: () => boolean, ms = 20_000) => {
    const until = Date.now() + ms;
    while (!check()) {
      if (child.exitCode !== null) throw new Error(`writer exited (${child.exitCode}): ${stderr}`);
      if (Date.now() > until) throw new Error(`timed out; writer stderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, exited, lines, waitFor };
}

describe('embedded store durability', () => {
  it('keeps every acknowledged write when the process is killed with SIGKILL', async () => {
    const dir = tempDir();
    const writer = runWriter('write', dir);
    await writer.waitFor(() => writer.lines().length >= 400);
    writer.child.kill('SIGKILL');
    await writer.exited;
    const acked = writer.lines();
    expect(acked.length).toBeGreaterThanOrEqual(400);

    const s = await open(dir);
    const items = s.collection<Item>(ITEMS);
    const missing: string[] = [];
    for (const id of acked) {
      const doc = await items.get(id);
      if (!doc) missing.push(id);
      else expect(doc.at).toEqual(new Date(1_800_000_000_000 + doc.n));
    }
    expect(missing).toEqual([]);
    expect(await items.count({})).toBeGreaterThanOrEqual(acked.length);

    // Still a working store, and what it writes now survives the next start too.
    await items.insert({ id: 'after-crash', n: -1, at: new Date(0), body: '' });
    await close(s);
    const again = await open(dir);
    expect(await again.collection<Item>(ITEMS).get('after-crash')).not.toBeNull();
    expect(await again.collection<Item>(ITEMS).count({})).toBeGreaterThanOrEqual(acked.length + 1);
  });

  it('ignores a torn last journal line, and keeps writing after it', async () => {
    const dir = tempDir();
    let s = await open(dir);
    for (let n = 0; n < 3; n++) {
      await s.collection<Item>(ITEMS).insert({ id: `i${n}`, n, at: new Date(n), body: 'b' });
    }
    await close(s);
    appendFileSync(join(dir, 'journal.log'), '{"op":"put","c":"items","doc":{"id":"torn","n":9');

    s = await open(dir);
    let items = s.collection<Item>(ITEMS);
    expect((await items.find({}, { sort: { field: 'n', order: 'asc' } })).map((i) => i.id)).toEqual([
      'i0',
      'i1',
      'i2',
    ]);
    await items.insert({ id: 'i3', n: 3, at: new Date(3), body: 'b' });
    await close(s);

    s = await open(dir);
    items = s.collection<Item>(ITEMS);
    expect((await items.find({}, { sort: { field: 'n', order: 'asc' } })).map((i) => i.id)).toEqual([
      'i0',
      'i1',
      'i2',
      'i3',
    ]);
    expect(await items.get('torn')).toBeNull();
  });

  it('refuses a corrupt line that is not the last one', async () => {
    const dir = tempDir();
    const s = await open(dir);
    await s.collection<Item>(ITEMS).insert({ id: 'i0', n: 0, at: new Date(0), body: '' });
    await close(s);
    const log = join(dir, 'journal.log');
    const good = readFileSync(log, 'utf8');
    appendFileSync(log, `{"garbage\n${good}`);
    await expect(EmbeddedStorage.open(dir)).rejects.toThrow(/journal\.log line 2 is corrupt/);
  });

  it('lets only one live process open a data directory (LOCK)', async () => {
    const dir = tempDir();
    const holder = runWriter('hold', dir);
    await holder.waitFor(() => holder.lines().includes('ready'));
    await expect(EmbeddedStorage.open(dir)).rejects.toThrow(
      new RegExp(`in use by process ${holder.child.pid}; one process per data directory`),
    );
    holder.child.kill('SIGKILL');
    await holder.exited;
    // The lock of a dead process is stale: the next one takes over.
    const s = await open(dir);
    await s.collection<Item>(ITEMS).insert({ id: 'i0', n: 0, at: new Date(0), body: '' });
    expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(String(process.pid));
  });

  it('compacts the journal into a snapshot without losing or reviving anything', async () => {
    const dir = tempDir();
    const key = (op: JournalOp) => `${op.c}/${op.op === 'put' ? op.doc.id : op.id}`;
    const live = new Map<string, JournalOp>();
    const apply = (op: JournalOp) => {
      if (op.op === 'put') live.set(key(op), op);
      else live.delete(key(op));
    };
    const journal = new Journal(dir, 10);
    await journal.open(apply);
    let compactions = 0;
    const write = async (op: JournalOp) => {
      apply(op);
      await journal.append(op);
      if (journal.needsCompaction) {
        await journal.compact(() => {
          compactions++;
          return live.values();
        });
      }
    };
    for (let n = 0; n < 35; n++) {
      await write({ op: 'put', c: 'items', doc: { id: `i${n}`, n, at: new Date(n), nested: { list: [n] } } });
    }
    for (let n = 0; n < 5; n++) await write({ op: 'del', c: 'items', id: `i${n}` });
    await write({
      op: 'put',
      c: 'items',
      doc: { id: 'i5', n: 500, at: new Date(500), nested: { list: [] } },
    });
    // Writes racing a compaction land in the new journal.
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        write({ op: 'put', c: 'other', doc: { id: `o${i}`, n: i, at: new Date(i), nested: { list: [] } } }),
      ),
    );
    await journal.close();
    // 71 lines at one compaction per 10: a burst of writers that all see the threshold compacts once.
    expect(compactions).toBeLessThanOrEqual(8);
    expect(existsSync(join(dir, 'snapshot.jsonl'))).toBe(true);
    const logLines = readFileSync(join(dir, 'journal.log'), 'utf8').split('\n').filter(Boolean);
    expect(logLines.length).toBeLessThan(35);

    const replayed = new Map<string, JournalOp>();
    const reopened = new Journal(dir, 10);
    await reopened.open((op) => {
      if (op.op === 'put') replayed.set(key(op), op);
      else replayed.delete(key(op));
    });
    await reopened.close();
    expect(replayed).toEqual(live);
    expect(replayed.size).toBe(30 + 30);
    expect(replayed.get('items/i0')).toBeUndefined();
    const i5 = replayed.get('items/i5') as Extract<JournalOp, { op: 'put' }>;
    expect(i5.doc).toEqual({ id: 'i5', n: 500, at: new Date(500), nested: { list: [] } });
    expect(i5.doc.at).toBeInstanceOf(Date);
  });

  it('keeps all data across reopen when the store itself compacts', async () => {
    const dir = tempDir();
    let s = await open(dir);
    // Compact every 10 lines instead of every 50 000.
    (s as unknown as { journal: { compactAfterLines: number } }).journal.compactAfterLines = 10;
    const items = s.collection<Item>(ITEMS);
    for (let n = 0; n < 40; n++) await items.insert({ id: `i${n}`, n, at: new Date(n), body: 'b' });
    await items.delete({ n: { $lt: 10 } });
    await items.update({ id: 'i10' }, { set: { body: 'changed' } });
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        items.insert({ id: `c${i}`, n: 100 + i, at: new Date(i), body: '' }),
      ),
    );
    await close(s);
    expect(existsSync(join(dir, 'snapshot.jsonl'))).toBe(true);

    s = await open(dir);
    const again = s.collection<Item>(ITEMS);
    expect(await again.count({})).toBe(30 + 25);
    expect(await again.get('i0')).toBeNull();
    expect((await again.get('i10'))?.body).toBe('changed');
    expect((await again.get('c24'))?.at).toEqual(new Date(24));
    await expect(again.insert({ id: 'dup', n: 10, at: new Date(0), body: '' })).rejects.toThrow(/duplicate/);
  });
});
