/**
 * vitest globalSetup: one MongoDB wire-protocol server shared by every test file of a run.
 *
 * - `MONGODB_URI` set: that server is used as it is.
 * - otherwise FerretDB 1.24.2 on its SQLite backend, built once from source with Go and cached in
 *   ~/.cache/gatehouse/ferretdb-1.24.2/ferretdb (outside the repository, shared by every clone);
 * - without Go, or when that build fails: mongo-java-server (in-memory backend) from Maven Central;
 * - as a last resort: mongodb-memory-server-core.
 *
 * `GATEHOUSE_TEST_MONGO=ferretdb|java|memory-server` forces one of the provisioned kinds, and
 * `GATEHOUSE_CACHE_DIR` moves the cache. Tests read the URI with `inject('mongoUri')` (or
 * `process.env.MONGODB_URI_TEST`) and each picks a database of its own (test/helpers/stores.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A MongoDB URI without a database name; tests add their own. */
    mongoUri: string;
    /** What serves it, e.g. "FerretDB 1.24.2 (SQLite)". */
    mongoServer: string;
  }
}

const FERRETDB_VERSION = '1.24.2';
const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';
const MONGO_JAVA_SERVER_VERSION = '1.47.0';
/** Generous: a first build of FerretDB takes minutes on a small machine. */
const BUILD_TIMEOUT_MS = 30 * 60_000;

interface RunningServer {
  uri: string;
  label: string;
  stop(): Promise<void>;
}

const log = (line: string) => console.log(line);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await provision();
  project.provide('mongoUri', server.uri);
  project.provide('mongoServer', server.label);
  process.env.MONGODB_URI_TEST = server.uri;
  log(`[mongo] ${server.label} at ${redact(server.uri)}`);
  return () => server.stop();
}

async function provision(): Promise<RunningServer> {
  const given = process.env.MONGODB_URI;
  if (given) return useGiven(given);

  const forced = process.env.GATEHOUSE_TEST_MONGO;
  const kinds: [string, () => Promise<RunningServer>][] = [
    ['ferretdb', startFerretDB],
    ['java', startMongoJavaServer],
    ['memory-server', startMemoryServer],
  ];
  const failures: string[] = [];
  for (const [kind, start] of kinds) {
    if (forced && forced !== kind) continue;
    try {
      return await start();
    } catch (err) {
      const reason = (err as Error).message;
      failures.push(`${kind}: ${reason}`);
      log(`[mongo] ${kind} unavailable: ${firstLine(reason)}`);
    }
  }
  throw new Error(`no MongoDB wire server for the tests:\n${failures.join('\n')}`);
}

// --- MONGODB_URI -------------------------------------------------------------------------------

async function useGiven(uri: string): Promise<RunningServer> {
  const version = await serverVersion(uri);
  return { uri, label: `MongoDB ${version} (from MONGODB_URI)`, stop: async () => {} };
}

// --- FerretDB ----------------------------------------------------------------------------------

function cacheRoot(): string {
  if (process.env.GATEHOUSE_CACHE_DIR) return process.env.GATEHOUSE_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gatehouse');
}

