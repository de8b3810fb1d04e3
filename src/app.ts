import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import mount from 'koa-mount';
import type { Container } from './container.ts';
import { AppError } from './http/errors.ts';
import { apiErrors, requestLog } from './http/middleware.ts';
import { apiRoutes } from './http/routes/index.ts';

/** Assembles the middleware and mounts; never listens. */
export function createApp(c: Container): Koa {
  const app = new Koa({ proxy: c.config.trustProxy });
  // The mounted provider runs on this app's context, so it signs its cookies with this app's keys.
  app.keys = c.provider.keys;
  app.silent = true; // errors are logged by our middleware, with the request id
  app.use(requestLog(c.logger, c.metrics));
  app.use(apiErrors(c.logger));
  // Only our API's bodies are parsed here: oidc-provider reads its own.
  const parse = bodyParser({
    enableTypes: ['json', 'form'],
    jsonLimit: '100kb',
    formLimit: '100kb',
    onError: () => {
      throw new AppError(400, 'invalid_json', 'The request body is not valid JSON.');
    },
  });
  app.use((ctx, next) => (ctx.path.startsWith('/api/') ? parse(ctx, next) : next()));
  for (const r of apiRoutes(c)) {
    app.use(r.routes());
    app.use(r.allowedMethods());
  }
  app.use(mount(c.provider as unknown as Koa));
  return app;
}
