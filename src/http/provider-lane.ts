import type { RequestListener } from 'node:http';
import type Koa from 'koa';
import type { Container } from '../container.ts';
import { clientIp, requestDone, requestIdOf, routeFamily } from './middleware.ts';

/** Paths served by Gatehouse's own app (API, interaction pages and their assets, metrics). */
export const OWN_PATHS = /^\/(api|interaction|assets|metrics)(\/|$)/;

type Deps = Pick<Container, 'provider' | 'logger' | 'metrics'> & {
  config: Pick<Container['config'], 'trustProxy'>;
};

/**
 * The provider's endpoints (/token, /jwks, /auth, /me, /session/end, discovery...) served by
 * oidc-provider's own Koa app, as its authors intend for plain Node servers, rather than mounted
 * inside Gatehouse's: they use none of Gatehouse's middleware (the provider has its own body
 * parsing, errors and CORS), and a token request then costs one Koa context, not two. This lane
 * gives them what Gatehouse's app gave: the request id (echoed or made; the error pages show it),
 * the request metrics and the log line. Gatehouse's own paths, and any request whose target is
 * not a plain path, go to `own` (the Gatehouse app, which mounts the provider too).
 */
export function providerLane(c: Deps, own: RequestListener): RequestListener {
  const app = c.provider as unknown as Koa;
  // Errors the provider's own handler did not answer: logged like ours, never on stderr (Koa's
  // default listener, which would print them, is only added when there is none).
  if (app.listenerCount('error') === 0)
    app.on('error', (err: unknown) => c.logger.error({ err }, 'oidc request failed'));
  const provider = app.callback();
  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path[0] !== '/' || OWN_PATHS.test(path)) return own(req, res);
    const start = process.hrtime.bigint();
    const requestId = requestIdOf(req.headers['x-request-id']);
    res.setHeader('X-Request-Id', requestId);
    res.once('close', () =>
      requestDone(c.logger, c.metrics, {
        requestId,
        method: req.method ?? 'GET',
        path,
        route: routeFamily(path),
        status: res.statusCode,
        start,
        ip: () => clientIp(req, c.config.trustProxy),
      }),
    );
    provider(req, res);
  };
}
