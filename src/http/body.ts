import type { IncomingMessage } from 'node:http';
import bourne from '@hapi/bourne';
import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';
import { AppError } from './errors.ts';

/** The largest JSON or form body the API reads (larger: 413). */
export const BODY_LIMIT_BYTES = 100 * 1024;

const PARSED_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const PLAIN_JSON = /^application\/json\s*(?:;\s*charset="?utf-8"?\s*)?$/i;
/** JSON whitespace (space, tab, LF, CR), then an object or an array: what the general parser accepts. */
const OBJECT_OR_ARRAY = /^[ \t\n\r]*[[{]/;

const notJson = () => new AppError(400, 'invalid_json', 'The request body is not valid JSON.');

/**
 * The body of a request to Gatehouse's API, on `ctx.request.body`: JSON or a form, at most
 * BODY_LIMIT_BYTES. The commonest body — JSON in UTF-8, its length given, not compressed — is read
 * and parsed here directly; any other takes @koa/bodyparser. Both answer alike: malformed JSON
 * (or JSON that is not an object or array, or that carries `__proto__`) is 400 `invalid_json`,
 * too large 413, an encoding we do not inflate 415 (named by apiErrors).
 */
export function apiBodyParser(): Middleware {
  const general = bodyParser({
    enableTypes: ['json', 'form'],
    jsonLimit: BODY_LIMIT_BYTES,
    formLimit: BODY_LIMIT_BYTES,
    onError: (err) => {
      const status = (err as { status?: number }).status;
      if (status === 413 || status === 415) throw err;
      throw notJson();
    },
  });
  return async (ctx, next) => {
    const body = ctx.request.body === undefined ? readPlainJson(ctx.req) : null;
    if (!body) return general(ctx, next);
    ctx.request.body = await body;
    return next();
  };
}

/**
 * The commonest body, read straight from Node's request: null (nothing read) unless it is JSON in
 * UTF-8 with its length given, not compressed, at most BODY_LIMIT_BYTES, on POST, PUT or PATCH.
 * Rejects with 400 `invalid_json` (see apiBodyParser) or `invalid_request` (body cut off).
 */
export function readPlainJson(req: IncomingMessage): Promise<unknown> | null {
  const headers = req.headers;
  const length = Number(headers['content-length']);
  if (
    !PARSED_METHODS.has(req.method ?? '') ||
    !PLAIN_JSON.test(headers['content-type'] ?? '') ||
    headers['content-encoding'] !== undefined ||
    !Number.isInteger(length) ||
    length < 1 ||
    length > BODY_LIMIT_BYTES
  ) {
    return null;
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new AppError(400, 'invalid_request', 'The request body was cut off.'));
    });
    req.once('end', () => {
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
      try {
        if (!OBJECT_OR_ARRAY.test(text)) throw notJson();
        resolve(bourne.parse(text, { protoAction: 'error' }));
      } catch {
        reject(notJson());
      }
    });
  });
}
