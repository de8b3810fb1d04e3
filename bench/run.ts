import { readdirSync } from 'node:fs';

/**
 * Runs every `bench/*.bench.ts` (or those named on the command line) in turn; each prints one
 * JSON line per figure: {"name","value","unit","conditions"}.
 */
const only = process.argv.slice(2);
const files = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
for (const file of files) {
  process.stderr.write(`# ${file}\n`);
  const mod = (await import(new URL(file, import.meta.url).href)) as { default: () => Promise<void> };
  await mod.default();
}
