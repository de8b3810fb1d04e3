import type Router from '@koa/router';
import { z } from 'zod';
import type { Container } from '../../container.ts';
import { interactionRoutes } from '../../interactions/routes.ts';
import { ApiRouter } from '../api.ts';
import { auditRoutes } from './audit.ts';
import { authRoutes } from './auth.ts';
import { clientRoutes } from './clients.ts';
import { creditRoutes } from './credits.ts';
import { healthRoutes } from './health.ts';
import { keyRoutes } from './keys.ts';
import { scopeRoutes } from './scopes.ts';
import { signingKeyRoutes } from './signing-keys.ts';
import { verifyRoutes } from './verify.ts';
import { webhookRoutes } from './webhooks.ts';
import { workspaceRoutes } from './workspaces.ts';

type Mountable = Pick<Router, 'routes' | 'allowedMethods'>;

/** Every router of Gatehouse's own HTTP API; each feature adds its line here. */
export function apiRoutes(c: Container): Mountable[] {
  return [
    // The hot paths first: resource servers call verify on every request of theirs.
    healthRoutes(c),
    ...keyHttpRoutes(c),
    openApiRoutes(c),
    interactionRoutes(c),
    workspaceRoutes(c),
    authRoutes(c),
    clientRoutes(c),
    signingKeyRoutes(c),
  ];
}

/** API keys (verify first: its paths must not read as key ids), scopes, credits, webhooks, audit. */
function keyHttpRoutes(c: Container): Mountable[] {
  return [verifyRoutes(c), keyRoutes(c), scopeRoutes(c), creditRoutes(c), webhookRoutes(c), auditRoutes(c)];
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
