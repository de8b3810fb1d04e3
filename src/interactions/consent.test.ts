import type { Interaction } from 'oidc-provider';
import Provider from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import { consentRequest, grantConsent, missingConsent } from './consent.ts';

// A real oidc-provider (its in-memory adapter): the grants below are the library's own Grant model.
const provider = new Provider('http://127.0.0.1:1', { features: { devInteractions: { enabled: false } } });

function interaction(details: Record<string, unknown>, grantId?: string): Interaction {
  return {
    uid: 'u',
    grantId,
    params: { client_id: 'app' },
    prompt: { name: 'consent', reasons: [], details },
  } as unknown as Interaction;
}

describe('consent', () => {
  it('reads only well-formed prompt details', () => {
    expect(
      missingConsent({
        missingOIDCScope: ['openid', 3, 'email'],
        missingOIDCClaims: 'nope',
        missingResourceScopes: { 'https://api.test': ['videos:read'], 'https://empty.test': [] },
      }),
    ).toEqual({
      missingOIDCScope: ['openid', 'email'],
      missingOIDCClaims: undefined,
      missingResourceScopes: { 'https://api.test': ['videos:read'] },
    });
    expect(consentRequest(missingConsent(undefined))).toEqual({
      oidcScopes: [],
      claims: [],
      resourceScopes: {},
    });
  });

  it('creates a grant with exactly what was missing and hands back its id', async () => {
    const result = await grantConsent(
      provider,
      interaction({
        missingOIDCScope: ['openid', 'email'],
        missingOIDCClaims: ['name'],
        missingResourceScopes: { 'https://api.test': ['videos:read', 'videos:write'] },
      }),
      'usr_1',
    );
    const g = (await provider.Grant.find(result.consent.grantId!))!;
    expect(g.accountId).toBe('usr_1');
    expect(g.clientId).toBe('app');
    expect(g.getOIDCScope().split(' ').sort()).toEqual(['email', 'openid']);
    expect(g.getOIDCClaims()).toEqual(['name']);
    expect(g.getResourceScope('https://api.test')).toBe('videos:read videos:write');
  });

  it("extends the user's existing grant, but never someone else's", async () => {
    const mine = await new provider.Grant({ accountId: 'usr_1', clientId: 'app' }).save();
    const theirs = await new provider.Grant({ accountId: 'usr_2', clientId: 'app' }).save();
    expect(
      await grantConsent(provider, interaction({ missingOIDCScope: ['profile'] }, mine), 'usr_1'),
    ).toEqual({
      consent: {},
    });
    expect((await provider.Grant.find(mine))!.getOIDCScope()).toBe('profile');
    const other = await grantConsent(
      provider,
      interaction({ missingOIDCScope: ['profile'] }, theirs),
      'usr_1',
    );
    expect(other.consent.grantId).toBeTruthy();
    expect(other.consent.grantId).not.toBe(theirs);
    expect((await provider.Grant.find(theirs))!.getOIDCScope()).toBe('');
    expect((await provider.Grant.find(other.consent.grantId!))!.accountId).toBe('usr_1');
  });
});
