import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { DuplicateKeyError, type Storage } from '../storage/port.ts';

/**
 * Encryption at rest for webhook signing secrets.
 *
 * Why not a hash, like API keys: the sender must sign every delivery with the secret itself, so
 * it has to be recoverable. Why not plain text: anyone who reads a database dump or backup could
 * then forge deliveries that every receiver trusts. So secrets are sealed with AES-256-GCM under
 * a key that lives in the configuration, not in the store; a dump alone reveals nothing.
 *
 * Sealed form: `v1.<kid>.<iv>.<ciphertext>.<tag>` (base64url parts). The additional data binds a
 * ciphertext to its endpoint id, so swapping sealed secrets between endpoints fails to open.
 * Several keys are accepted for rotation: the first seals, every one opens (matched by `kid`).
 */
export class SecretBox {
  private readonly keys: { kid: string; key: Buffer }[];

  /** `keys`: 32-byte keys as base64/base64url (or 64 hex digits); the first one seals. */
  constructor(keys: readonly string[]) {
    if (!keys.length) throw new Error('SecretBox needs at least one key');
    this.keys = keys.map((k) => {
      const key = decodeKey(k);
      return { kid: createHash('sha256').update(key).digest('base64url').slice(0, 8), key };
    });
  }

  static generateKey(): string {
    return randomBytes(32).toString('base64url');
  }

  seal(plaintext: string, context: string): string {
    const { kid, key } = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      'v1',
      kid,
      iv.toString('base64url'),
      ct.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  /** Throws when the value was sealed under an unknown key, for another context, or altered. */
  open(sealed: string, context: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== 'v1') throw new Error('not a sealed secret');
    const [, kid, iv, ct, tag] = parts as [string, string, string, string, string];
    const entry = this.keys.find((k) => k.kid === kid);
    if (!entry) throw new Error(`sealed under an unknown key (${kid})`);
    const decipher = createDecipheriv('aes-256-gcm', entry.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }
}

function decodeKey(k: string): Buffer {
  const key = /^[0-9a-f]{64}$/i.test(k) ? Buffer.from(k, 'hex') : Buffer.from(k, 'base64url');
  if (key.length !== 32) throw new Error('each webhook secrets key must be 32 bytes (base64url or hex)');
  return key;
}

/**
 * The box for this process: from WEBHOOK_SECRETS_KEY when configured (comma-separated, newest
 * first), otherwise — development only, like generated cookie secrets — a key generated once and
 * kept in the store itself, which protects nothing against a dump of that store. Config refuses
 * the fallback with NODE_ENV=production.
 */
export async function secretBoxFor(
  configured: readonly string[] | undefined,
  storage: Storage,
): Promise<SecretBox> {
  if (configured?.length) return new SecretBox(configured);
  const docs = storage.collection<{ id: string; key: string }>({ name: 'webhook_dev_keyring' });
  const existing = await docs.get('default');
  if (existing) return new SecretBox([existing.key]);
  const key = SecretBox.generateKey();
  try {
    await docs.insert({ id: 'default', key });
    return new SecretBox([key]);
  } catch (err) {
    if (!(err instanceof DuplicateKeyError)) throw err;
    return new SecretBox([(await docs.get('default'))!.key]);
  }
}
