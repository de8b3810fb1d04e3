import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createKeyBody,
  createKeyInput,
  listKeysQuery,
  metadataInput,
  rotateKeyBody,
  updateKeyBody,
  verifyKeyBody,
} from './schemas.ts';

describe('API request bodies map onto the service inputs', () => {
  it('maps create (snake_case) and the service applies its defaults', () => {
    const body = createKeyBody.parse({
      name: 'ci',
      scopes: ['videos:read'],
      grant_all: false,
      expires_at: '2030-02-01T00:00:00Z',
      rate_limit: { requests: 10, window_seconds: 60 },
      metadata: { team: 'data' },
    });
    expect(body).toMatchObject({
      name: 'ci',
      scopes: ['videos:read'],
      grantAll: false,
      expiresAt: '2030-02-01T00:00:00Z',
      rateLimit: { requests: 10, windowSeconds: 60 },
      metadata: { team: 'data' },
    });
    const input = createKeyInput.parse(body);
    expect(input).toMatchObject({
      environment: 'live',
      temporary: false,
      expiresAt: new Date('2030-02-01T00:00:00Z'),
    });
  });

  it('refuses unknown fields, camelCase spellings and wrong types', () => {
    expect(createKeyBody.safeParse({ name: 'x', grantAll: true }).success).toBe(false);
    expect(createKeyBody.safeParse({ name: 'x', grant_all: 'yes' }).success).toBe(false);
    expect(createKeyBody.safeParse({ name: 'x', expires_at: 'next week' }).success).toBe(false);
    expect(createKeyBody.safeParse({ name: 'x', rate_limit: { requests: 1 } }).success).toBe(false);
    expect(updateKeyBody.safeParse({ scopes: 'videos:read' }).success).toBe(false);
    const bad = createKeyBody.safeParse({ name: 'x', rate_limit: { requests: 0, window_seconds: 60 } });
    expect(bad.success || bad.error.issues[0]!.path).toEqual(['rate_limit', 'requests']);
    const meta = createKeyBody.safeParse({ name: 'x', metadata: { a: { b: 1 } } });
    expect(meta.success || meta.error.issues[0]!.path[0]).toBe('metadata');
    expect(createKeyBody.safeParse({ name: ' ' }).success).toBe(false);
    expect(createKeyBody.safeParse({ name: 'x', scopes: ['*'] }).success).toBe(false);
  });

  it('turns into JSON Schema for the OpenAPI document', () => {
    for (const schema of [createKeyBody, updateKeyBody, rotateKeyBody, verifyKeyBody, listKeysQuery]) {
      expect(z.toJSONSchema(schema, { io: 'input' })).toMatchObject({ type: 'object' });
    }
    expect(z.toJSONSchema(createKeyBody, { io: 'input' })).toMatchObject({
      required: ['name'],
      properties: { grant_all: { type: 'boolean' }, expires_at: {}, rate_limit: {} },
    });
  });

  it('maps update, rotate, verify and the list query', () => {
    expect(updateKeyBody.parse({ expires_at: null, rate_limit: null })).toMatchObject({
      expiresAt: null,
      rateLimit: null,
    });
    expect(rotateKeyBody.parse({})).toEqual({ graceSeconds: 0 });
    expect(rotateKeyBody.parse({ grace_seconds: 60 })).toEqual({ graceSeconds: 60 });
    expect(rotateKeyBody.safeParse({ grace_seconds: 8 * 86_400 }).success).toBe(false);
    expect(verifyKeyBody.parse({ key: 'k', required_scopes: ['a:read'], cost: 2 })).toEqual({
      key: 'k',
      requiredScopes: ['a:read'],
      cost: 2,
    });
    // Defaults applied: the service takes the result without a second validation.
    expect(verifyKeyBody.parse({ key: 'k', workspace_id: 'ws_1', ip: '10.0.0.1' })).toEqual({
      key: 'k',
      requiredScopes: [],
      cost: 0,
      ip: '10.0.0.1',
      workspaceId: 'ws_1',
    });
    expect(listKeysQuery.parse({ limit: '5', status: 'active' })).toEqual({ limit: 5, status: 'active' });
    expect(listKeysQuery.safeParse({ limit: '500' }).success).toBe(false);
  });

  it('bounds metadata', () => {
    expect(metadataInput.safeParse({ a: 1, b: 'x', c: true, d: null }).success).toBe(true);
    expect(metadataInput.safeParse({ a: { nested: 1 } }).success).toBe(false);
    expect(metadataInput.safeParse({ a: [1] }).success).toBe(false);
    expect(metadataInput.safeParse({ $where: 1 }).success).toBe(false);
    expect(metadataInput.safeParse({ a: Number.POSITIVE_INFINITY }).success).toBe(false);
    expect(
      metadataInput.safeParse(Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 1]))).success,
    ).toBe(false);
    expect(
      metadataInput.safeParse({
        a: 'x'.repeat(500),
        b: 'x'.repeat(500),
        c: 'x'.repeat(500),
        d: 'x'.repeat(500),
        e: 'x'.repeat(500),
      }).success,
    ).toBe(false);
  });
});
