import type Router from '@koa/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../../src/http/routes/index.ts';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';

/** Every /api/v1 route the app mounts, as "METHOD /api/v1/path/{param}". */
function mountedOperations(gh: TestServer): string[] {
  const out = new Set<string>();
  for (const r of apiRoutes(gh.container)) {
    const router = (r as { router?: Router }).router ?? (r as unknown as Router);
    for (const layer of router.stack ?? []) {
      if (typeof layer.path !== 'string' || !layer.path.startsWith('/api/v1/')) continue;
      for (const method of layer.methods) {
        if (method === 'HEAD') continue;
        out.add(`${method} ${layer.path.replace(/:([A-Za-z_]+)/g, '{$1}')}`);
      }
    }
  }
  return [...out].sort();
}

describe('the OpenAPI document', () => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await startGatehouse();
  });
  afterAll(async () => {
    await gh?.close();
  });

  it('is served as OpenAPI 3.1 with the issuer as server', async () => {
    const res = await fetch(`${gh.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: gh.issuer }]);
  });

  it('documents exactly the /api/v1 routes the server mounts, each with responses', async () => {
    const doc = await (await fetch(`${gh.url}/api/v1/openapi.json`)).json();
    const documented: string[] = [];
    for (const [path, methods] of Object.entries(
      doc.paths as Record<string, Record<string, { responses: object }>>,
    )) {
      for (const [method, op] of Object.entries(methods)) {
        documented.push(`${method.toUpperCase()} ${path}`);
        expect(Object.keys(op.responses).length, `${method} ${path} has no responses`).toBeGreaterThan(0);
      }
    }
    expect(documented.sort()).toEqual(mountedOperations(gh));
  });
});
