import Router from '@koa/router';
import type { Context } from 'koa';
import { type ZodType, z } from 'zod';
import { AppError } from './errors.ts';

/**
 * Routes under /api/v1 are declared as operations: method, path, who may call, and zod schemas
 * for the input. The same declaration validates the request (typed input for the handler, a 400
 * naming the bad field otherwise) and produces the OpenAPI document, so the two cannot drift.
 */
export interface Operation<B extends ZodType | undefined, Q extends ZodType | undefined> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Koa-style path, e.g. `/api/v1/keys/:id`. */
  path: string;
  summary: string;
  tag: string;
  /** Who may call: documented in OpenAPI, enforced by the handler's own guard. */
  auth: 'none' | 'user' | 'key' | 'user_or_key';
  body?: B;
  query?: Q;
  /** Status code → description of the answer. */
  responses: Record<number, string>;
}

export type Input<B, Q> = {
  body: B extends ZodType ? z.output<B> : undefined;
  query: Q extends ZodType ? z.output<Q> : undefined;
  params: Record<string, string>;
};

export class OpenApiRegistry {
  readonly operations: Operation<ZodType | undefined, ZodType | undefined>[] = [];

  document(serverUrl: string): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const op of this.operations) {
      const path = op.path.replace(/:([A-Za-z_]+)/g, '{$1}');
      const params = [...op.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      }));
      const query = op.query ? queryParameters(op.query) : [];
      paths[path] ??= {};
      paths[path][op.method] = {
        summary: op.summary,
        tags: [op.tag],
        security: SECURITY[op.auth],
        parameters: [...params, ...query],
        ...(op.body
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: z.toJSONSchema(op.body, { io: 'input' }) } },
              },
            }
          : {}),
        responses: Object.fromEntries(
          Object.entries(op.responses).map(([status, description]) => [
            status,
            Number(status) >= 400
              ? {
                  description,
                  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
                }
              : { description },
          ]),
        ),
      };
    }
    return {
      openapi: '3.1.0',
      info: { title: 'Gatehouse API', version: '1' },
      servers: [{ url: serverUrl }],
      paths,
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'an access token or an API key' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
        schemas: {
          Error: {
            type: 'object',
            required: ['error', 'message'],
            properties: { error: { type: 'string' }, message: { type: 'string' } },
          },
        },
      },
    };
  }
}

const SECURITY: Record<Operation<undefined, undefined>['auth'], unknown[]> = {
  none: [],
  user: [{ bearer: [] }],
  key: [{ bearer: [] }, { apiKey: [] }],
  user_or_key: [{ bearer: [] }, { apiKey: [] }],
};

function queryParameters(schema: ZodType): unknown[] {
  const json = z.toJSONSchema(schema, { io: 'input' }) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: s,
  }));
}

/** A router whose routes validate their input and register themselves in the OpenAPI document. */
export class ApiRouter {
  readonly router = new Router();

  constructor(private readonly registry: OpenApiRegistry) {}

  route<B extends ZodType | undefined = undefined, Q extends ZodType | undefined = undefined>(
    op: Operation<B, Q>,
    handler: (ctx: Context, input: Input<B, Q>) => Promise<void> | void,
  ): this {
    this.registry.operations.push(op as Operation<ZodType | undefined, ZodType | undefined>);
    this.router[op.method](op.path, async (ctx) => {
      const body = op.body ? parseRequest(op.body, requestBody(ctx), 'body') : undefined;
      const query = op.query ? parseRequest(op.query, ctx.query, 'query') : undefined;
      await handler(ctx, { body, query, params: ctx.params } as Input<B, Q>);
    });
    return this;
  }

  routes() {
    return this.router.routes();
  }

  allowedMethods() {
    return this.router.allowedMethods();
  }
}

/** The body the body parser read (an empty object when there was none). */
export function requestBody(ctx: Context): unknown {
  return (ctx.request as { body?: unknown }).body ?? {};
}

/** A request's body or query, validated: 400 `invalid_request` naming the first bad field, and all issues. */
export function parseRequest<S extends ZodType>(
  schema: S,
  value: unknown,
  where: 'body' | 'query',
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.join('.');
  throw new AppError(
    400,
    'invalid_request',
    field ? `${field}: ${issue.message}` : `${where}: ${issue.message}`,
    {
      field: field || undefined,
      issues: result.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })),
    },
  );
}
