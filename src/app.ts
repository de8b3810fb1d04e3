import Koa, { type Middleware } from 'koa';
import mount from 'koa-mount';
import type { Container } from './container.ts';
import { authenticate } from './http/auth.ts';
import { apiBodyParser } from './http/body.ts';
import { apiErrors, requestLog } from './http/middleware.ts';
import { OWN_PATHS } from './http/provider-lane.ts';
import { apiRoutes } from './http/routes/index.ts';
import { verifyLane } from './http/routes/verify.ts';
import { dpopAuthentication } from './oidc/dpop.ts';

/** Assembles the middleware and mounts; never listens. */
export function createApp(c: Container): Koa {
  const app = new Koa({ proxy: c.config.trustProxy });
  // The mounted provider runs on this app's context, so it signs its cookies with this app's keys.
  app.keys = c.provider.keys;
  app.silent = true; // errors are logged by our middleware, with the request id
  app.use(requestLog(c.logger, c.metrics));
  // Only our API's bodies are parsed here: oidc-provider reads its own.
  const parse = apiBodyParser();
  // Gatehouse's own paths get our error shape, body parsing, authentication and routers; the
  // provider's endpoints (/token, /jwks, ...) skip all of it: they have their own.
  const own = compose([
    apiErrors(c.logger),
    // The hot path of resource servers, ahead of authentication and the routers (routes/verify.ts).
    verifyLane(c, parse),
    (ctx, next) => (ctx.path.startsWith('/api/') ? parse(ctx, next) : next()),
    // DPoP-bound access tokens (RFC 9449 §7.1) → ctx.state.principal (src/oidc/dpop.ts).
    dpopAuthentication(c),
    // Who is calling /api/v1 (access token or API key) → ctx.state.principal (src/http/auth.ts).
    authenticate(c),
    ...apiRoutes(c).flatMap((r) => [r.routes(), r.allowedMethods()] as unknown as Middleware[]),
  ]);
  app.use((ctx, next) => (OWN_PATHS.test(ctx.path) ? own(ctx, next) : next()));
  app.use(mount(c.provider as unknown as Koa));
  return app;
}

/** Runs middleware in order, as Koa's own stack would (each `next` calls the following one). */
function compose(stack: Middleware[]): Middleware {
  // No closure made per request but the `next` each middleware gets.
  const run = (i: number, ctx: Parameters<Middleware>[0], next: () => Promise<unknown>): Promise<unknown> =>
    i < stack.length ? Promise.resolve(stack[i]!(ctx, () => run(i + 1, ctx, next))) : Promise.resolve(next());
  return (ctx, next) => run(0, ctx, next);
}
