import { describe, expect, it } from 'vitest';
import { SecretBox } from './secret-box.ts';

describe('SecretBox (webhook secrets at rest)', () => {
  const key = SecretBox.generateKey();
  const box = new SecretBox([key]);

  it('seals to a form that does not contain the secret and opens it back', () => {
    const sealed = box.seal('whsec_abc123', 'whe_1');
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{8}\./);
    expect(sealed).not.toContain('abc123');
    expect(box.seal('whsec_abc123', 'whe_1')).not.toBe(sealed); // fresh IV each time
    expect(box.open(sealed, 'whe_1')).toBe('whsec_abc123');
  });

  it('refuses another endpoint context, a tampered value and an unknown key', () => {
    const sealed = box.seal('whsec_abc123', 'whe_1');
    expect(() => box.open(sealed, 'whe_2')).toThrow();
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[3]!, 'base64url');
    ct[0]! ^= 1;
    parts[3] = ct.toString('base64url');
    expect(() => box.open(parts.join('.'), 'whe_1')).toThrow();
    expect(() => new SecretBox([SecretBox.generateKey()]).open(sealed, 'whe_1')).toThrow(/unknown key/);
    expect(() => box.open('whsec_plain', 'whe_1')).toThrow();
  });

  it('opens values sealed under an older key during key rotation; seals with the first', () => {
    const oldBox = new SecretBox([key]);
    const sealed = oldBox.seal('whsec_x', 'whe_1');
    const newKey = Buffer.alloc(32, 7).toString('hex');
    const rotated = new SecretBox([newKey, key]);
    expect(rotated.open(sealed, 'whe_1')).toBe('whsec_x');
    const resealed = rotated.seal('whsec_x', 'whe_1');
    expect(resealed.split('.')[1]).not.toBe(sealed.split('.')[1]);
    expect(new SecretBox([newKey]).open(resealed, 'whe_1')).toBe('whsec_x');
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => new SecretBox([])).toThrow();
    expect(() => new SecretBox(['c2hvcnQ'])).toThrow(/32 bytes/);
  });
});
