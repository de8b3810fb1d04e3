import Provider from 'oidc-provider';
import type { Logger } from '../logger.ts';
import type { Clock, Storage } from '../storage/index.ts';
import { createAdapterClass } from './adapter.ts';
import { oidcConfiguration } from './configuration.ts';
import { SigningKeyStore } from './signing-keys.ts';

export interface ProviderDeps {
  issuer: string;
  storage: Storage;
  clock: Clock;
  logger: Logger;
  cookieSecrets: string[] | undefined;
  trustProxy: boolean;
}

export async function createProvider(
  deps: ProviderDeps,
): Promise<{ provider: Provider; keys: SigningKeyStore }> {
  const keys = new SigningKeyStore(deps.storage, deps.clock);
  const signingKeys = await keys.load();
  const cookieSecrets = deps.cookieSecrets ?? (await keys.cookieSecrets());
  const provider = new Provider(
    deps.issuer,
    oidcConfiguration({
      adapter: createAdapterClass(deps.storage, deps.clock),
      signingKeys,
      cookieSecrets,
      secureCookies: deps.issuer.startsWith('https://'),
    }),
  );
  provider.proxy = deps.trustProxy;
  provider.on('server_error', (ctx, err) => deps.logger.error({ err, path: ctx.path }, 'oidc server_error'));
  return { provider, keys };
}
