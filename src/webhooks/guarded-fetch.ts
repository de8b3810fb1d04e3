import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';

/** Resolves a host name to every address it has (the default: the system resolver). */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface GuardOptions {
  /** Whether the delivery may connect to this address (production: isPublicAddress). */
  allowAddress: (address: string) => boolean;
  resolve?: Resolver;
}

/** Why a connection was refused before it was made (shown in the delivery log; no address in it). */
export const REFUSED_ADDRESS = 'refused: the host resolves to a non-public address';

/**
 * The `fetch` the delivery worker POSTs with: node's http(s) client with a `lookup` that resolves
 * the host, refuses unless every address it returns is allowed, and hands the socket exactly the
 * addresses it checked, so the name cannot resolve elsewhere between the check and the connect
 * (DNS rebinding). IP literals skip the lookup and are checked here. Only what `sendSigned` uses
 * is supported: one request with a string body; no redirects are followed, the response body is
 * discarded unread.
 */
export function guardedFetch(o: GuardOptions): typeof globalThis.fetch {
  const resolve = o.resolve ?? systemResolver;
  const lookup: LookupFunction = (hostname, options, callback) => {
    resolve(hostname)
      .then((found) => {
        if (!found.length)
          throw Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' });
        if (found.some((a) => !o.allowAddress(a.address))) throw new Error(REFUSED_ADDRESS);
        if (options.all) callback(null, found);
        else callback(null, found[0]!.address, found[0]!.family);
      })
      .catch((err: NodeJS.ErrnoException) => callback(err, '', 0));
  };

  const send = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !o.allowAddress(host)) return Promise.reject(fetchFailed(new Error(REFUSED_ADDRESS)));
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Response>((resolvePromise, reject) => {
      const req = request(
        url,
        {
          method: init.method ?? 'GET',
          headers: init.headers as Record<string, string> | undefined,
          signal: init.signal ?? undefined,
          lookup,
          agent: false,
        },
        (res: IncomingMessage) => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
              headers.append(name, v);
            }
          }
          const status = res.statusCode ?? 502;
          res.destroy();
          resolvePromise(
            new Response(null, { status: status >= 200 && status <= 599 ? status : 502, headers }),
          );
        },
      );
      req.on('error', (err) => reject(fetchFailed(err)));
      req.end(typeof init.body === 'string' ? init.body : undefined);
    });
  };
  return send as typeof globalThis.fetch;
}

/** Shaped like fetch's own failure: the reason in `cause`. */
function fetchFailed(cause: Error): TypeError {
  return new TypeError('fetch failed', { cause });
}
