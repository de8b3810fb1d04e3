import Router from '@koa/router';
import type { Container } from '../../container.ts';

/** Liveness, readiness and Prometheus metrics; no authentication. */
export function healthRoutes(c: Pick<Container, 'storage' | 'metrics'>): Router {
  const router = new Router();
  router.get('/api/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/api/ready', async (ctx) => {
    try {
      await c.storage.ping();
      ctx.body = { status: 'ready', storage: c.storage.kind };
    } catch {
      ctx.status = 503;
      ctx.body = { error: 'storage_unavailable', message: `The ${c.storage.kind} store does not answer.` };
    }
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = c.metrics.registry.contentType;
    ctx.body = await c.metrics.registry.metrics();
  });
  return router;
}
