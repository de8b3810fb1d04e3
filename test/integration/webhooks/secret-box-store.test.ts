/** The webhook secret box's keys: configured, or (development) one generated once and kept in the store. */
import { describe, expect, it } from 'vitest';
import { SecretBox, secretBoxFor } from '../../../src/webhooks/secret-box.ts';
import { openEmbedded } from '../../helpers/stores.ts';

describe('secretBoxFor', () => {
  it('uses the configured keys, or one development key generated once and kept in the store', async () => {
    const dir = await openEmbedded();
    try {
      const configured = SecretBox.generateKey();
      const sealed = (await secretBoxFor([configured], dir.storage)).seal('whsec_a', 'whe_1');
      expect(new SecretBox([configured]).open(sealed, 'whe_1')).toBe('whsec_a');

      const dev1 = await secretBoxFor(undefined, dir.storage);
      const dev2 = await secretBoxFor([], dir.storage);
      expect(dev2.open(dev1.seal('whsec_b', 'whe_1'), 'whe_1')).toBe('whsec_b');
      expect(() => dev1.open(sealed, 'whe_1')).toThrow(/unknown key/);
    } finally {
      await dir.cleanup();
    }
  });
});
