import { describe, expect, it } from 'vitest';
import { AppError } from '../http/errors.ts';
import {
  assertGrantable,
  BUILTIN_SCOPES,
  mergeCatalogue,
  newPresetInput,
  newScopeInput,
  SCOPE_NAME_RE,
  ungrantable,
} from './scopes.ts';

describe('the default scopes catalogue', () => {
  it('has more than 35 scopes, each named resource:action, described and risk-labelled', () => {
    expect(BUILTIN_SCOPES.length).toBeGreaterThan(35);
    const names = BUILTIN_SCOPES.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const s of BUILTIN_SCOPES) {
      expect(s.name).toMatch(SCOPE_NAME_RE);
      expect(s.description.length).toBeGreaterThan(5);
      expect(['low', 'medium', 'high']).toContain(s.risk);
    }
  });

  it('keeps reads apart from writes: every resource with a write scope also has a read scope', () => {
    const names = new Set(BUILTIN_SCOPES.map((s) => s.name));
    for (const n of [
      'videos',
      'collections',
      'members',
      'api_keys',
      'webhooks',
      'credits',
      'library',
      'streams',
    ]) {
      expect(names.has(`${n}:read`)).toBe(true);
    }
    for (const s of BUILTIN_SCOPES.filter((s) => s.name.endsWith(':read'))) expect(s.risk).not.toBe('high');
  });

  it('labels trust-sensitive scopes high', () => {
    const risk = new Map(BUILTIN_SCOPES.map((s) => [s.name, s.risk]));
    for (const n of [
      'members:write',
      'access:grant',
      'subscriptions:manage',
      'emails:send',
      'api_keys:manage',
    ]) {
      expect(risk.get(n)).toBe('high');
    }
    expect(risk.get('videos:read')).toBe('low');
    expect(risk.get('videos:write')).toBe('medium');
  });

  it('caps emails:send by default (a guardrail)', () => {
    expect(BUILTIN_SCOPES.find((s) => s.name === 'emails:send')?.cap).toEqual({
      limit: 1000,
      windowSeconds: 86_400,
    });
  });

  it('has no wildcard scope names', () => {
    for (const bad of ['*', 'videos:*', '*:read', 'videos', 'Videos:read', 'videos:read:', 'videos read']) {
      expect(SCOPE_NAME_RE.test(bad)).toBe(false);
    }
  });
});

describe('merging a workspace catalogue', () => {
  it('applies overrides to built-ins and appends custom scopes', () => {
    const merged = mergeCatalogue([
      { name: 'videos:read', description: 'See videos', retired: false },
      { name: 'analytics:read', retired: true },
      { name: 'emails:send', cap: null, retired: false },
      {
        name: 'reports:export',
        description: 'Export reports',
        risk: 'medium',
        unlocks: ['GET /export'],
        retired: false,
      },
    ]);
    expect(merged.length).toBe(BUILTIN_SCOPES.length + 1);
    const byName = new Map(merged.map((d) => [d.name, d]));
    expect(byName.get('videos:read')).toMatchObject({
      description: 'See videos',
      risk: 'low',
      source: 'builtin',
    });
    expect(byName.get('analytics:read')?.retired).toBe(true);
    expect(byName.get('emails:send')?.cap).toBeNull();
    expect(byName.get('reports:export')).toEqual({
      name: 'reports:export',
      description: 'Export reports',
      risk: 'medium',
      unlocks: ['GET /export'],
      cap: null,
      retired: false,
      source: 'custom',
    });
  });

  it('tells unknown and retired scopes apart, and refuses to grant them', () => {
    const catalogue = mergeCatalogue([{ name: 'analytics:read', retired: true }]);
    expect(ungrantable(catalogue, ['videos:read', 'nope:read', 'analytics:read', 'nope:read'])).toEqual({
      unknown: ['nope:read'],
      retired: ['analytics:read'],
    });
    expect(() => assertGrantable(catalogue, ['videos:read'])).not.toThrow();
    const err = (() => {
      try {
        assertGrantable(catalogue, ['nope:read']);
      } catch (e) {
        return e as AppError;
      }
    })();
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({
      status: 400,
      code: 'unknown_scopes',
      extra: { unknown_scopes: ['nope:read'] },
    });
    expect(() => assertGrantable(catalogue, ['analytics:read'])).toThrow(/Retired/);
  });
});

describe('inputs', () => {
  it('validates new scopes and presets', () => {
    expect(newScopeInput.safeParse({ name: 'x:read', description: 'd', risk: 'low' }).success).toBe(true);
    expect(newScopeInput.safeParse({ name: 'x:*', description: 'd', risk: 'low' }).success).toBe(false);
    expect(newScopeInput.safeParse({ name: 'x:read', description: 'd', risk: 'severe' }).success).toBe(false);
    expect(newScopeInput.safeParse({ name: 'x:read', description: '', risk: 'low' }).success).toBe(false);
    expect(newScopeInput.safeParse({ name: 'x:read', description: 'd', risk: 'low', extra: 1 }).success).toBe(
      false,
    );
    expect(newPresetInput.safeParse({ name: 'upload', scopes: ['library:upload'] }).success).toBe(true);
    expect(newPresetInput.safeParse({ name: 'upload', scopes: [] }).success).toBe(false);
    expect(newPresetInput.safeParse({ name: 'Upload!', scopes: ['library:upload'] }).success).toBe(false);
  });
});
