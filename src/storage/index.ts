import type { Config } from '../config/index.ts';
import { EmbeddedStorage } from './embedded/store.ts';
import { MongoStorage } from './mongo/store.ts';
import type { Clock, Storage } from './port.ts';

export * from './port.ts';

export interface StorageOptions {
  clock?: Clock;
  sweepIntervalMs?: number;
  onWarning?: (message: string) => void;
}

export async function createStorage(
  config: Config['storage'],
  options: StorageOptions = {},
): Promise<Storage> {
  if (config.kind === 'mongo') {
    return MongoStorage.open({ uri: config.uri, timeoutMs: config.timeoutMs, ...options });
  }
  return EmbeddedStorage.open(config.dataDir, options);
}
