import type Router from '@koa/router';
import { z } from 'zod';
import type { Container } from '../../container.ts';
import { ApiRouter } from '../api.ts';
import { healthRoutes } from './health.ts';

type Mountable = Pick<Router, 'routes' | 'allowedMethods'>;

/** Every router of Gatehouse's own HTTP API; each feature adds its line here. */
export function apiRoutes(c: Container): Mountable[] {
  return [healthRoutes(c), openApiRoutes(c)];
}

function openApiRoutes(c: Container): ApiRouter {
  return new ApiRouter(c.openapi).route(
    {
      method: 'get',
      path: '/api/v1/openapi.json',
      summary: 'This OpenAPI document',
      tag: 'meta',
      auth: 'none',
      query: z.object({}),
      responses: { 200: 'the OpenAPI 3.1 document of /api/v1' },
    },
    (ctx) => {
      ctx.body = c.openapi.document(c.config.issuer);
    },
  );
}
