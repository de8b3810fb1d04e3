import { describe, expect, it } from 'vitest';
import { describeApiScope, describeConsent } from './scopes.ts';

describe('consent wording', () => {
  it('says the standard OIDC scopes in plain words, openid first', () => {
    const { identity } = describeConsent({
      oidcScopes: ['email', 'offline_access', 'openid', 'profile'],
      claims: [],
      resourceScopes: {},
    });
    expect(identity.map((l) => l.text)).toEqual([
      'Confirm your identity',
      'See your email address',
      'Stay signed in',
      'See your name',
    ]);
  });

  it('does not repeat a sentence when a claim duplicates a scope, and never lists sub', () => {
    const { identity } = describeConsent({
      oidcScopes: ['openid', 'email'],
      claims: ['sub', 'email', 'email_verified'],
      resourceScopes: {},
    });
    expect(identity.map((l) => l.text)).toEqual([
      'Confirm your identity',
      'See your email address',
      'See whether your email address is verified',
    ]);
  });

  it('groups API scopes by resource and prefers the catalogue description', () => {
    const { apis } = describeConsent(
      {
        oidcScopes: [],
        claims: [],
        resourceScopes: { 'https://api.example.com': ['videos:read', 'videos:write'] },
      },
      (s) =>
        s === 'videos:write' ? { description: 'Upload and edit your videos', risk: 'high' } : undefined,
    );
    expect(apis).toEqual([
      {
        resource: 'https://api.example.com',
        lines: [
          { scope: 'videos:read', text: 'Read your videos' },
          { scope: 'videos:write', text: 'Upload and edit your videos', risk: 'high' },
        ],
      },
    ]);
  });

  it('falls back to naming the permission when it cannot be read as resource:action', () => {
    expect(describeApiScope('billing').text).toBe('Use the “billing” permission');
    expect(describeApiScope('reports:frobnicate').text).toBe('Use the “reports:frobnicate” permission');
    expect(describeApiScope('user_profiles.update').text).toBe('Update your user profiles');
  });
});
