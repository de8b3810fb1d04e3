import { describe, expect, it } from 'vitest';
import { generateKey } from './format.ts';
import { presentedCredential } from './presentation.ts';

describe('where a request carries its credential', () => {
  const { key } = generateKey('sk', 'live');

  it('takes a key from Authorization: Bearer, X-API-Key or the workspace header', () => {
    expect(presentedCredential({ authorization: `Bearer ${key}` })).toEqual({
      kind: 'api_key',
      key,
      header: 'authorization',
    });
    expect(presentedCredential({ authorization: `bearer  ${key} ` })).toMatchObject({ kind: 'api_key', key });
    expect(presentedCredential({ 'x-api-key': key })).toEqual({ kind: 'api_key', key, header: 'x-api-key' });
    expect(presentedCredential({ 'x-spatialgen-appkey': key }, 'X-SPATIALGEN-APPKEY')).toEqual({
      kind: 'api_key',
      key,
      header: 'x-spatialgen-appkey',
    });
    // without the workspace naming it, that header means nothing
    expect(presentedCredential({ 'x-spatialgen-appkey': key })).toEqual({ kind: 'none' });
  });

  it('tells access tokens from keys on Authorization', () => {
    expect(presentedCredential({ authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig' })).toEqual({
      kind: 'bearer_token',
      token: 'eyJhbGciOiJFUzI1NiJ9.e30.sig',
    });
    expect(presentedCredential({ authorization: 'Basic dXNlcjpwYXNz' })).toEqual({
      kind: 'malformed',
      header: 'authorization',
    });
    expect(presentedCredential({ authorization: 'Bearer a b' })).toMatchObject({ kind: 'malformed' });
  });

  it('refuses two credentials at once, and repeated headers', () => {
    expect(presentedCredential({ authorization: `Bearer ${key}`, 'x-api-key': key })).toEqual({
      kind: 'ambiguous',
      headers: ['authorization', 'x-api-key'],
    });
    expect(presentedCredential({ 'x-api-key': [key, key] })).toEqual({
      kind: 'ambiguous',
      headers: ['x-api-key'],
    });
    expect(presentedCredential({ 'x-api-key': [key] })).toMatchObject({ kind: 'api_key', key });
  });

  it('answers none without a credential, and malformed for a blank header', () => {
    expect(presentedCredential({})).toEqual({ kind: 'none' });
    expect(presentedCredential({ 'x-api-key': '' })).toEqual({ kind: 'none' });
    expect(presentedCredential({ 'x-api-key': '   ' })).toEqual({ kind: 'malformed', header: 'x-api-key' });
  });
});
