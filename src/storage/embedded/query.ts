import type { FindOptions, Update } from '../port.ts';
import { encode } from './journal.ts';

/**
 * Filter evaluation and updates for the embedded store, following MongoDB's semantics for the
 * subset the port allows, so that both stores answer the same (the contract suite checks it).
 */
type Plain = Record<string, unknown>;

export function getPath(doc: Plain, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Plain)[part];
  }
  return cur;
}

function comparable(v: unknown): unknown {
  return v instanceof Date ? v.getTime() : v;
}

function equals(a: unknown, b: unknown): boolean {
  // Mongo matches null against missing fields too.
  if (b === null) return a === null || a === undefined;
  if (Array.isArray(a) && !Array.isArray(b)) return a.some((x) => equals(x, b));
  // Whole arrays and sub-documents match exactly (in order), as in MongoDB.
  if (isComposite(a) && isComposite(b)) return encode(a) === encode(b);
  return comparable(a) === comparable(b);
}

function isComposite(v: unknown): v is object {
  return v !== null && typeof v === 'object' && !(v instanceof Date);
}

function compare(a: unknown, b: unknown): number | undefined {
  const x = comparable(a);
  const y = comparable(b);
  if (typeof x !== typeof y || x === undefined || x === null) return undefined;
  return (x as number) < (y as number) ? -1 : (x as number) > (y as number) ? 1 : 0;
}

const OPS = new Set(['$in', '$nin', '$ne', '$lt', '$lte', '$gt', '$gte', '$exists']);

function isOperatorObject(c: unknown): c is Plain {
  if (c === null || typeof c !== 'object' || c instanceof Date || Array.isArray(c)) return false;
  const keys = Object.keys(c);
  return keys.length > 0 && keys.every((k) => OPS.has(k));
}

function matchCondition(value: unknown, cond: unknown): boolean {
  if (!isOperatorObject(cond)) return equals(value, cond);
  for (const [op, arg] of Object.entries(cond)) {
    switch (op) {
      case '$in':
        if (!(arg as unknown[]).some((x) => equals(value, x))) return false;
        break;
      case '$nin':
        if ((arg as unknown[]).some((x) => equals(value, x))) return false;
        break;
      case '$ne':
        if (equals(value, arg)) return false;
        break;
      case '$exists':
        if ((value !== undefined) !== arg) return false;
        break;
      default: {
        const c = compare(value, arg);
        if (c === undefined) return false;
        if (op === '$lt' && !(c < 0)) return false;
        if (op === '$lte' && !(c <= 0)) return false;
        if (op === '$gt' && !(c > 0)) return false;
        if (op === '$gte' && !(c >= 0)) return false;
      }
    }
  }
  return true;
}

export function matches(doc: Plain, filter: Plain): boolean {
  for (const [path, cond] of Object.entries(filter)) {
    if (cond === undefined) continue;
    if (!matchCondition(getPath(doc, path), cond)) return false;
  }
  return true;
}

export function applyUpdate<T extends Plain>(doc: T, update: Update<T>): T {
  const next: Plain = structuredClone(doc);
  for (const [k, v] of Object.entries(update.set ?? {})) {
    if (v !== undefined) next[k] = structuredClone(v);
  }
  for (const k of update.unset ?? []) delete next[k];
  for (const [k, by] of Object.entries(update.inc ?? {})) {
    const cur = next[k];
    next[k] = (typeof cur === 'number' ? cur : 0) + (by as number);
  }
  return next as T;
}

export function sortAndLimit<T extends Plain>(docs: T[], options: FindOptions<T> = {}): T[] {
  let out = docs;
  if (options.sort) {
    const { field, order } = options.sort;
    const dir = order === 'desc' ? -1 : 1;
    out = [...docs].sort((a, b) => dir * (compare(a[field], b[field]) ?? 0));
  }
  return options.limit !== undefined ? out.slice(0, options.limit) : out;
}
