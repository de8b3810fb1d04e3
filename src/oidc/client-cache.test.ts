import { describe, expect, it } from 'vitest';
import { ClientCache } from './client-cache.ts';

const registered = (id: string, v = 1) => ({ clientId: id, gatehouse_kind: 'registered', v });

/** A lookup whose answers the test sets, counting calls; `hold` pauses the next one. */
function source() {
  const rows = new Map<string, unknown>();
  let calls = 0;
  let held: (() => void) | undefined;
  let hold = false;
  return {
    rows,
    get calls() {
      return calls;
    },
    holdNext() {
      hold = true;
    },
    release() {
      held?.();
    },
    lookUp: async (id: string) => {
      calls++;
      const answer = rows.get(id);
      if (hold) {
        hold = false;
        await new Promise<void>((r) => {
          held = r;
        });
      }
      return answer;
    },
  };
}

describe('ClientCache', () => {
  it('keeps registered clients after one lookup, and looks again after forget', async () => {
    const s = source();
    const cache = new ClientCache(s.lookUp);
    s.rows.set('cli_a', registered('cli_a'));
    expect(await cache.find('cli_a')).toEqual(registered('cli_a'));
    expect(await cache.find('cli_a')).toEqual(registered('cli_a'));
    expect(s.calls).toBe(1);
    s.rows.set('cli_a', registered('cli_a', 2));
    cache.forget('cli_a');
    expect(await cache.find('cli_a')).toEqual(registered('cli_a', 2));
    expect(s.calls).toBe(2);
  });

  it('keeps no miss, no API key client and nothing a concurrent forget overlapped', async () => {
    const s = source();
    const cache = new ClientCache(s.lookUp);
    expect(await cache.find('cli_new')).toBeUndefined();
    s.rows.set('cli_new', registered('cli_new'));
    expect(await cache.find('cli_new')).toEqual(registered('cli_new'));

    s.rows.set('key_a', { clientId: 'key_a', gatehouse_kind: 'api_key' });
    await cache.find('key_a');
    await cache.find('key_a');
    expect(s.calls).toBe(4);

    // A lookup that read the old client while it changed must not be kept.
    s.rows.set('cli_b', registered('cli_b', 1));
    s.holdNext();
    const reading = cache.find('cli_b');
    s.rows.set('cli_b', registered('cli_b', 2));
    cache.forget('cli_b');
    s.release();
    expect(await reading).toEqual(registered('cli_b', 1));
    expect(await cache.find('cli_b')).toEqual(registered('cli_b', 2));
  });

  it('starts over rather than grow past its bound', async () => {
    const s = source();
    const cache = new ClientCache(s.lookUp, 2);
    for (const id of ['cli_1', 'cli_2', 'cli_3']) s.rows.set(id, registered(id));
    for (const id of ['cli_1', 'cli_2', 'cli_3']) await cache.find(id);
    const before = s.calls;
    await cache.find('cli_3');
    await cache.find('cli_1');
    expect(s.calls - before).toBe(1);
  });
});
