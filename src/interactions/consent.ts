import type Provider from 'oidc-provider';
import type { Interaction, PromptDetail } from 'oidc-provider';
import type { ConsentRequest } from './scopes.ts';

/** What the consent prompt asks for that the grant does not hold yet (oidc-provider's prompt details). */
export interface MissingConsent {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

export function missingConsent(details: PromptDetail['details'] | undefined): MissingConsent {
  const d = (details ?? {}) as Record<string, unknown>;
  const strings = (v: unknown): string[] | undefined =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
  const resources: Record<string, string[]> = {};
  if (d.missingResourceScopes && typeof d.missingResourceScopes === 'object') {
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes as Record<string, unknown>)) {
      const s = strings(scopes);
      if (s?.length) resources[indicator] = s;
    }
  }
  return {
    missingOIDCScope: strings(d.missingOIDCScope),
    missingOIDCClaims: strings(d.missingOIDCClaims),
    missingResourceScopes: resources,
  };
}

export function consentRequest(m: MissingConsent): ConsentRequest {
  return {
    oidcScopes: m.missingOIDCScope ?? [],
    claims: m.missingOIDCClaims ?? [],
    resourceScopes: m.missingResourceScopes ?? {},
  };
}

/**
 * Adds exactly what the prompt found missing to the interaction's grant (a new one for a first
 * consent) and returns the result to finish the interaction with. After
 * node-oidc-provider's example/routes/koa.js.
 */
export async function grantConsent(
  provider: Provider,
  interaction: Interaction,
  accountId: string,
): Promise<{ consent: { grantId?: string } }> {
  const missing = missingConsent(interaction.prompt.details);
  const clientId = String(interaction.params.client_id);
  const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
  // A grant that vanished or belongs to someone else is never extended: start a fresh one.
  const reuse = existing && existing.accountId === accountId && existing.clientId === clientId;
  const grant = reuse ? existing : new provider.Grant({ accountId, clientId });
  if (missing.missingOIDCScope?.length) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return { consent: reuse ? {} : { grantId } };
}