async function startFerretDB(): Promise<RunningServer> {
  const bin = await ensureFerretDB();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const stateDir = mkdtempSync(join(tmpdir(), 'gh-ferretdb-'));
    const port = await freePort();
    const child = spawn(
      bin,
      [
        '--handler=sqlite',
        `--sqlite-url=file:${stateDir}/`,
        `--state-dir=${stateDir}`,
        `--listen-addr=127.0.0.1:${port}`,
        '--telemetry=disable',
        '--debug-addr=-',
        '--log-level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const uri = `mongodb://127.0.0.1:${port}`;
    const stop = stopper(child, () => rmSync(stateDir, { recursive: true, force: true }));
    try {
      await waitUntilServing(uri, child);
      return { uri, label: `FerretDB ${FERRETDB_VERSION} (SQLite)`, stop };
    } catch (err) {
      lastError = err;
      await stop();
    }
  }
  throw lastError;
}

async function ensureFerretDB(): Promise<string> {
  const dir = join(cacheRoot(), `ferretdb-${FERRETDB_VERSION}`);
  const bin = join(dir, 'ferretdb');
  if (await ferretDBWorks(bin)) return bin;
  if (!(await commandWorks('go', ['version']))) throw new Error('Go is not installed; cannot build FerretDB');
  mkdirSync(dir, { recursive: true });
  const release = await lock(join(dir, 'build.lock'));
  try {
    if (await ferretDBWorks(bin)) return bin; // another run built it while we waited
    log(
      `[mongo] building FerretDB ${FERRETDB_VERSION} with Go, once (takes minutes); cached in ${dir}` +
        (process.env.CI ? ' (CI)' : ''),
    );
    const started = Date.now();
    try {
      await goInstall(dir, bin);
    } catch (err) {
      log(
        `[mongo] go install failed (${firstLine((err as Error).message)}); building from the module source`,
      );
      await goBuildFromModule(dir, bin);
    }
    log(`[mongo] FerretDB built in ${Math.round((Date.now() - started) / 1000)} s`);
    return bin;
  } finally {
    release();
  }
}

async function ferretDBWorks(bin: string): Promise<boolean> {
  if (!existsSync(bin)) return false;
  const res = await run(bin, ['--version'], { timeoutMs: 20_000 }).catch(() => undefined);
  return !!res && res.code === 0 && res.stdout.includes(`v${FERRETDB_VERSION}`);
}

/** (a) The ordinary way; fails where the module proxy refuses the deprecation lookup. */
async function goInstall(dir: string, bin: string): Promise<void> {
  const gobin = mkdtempSync(join(dir, '.gobin-'));
  try {
    await runOk('go', ['install', `${FERRETDB_MODULE}/cmd/ferretdb@v${FERRETDB_VERSION}`], {
      env: { GOBIN: gobin },
      timeoutMs: BUILD_TIMEOUT_MS,
    });
    // A module build lacks the generated version.txt: such a binary panics at start.
    if (!(await ferretDBWorks(join(gobin, 'ferretdb'))))
      throw new Error('the installed binary does not start');
    renameSync(join(gobin, 'ferretdb'), bin);
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
}

/** (b) Download the module, add the version file its build expects, build it. */
async function goBuildFromModule(dir: string, bin: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'gh-ferretdb-build-'));
  const tmpBin = join(dir, `.ferretdb-${process.pid}.tmp`);
  try {
    const res = await runOk('go', ['mod', 'download', '-json', `${FERRETDB_MODULE}@v${FERRETDB_VERSION}`], {
      cwd: work,
      timeoutMs: BUILD_TIMEOUT_MS,
    });
    const info = JSON.parse(res.stdout) as { Dir?: string; Error?: string };
    if (info.Error || !info.Dir) throw new Error(`go mod download: ${info.Error ?? 'no Dir'}`);
    const src = join(work, 'src');
    cpSync(info.Dir, src, { recursive: true });
    await runOk('chmod', ['-R', 'u+w', src]);
    writeFileSync(join(src, 'build', 'version', 'version.txt'), `v${FERRETDB_VERSION}`);
    await runOk('go', ['build', '-trimpath', '-o', tmpBin, './cmd/ferretdb'], {
      cwd: src,
      timeoutMs: BUILD_TIMEOUT_MS,
    });
    if (!(await ferretDBWorks(tmpBin))) throw new Error('the built binary does not start');
    renameSync(tmpBin, bin);
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(tmpBin, { force: true });
  }
}

// --- mongo-java-server -------------------------------------------------------------------------

const JAVA_MAIN = `import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.ServerVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.net.InetSocketAddress;

public class GatehouseMongoServer {
  public static void main(String[] args) throws Exception {
    MongoServer server = new MongoServer(new MemoryBackend().version(ServerVersion.MONGO_5_0));
    server.bind(new InetSocketAddress("127.0.0.1", 0));
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
    System.out.println("port " + server.getLocalAddress().getPort());
    System.out.flush();
    Thread.currentThread().join();
  }
}
`;

