import { z } from 'zod';
import { CLIENT_GRANT_TYPES } from './model.ts';
import { redirectUriProblem, resourceProblem } from './redirect-uris.ts';

/** What the service accepts (camelCase) and what the API accepts (snake_case), with one set of rules. */
const uri = (problem: (v: string) => string | undefined) =>
  z
    .string()
    .max(2000, 'must be at most 2000 characters')
    .superRefine((v, ctx) => {
      const p = problem(v);
      if (p) ctx.addIssue({ code: 'custom', message: `${v} ${p}` });
    });

const uriList = (problem: (v: string) => string | undefined, max: number) =>
  z
    .array(uri(problem))
    .max(max, `at most ${max} entries`)
    .refine((a) => new Set(a).size === a.length, 'must not repeat an entry');

export const clientName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters');
const redirectUris = uriList(redirectUriProblem, 20);
const grantTypes = z
  .array(z.enum(CLIENT_GRANT_TYPES as [string, ...string[]]))
  .min(1, 'at least one grant type')
  .refine((a) => new Set(a).size === a.length, 'must not repeat a grant type');
const authMethod = z.enum(['client_secret_basic', 'client_secret_post']);
const resources = uriList(resourceProblem, 10);

export const newClientInput = z
  .strictObject({
    name: clientName,
    public: z.boolean().default(false),
    redirectUris: redirectUris.default([]),
    postLogoutRedirectUris: redirectUris.default([]),
    grantTypes: grantTypes.optional(),
    authMethod: authMethod.optional(),
    resources: resources.default([]),
    dpopBound: z.boolean().default(false),
  })
  .transform((v) => ({
    ...v,
    grantTypes: (v.grantTypes ?? [
      'authorization_code',
      'refresh_token',
    ]) as (typeof CLIENT_GRANT_TYPES)[number][],
  }));
export type NewClientInput = z.input<typeof newClientInput>;

export const clientPatchInput = z.strictObject({
  name: clientName.optional(),
  redirectUris: redirectUris.optional(),
  postLogoutRedirectUris: redirectUris.optional(),
  grantTypes: grantTypes.optional(),
  authMethod: authMethod.optional(),
  resources: resources.optional(),
  dpopBound: z.boolean().optional(),
});
export type ClientPatchInput = z.input<typeof clientPatchInput>;

// --- the API's bodies (snake_case, OAuth dynamic-registration names) -----------------------------

/** The fields create and update share, by their OAuth dynamic-registration names (RFC 7591). */
const clientBody = z.strictObject({
  client_name: clientName.optional(),
  redirect_uris: redirectUris.optional(),
  post_logout_redirect_uris: redirectUris.optional(),
  grant_types: grantTypes.optional(),
  token_endpoint_auth_method: authMethod.optional(),
  resources: resources.optional(),
  dpop_bound_access_tokens: z.boolean().optional(),
});

const fromBody = (b: z.output<typeof clientBody>) => ({
  name: b.client_name,
  redirectUris: b.redirect_uris,
  postLogoutRedirectUris: b.post_logout_redirect_uris,
  grantTypes: b.grant_types as ClientPatchInput['grantTypes'],
  authMethod: b.token_endpoint_auth_method,
  resources: b.resources,
  dpopBound: b.dpop_bound_access_tokens,
});

export const createClientBody = clientBody
  .extend({
    client_name: clientName,
    client_type: z.enum(['public', 'confidential']).default('confidential'),
  })
  .transform(
    (b): NewClientInput => ({ ...fromBody(b), name: b.client_name, public: b.client_type === 'public' }),
  );

export const updateClientBody = clientBody
  .refine((b) => Object.keys(b).length > 0, 'expected at least one field to change')
  .transform((b): ClientPatchInput => fromBody(b));
