import type { Context } from 'koa';
import { AppError } from './errors.ts';

/** The largest JSON or form body the API reads (larger: 413). */
export const BODY_LIMIT_BYTES = 100 * 1024;

const PLAIN_JSON = /^application\/json\s*(?:;\s*charset="?utf-8"?\s*)?$/i;

/**
 * The body of the commonest request, read without the general parser's machinery: JSON in UTF-8,
 * its length given and within the limit, not compressed. Null when the request is anything else
 * (compressed, chunked, too large, another type): the general body parser takes those, with its
 * own answers (413, 415, ...). Malformed JSON is 400 `invalid_json`, as from that parser.
 */
export function readPlainJson(ctx: Context): Promise<unknown> | null {
  const headers = ctx.req.headers;
  const length = Number(headers['content-length']);
  if (
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
    const req = ctx.req;
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new AppError(400, 'invalid_request', 'The request body was cut off.'));
    });
    req.once('end', () => {
      try {
        resolve(JSON.parse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8')));
      } catch {
        reject(new AppError(400, 'invalid_json', 'The request body is not valid JSON.'));
      }
    });
  });
}
