import type { Role } from '../../accounts/model.ts';
import { serializeClient } from '../../clients/model.ts';
import { createClientBody, updateClientBody } from '../../clients/schemas.ts';
import type { Container } from '../../container.ts';
import { ApiRouter } from '../api.ts';
import { workspaceRole } from '../auth.ts';

/**
 * OAuth clients of a workspace: only its owners and admins register, read, change, delete them
 * and rotate their secrets. A confidential client's secret is in the answer of create and rotate
 * only. Another workspace's client is 404, as is a workspace the caller is not a member of.
 */
type Deps = Pick<Container, 'openapi' | 'workspaces' | 'clients'>;

const MANAGERS: Role[] = ['owner', 'admin'];
const BASE = '/api/v1/workspaces/:workspaceId/clients';

export function clientRoutes(c: Deps): ApiRouter {
  const api = new ApiRouter(c.openapi);
  const tag = 'clients';
  const denied = {
    401: 'not signed in',
    403: 'not an owner or admin of the workspace',
    404: 'no such workspace or client',
  };

  api.route(
    {
      method: 'post',
      path: BASE,
      summary: 'Register an OAuth client; a confidential client gets its secret once, here',
      tag,
      auth: 'user',
      body: createClientBody,
      responses: {
        201: 'the client (with client_secret if confidential)',
        400: 'invalid input',
        409: 'resource_taken (a resource of another workspace)',
        ...denied,
      },
    },
    async (ctx, { body, params }) => {
      const { id: ws } = (await workspaceRole(c, ctx, params.workspaceId!, MANAGERS)).ws;
      const { client, secret } = await c.clients.create(ws, body);
      ctx.status = 201;
      ctx.set('Location', `/api/v1/workspaces/${ws}/clients/${client.id}`);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { ...serializeClient(client), ...(secret ? { client_secret: secret } : {}) };
    },
  );

  api.route(
    {
      method: 'get',
      path: BASE,
      summary: "The workspace's OAuth clients",
      tag,
      auth: 'user',
      responses: { 200: '{ clients: [...] }', ...denied },
    },
    async (ctx, { params }) => {
      const { id: ws } = (await workspaceRole(c, ctx, params.workspaceId!, MANAGERS)).ws;
      ctx.body = { clients: (await c.clients.list(ws)).map(serializeClient) };
    },
  );

  api.route(
    {
      method: 'get',
      path: `${BASE}/:clientId`,
      summary: 'An OAuth client (never its secret)',
      tag,
      auth: 'user',
      responses: { 200: 'the client', ...denied },
    },
    async (ctx, { params }) => {
      const { id: ws } = (await workspaceRole(c, ctx, params.workspaceId!, MANAGERS)).ws;
      ctx.body = serializeClient(await c.clients.get(ws, params.clientId!));
    },
  );

  api.route(
    {
      method: 'patch',
      path: `${BASE}/:clientId`,
      summary: "Change a client's name, redirect URIs, grant types or resources",
      tag,
      auth: 'user',
      body: updateClientBody,
      responses: {
        200: 'the client',
        400: 'invalid input',
        409: 'resource_taken (a resource of another workspace)',
        ...denied,
      },
    },
    async (ctx, { body, params }) => {
      const { id: ws } = (await workspaceRole(c, ctx, params.workspaceId!, MANAGERS)).ws;
      ctx.body = serializeClient(await c.clients.update(ws, params.clientId!, body));
    },
  );

  api.route(
    {
      method: 'delete',
      path: `${BASE}/:clientId`,
      summary: 'Delete a client; its grants and tokens end with it',
      tag,
      auth: 'user',
      responses: { 204: 'deleted', ...denied },
    },
    async (ctx, { params }) => {
      const { id: ws } = (await workspaceRole(c, ctx, params.workspaceId!, MANAGERS)).ws;
      await c.clients.delete(ws, params.clientId!);
      ctx.status = 204;
    },
  );

  api.route(
    {
      method: 'post',
      path: `${BASE}/:clientId/secret`,
      summary: "Rotate a confidential client's secret: the new one is shown once, the old one stops at once",
      tag,
      auth: 'user',
      responses: {
        200: 'the client with its new client_secret',
        409: 'public_client (no secret)',
        ...denied,
      },
    },
    async (ctx, { params }) => {
      const { id: ws } = (await workspaceRole(c, ctx, params.workspaceId!, MANAGERS)).ws;
      const { client, secret } = await c.clients.rotateSecret(ws, params.clientId!);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { ...serializeClient(client), client_secret: secret };
    },
  );

  return api;
}
