import { describe, expect, it } from 'vitest';
import { emailKey, emailSchema } from './email.ts';

describe('email addresses', () => {
  it('accepts ordinary addresses and single-label domains, trimmed', () => {
    expect(emailSchema.parse('Ann.Lee+x@Example.com')).toBe('Ann.Lee+x@Example.com');
    expect(emailSchema.parse('  admin@localhost ')).toBe('admin@localhost');
  });

  it('refuses what is not an address', () => {
    for (const bad of ['', 'ann', 'ann@', '@example.com', 'a b@example.com', 'a@@example.com', 'a@-x.com']) {
      expect(emailSchema.safeParse(bad).success, bad).toBe(false);
    }
    expect(emailSchema.safeParse(`${'a'.repeat(250)}@x.io`).success).toBe(false);
  });

  it('compares case-insensitively through emailKey', () => {
    expect(emailKey(' Ann@Example.COM')).toBe('ann@example.com');
  });
});
