import type Provider from 'oidc-provider';

/**
 * The one file that reaches into oidc-provider's internals (DESIGN "extension points before
 * internals"). oidc-provider builds its keystore once, from `configuration.jwks`, and has no
 * public way to replace it; signing-key rotation without a restart needs one. We call the same
 * initializer the constructor calls (lib/helpers/initialize_keystore.js, oidc-provider 9.x), with
 * the provider as `this`, which replaces both the signing keystore and the published JWKS.
 * Checked by test/integration/oidc-core/signing-rotation.test.ts against the installed version.
 */
type InitializeKeystore = (this: Provider, jwks: { keys: object[] }) => void;

// A variable specifier keeps TypeScript from looking for types the library does not ship.
const KEYSTORE_MODULE = 'oidc-provider/lib/helpers/initialize_keystore.js';
const { default: initializeKeystore } = (await import(KEYSTORE_MODULE)) as { default: InitializeKeystore };

/**
 * The request oidc-provider is serving (its own AsyncLocalStorage, lib/helpers/als.js, entered
 * for every request in lib/helpers/initialize_app.js): lets `compareClientSecret`, which gets no
 * context, see how the client authenticated without a second AsyncLocalStorage of ours.
 */
const ALS_MODULE = 'oidc-provider/lib/helpers/als.js';
const { default: providerAls } = (await import(ALS_MODULE)) as {
  default: {
    getStore(): { get(header: string): string; set(header: string, value: string): void } | undefined;
  };
};

export function currentRequestUsesBasicAuth(): boolean | undefined {
  const ctx = providerAls.getStore();
  return ctx ? /^basic /i.test(ctx.get('authorization')) : undefined;
}

/** Sets a response header on the request oidc-provider is serving (e.g. Retry-After with an error). */
export function setHeaderOnCurrentRequest(name: string, value: string): void {
  providerAls.getStore()?.set(name, value);
}

/** Notes a value on the request oidc-provider is serving (ctx.state), for a later hook of the same request. */
export function noteOnCurrentRequest(key: string, value: unknown): void {
  const ctx = providerAls.getStore() as { state?: Record<string, unknown> } | undefined;
  if (ctx?.state) ctx.state[key] = value;
}

export function replaceProviderKeys(provider: Provider, privateJwks: object[]): void {
  initializeKeystore.call(provider, { keys: privateJwks });
}