const JAVA_POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>gatehouse.test</groupId>
  <artifactId>mongo-java-server-runner</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>de.bwaldvogel</groupId>
      <artifactId>mongo-java-server</artifactId>
      <version>${MONGO_JAVA_SERVER_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-nop</artifactId>
      <version>2.0.17</version>
    </dependency>
  </dependencies>
</project>
`;

async function startMongoJavaServer(): Promise<RunningServer> {
  const dir = join(cacheRoot(), `mongo-java-server-${MONGO_JAVA_SERVER_VERSION}`);
  const lib = join(dir, 'lib');
  const marker = join(lib, `mongo-java-server-${MONGO_JAVA_SERVER_VERSION}.jar`);
  if (!(await commandWorks('java', ['-version']))) throw new Error('Java is not installed');
  if (!existsSync(marker)) {
    if (!(await commandWorks('mvn', ['-v']))) throw new Error('Maven is not installed');
    mkdirSync(dir, { recursive: true });
    const release = await lock(join(dir, 'fetch.lock'));
    try {
      if (!existsSync(marker)) {
        log(`[mongo] fetching mongo-java-server ${MONGO_JAVA_SERVER_VERSION} from Maven Central into ${dir}`);
        writeFileSync(join(dir, 'pom.xml'), JAVA_POM);
        const tmpLib = join(dir, `.lib-${process.pid}`);
        rmSync(tmpLib, { recursive: true, force: true });
        await runOk('mvn', ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${tmpLib}`], {
          cwd: dir,
          timeoutMs: BUILD_TIMEOUT_MS,
        });
        rmSync(lib, { recursive: true, force: true });
        renameSync(tmpLib, lib);
      }
    } finally {
      release();
    }
  }
  const main = join(dir, 'GatehouseMongoServer.java');
  if (!existsSync(main) || readFileSync(main, 'utf8') !== JAVA_MAIN) writeFileSync(main, JAVA_MAIN);

  const child = spawn('java', ['-cp', join(lib, '*'), main], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = stopper(child);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error('mongo-java-server did not start within 60 s')),
        60_000,
      );
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /port (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`mongo-java-server exited with ${code}: ${tail(child)}`));
      });
    });
    const uri = `mongodb://127.0.0.1:${port}`;
    await waitUntilServing(uri, child);
    return { uri, label: `mongo-java-server ${MONGO_JAVA_SERVER_VERSION} (in-memory)`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// --- mongodb-memory-server ---------------------------------------------------------------------

async function startMemoryServer(): Promise<RunningServer> {
  const { MongoMemoryServer } = await import('mongodb-memory-server-core');
  const server = await MongoMemoryServer.create({ instance: { ip: '127.0.0.1' } });
  const uri = server.getUri().replace(/\/[^/?]*(\?|$)/, '$1');
  const version = await serverVersion(uri);
  return {
    uri,
    label: `MongoDB ${version} (mongodb-memory-server)`,
    stop: async () => {
      await server.stop();
    },
  };
}

// --- helpers -----------------------------------------------------------------------------------

const stderrTails = new WeakMap<ChildProcess, string>();

function tail(child: ChildProcess): string {
  return (stderrTails.get(child) ?? '').trim().slice(-2000);
}

/** Keeps the last bit of a child's stderr for error messages, and stops it in teardown. */
function stopper(child: ChildProcess, after: () => void = () => {}): () => Promise<void> {
  stderrTails.set(child, '');
  child.stderr?.on('data', (d) => stderrTails.set(child, (tail(child) + String(d)).slice(-4000)));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      after();
    })();
    return stopping;
  };
}

async function waitUntilServing(uri: string, child: ChildProcess, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  let lastError: unknown;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the server exited (${child.exitCode ?? child.signalCode}): ${tail(child)}`);
    }
    try {
      await serverVersion(uri, 1000);
      return;
    } catch (err) {
      lastError = err;
      await sleep(100);
    }
  }
  throw new Error(`the server at ${uri} did not answer within ${ms} ms: ${(lastError as Error)?.message}`);
}

async function serverVersion(uri: string, timeoutMs = 10_000): Promise<string> {
  const client = new mongoose.mongo.MongoClient(uri, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
  });
  try {
    await client.connect();
    const info = await client.db('admin').command({ buildInfo: 1 });
    return String(info.version);
  } finally {
    await client.close().catch(() => {});
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * An exclusive lock file across processes (two test runs started together build only once). A
 * lock left by a dead process, or older than the longest build, is taken over.
 */
async function lock(path: string): Promise<() => void> {
  const until = Date.now() + BUILD_TIMEOUT_MS;
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let stale = false;
    try {
      const pid = Number(readFileSync(path, 'utf8').trim());
      const age = Date.now() - statSync(path).mtimeMs;
      stale = (pid > 0 && !isAlive(pid)) || age > BUILD_TIMEOUT_MS;
    } catch {
      continue; // released meanwhile, or not written yet
    }
    if (stale) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${path}`);
    if (!announced) {
      log(`[mongo] waiting for another test run that holds ${path}`);
      announced = true;
    }
    await sleep(1000);
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

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr = (stderr + String(d)).slice(-20_000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function runOk(...args: Parameters<typeof run>): Promise<RunResult> {
  const res = await run(...args);
  if (res.code !== 0) {
    throw new Error(
      `${args[0]} ${args[1].join(' ')} failed (${res.code}): ${res.stderr.trim().slice(-3000)}`,
    );
  }
  return res;
}

async function commandWorks(cmd: string, args: string[]): Promise<boolean> {
  const res = await run(cmd, args, { timeoutMs: 30_000 }).catch(() => undefined);
  return res?.code === 0;
}

function redact(uri: string): string {
  return uri.replace(/\/\/[^@/]*@/, '//***@');
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
