import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Durability for the embedded store: an append-only journal of idempotent operations (put a
 * whole document, delete by id) plus a snapshot it is compacted into.
 *
 * A write is acknowledged only after its line is written and fdatasync'd, so `kill -9` never
 * loses an acknowledged write. Concurrent writes share one fdatasync (group commit). A torn last
 * line (the process died mid-write, before acknowledging it) is ignored on replay.
 */
export type JournalOp =
  | { op: 'put'; c: string; doc: Record<string, unknown> }
  | { op: 'del'; c: string; id: string };

const DATE_TAG = '$date';

/** JSON with Dates kept as Dates: `{"$date": <epoch ms>}` on disk. */
export function encode(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
    const raw = this[key];
    return raw instanceof Date ? { [DATE_TAG]: raw.getTime() } : v;
  });
}

export function decode(text: string): unknown {
  return JSON.parse(text, (_key, v) =>
    v && typeof v === 'object' && Object.keys(v).length === 1 && typeof v[DATE_TAG] === 'number'
      ? new Date(v[DATE_TAG])
      : v,
  );
}

export class Journal {
  private handle: FileHandle | undefined;
  private pending: { line: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private linesSinceSnapshot = 0;
  private readonly logPath: string;
  private readonly snapshotPath: string;
  private readonly lockPath: string;

  constructor(
    readonly dir: string,
    private readonly compactAfterLines = 50_000,
  ) {
    this.logPath = join(dir, 'journal.log');
    this.snapshotPath = join(dir, 'snapshot.jsonl');
    this.lockPath = join(dir, 'LOCK');
  }

  /** Takes the directory's lock and replays snapshot + journal through `apply`. */
  async open(apply: (op: JournalOp) => void): Promise<void> {
    // The journal holds private signing keys and cookie secrets: owner-only, whatever the umask.
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    try {
      chmodSync(this.dir, 0o700);
    } catch {
      // A directory someone else owns (e.g. a mounted volume): its owner decides who reads it.
    }
    this.lock();
    for (const path of [this.snapshotPath, this.logPath]) {
      if (!existsSync(path)) continue;
      const raw = readFileSync(path);
      const lines = raw.toString('utf8').split('\n');
      for (const [i, line] of lines.entries()) {
        if (!line) continue;
        try {
          apply(decode(line) as JournalOp);
        } catch (err) {
          // Only the very last line may be torn by a crash; anything else is corruption.
          if (i < lines.length - 2 || path === this.snapshotPath) {
            throw new Error(`embedded store: ${path} line ${i + 1} is corrupt: ${(err as Error).message}`);
          }
        }
        if (path === this.logPath) this.linesSinceSnapshot++;
      }
      // A torn last line was never acknowledged: cut it off, or the next append would continue it.
      const end = raw.lastIndexOf(0x0a) + 1;
      if (path === this.logPath && end < raw.length) {
        truncateSync(path, end);
        fsyncFile(path);
      }
    }
    this.handle = await open(this.logPath, 'a', 0o600);
  }

  append(op: JournalOp): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ line: `${encode(op)}\n`, resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length) {
        const batch = this.pending;
        this.pending = [];
        try {
          if (!this.handle) throw new Error('embedded store is closed');
          await this.handle.write(batch.map((p) => p.line).join(''));
          await this.handle.datasync();
          this.linesSinceSnapshot += batch.length;
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  get needsCompaction(): boolean {
    return this.linesSinceSnapshot >= this.compactAfterLines;
  }

  /**
   * Writes every live document to a new snapshot, then starts an empty journal. Replaying the old
   * journal over the new snapshot is harmless (operations are idempotent), so a crash at any
   * point leaves a readable state.
   */
  async compact(allOps: () => Iterable<JournalOp>): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.needsCompaction) return; // a concurrent caller compacted while this one waited
    // Appends made meanwhile wait in `pending` and are flushed to the new journal afterwards.
    this.flushing = this.rewrite(allOps).finally(() => {
      this.flushing = this.pending.length ? this.flushLoop() : undefined;
    });
    await this.flushing;
  }

  private async rewrite(allOps: () => Iterable<JournalOp>): Promise<void> {
    const tmp = `${this.snapshotPath}.tmp`;
    const lines: string[] = [];
    for (const op of allOps()) lines.push(encode(op));
    writeFileSync(tmp, lines.length ? `${lines.join('\n')}\n` : '', { mode: 0o600 });
    fsyncFile(tmp);
    renameSync(tmp, this.snapshotPath);
    await this.handle?.close();
    writeFileSync(this.logPath, '', { mode: 0o600 });
    fsyncFile(this.logPath);
    fsyncFile(this.dir);
    this.handle = await open(this.logPath, 'a', 0o600);
    this.linesSinceSnapshot = 0;
  }

  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.handle?.close();
    this.handle = undefined;
    try {
      writeFileSync(this.lockPath, '');
    } catch {
      // The lock is advisory (pid based); an unwritable file only means a stale pid stays.
    }
  }

  private lock(): void {
    if (existsSync(this.lockPath)) {
      const pid = Number(readFileSync(this.lockPath, 'utf8').trim());
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new Error(
          `embedded store: ${this.dir} is in use by process ${pid}; one process per data directory (use MongoDB to run several)`,
        );
      }
    }
    writeFileSync(this.lockPath, String(process.pid));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
