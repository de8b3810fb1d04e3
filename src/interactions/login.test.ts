import { describe, expect, it } from 'vitest';
import { passwordAllowed, signInError } from './login.ts';

describe('sign-in wording and rules', () => {
  it('words each failure for people, naming the workspace', () => {
    expect(signInError('invalid', null).title).toBe('Wrong email or password');
    expect(signInError('disabled', null).title).toBe('This account is disabled');
    expect(signInError('not_member', { name: 'Acme' }).title).toBe(
      'Your account does not have access to Acme',
    );
    expect(signInError('not_member', null).detail).toContain('this organisation');
    expect(signInError('missing', null).field).toBe('email');
    expect(signInError('invalid', null).field).toBe('password');
    expect(signInError('rate_limited', null, 42).detail).toContain('wait 42 seconds');
    expect(signInError('rate_limited', null, 1).detail).toContain('wait 1 second ');
  });

  it('allows passwords only where the workspace does, and never without a workspace', () => {
    expect(passwordAllowed({ settings: { signInMethods: ['password', 'google'] } } as never)).toBe(true);
    expect(passwordAllowed({ settings: { signInMethods: ['saml'] } } as never)).toBe(false);
    expect(passwordAllowed(null)).toBe(false);
  });
});
