/**
 * What a consent screen says for each requested permission, in plain words. OIDC scopes have fixed
 * sentences; API scopes use the workspace catalogue's description when there is one, otherwise a
 * sentence made from the `resource:action` convention (`videos:read` → "Read videos").
 */

export interface ScopeLine {
  /** The protocol name, shown small next to the sentence. */
  scope: string;
  /** The sentence the user reads. */
  text: string;
  risk?: 'low' | 'medium' | 'high';
}

export interface ConsentRequest {
  oidcScopes: string[];
  /** Individually requested claims (the `claims` parameter), beyond those the scopes bring. */
  claims: string[];
  /** resource indicator → API scopes */
  resourceScopes: Record<string, string[]>;
}

export interface CatalogueEntry {
  description?: string;
  risk?: 'low' | 'medium' | 'high';
}

const OIDC_SCOPE_TEXT: Record<string, string> = {
  openid: 'Confirm your identity',
  email: 'See your email address',
  profile: 'See your name',
  offline_access: 'Stay signed in',
  address: 'See your postal address',
  phone: 'See your phone number',
};

const CLAIM_TEXT: Record<string, string> = {
  email: 'See your email address',
  email_verified: 'See whether your email address is verified',
  name: 'See your name',
  given_name: 'See your first name',
  family_name: 'See your last name',
};

const ACTION_TEXT: Record<string, string> = {
  read: 'Read',
  list: 'List',
  write: 'Change',
  create: 'Create',
  update: 'Update',
  delete: 'Delete',
  manage: 'Manage',
  admin: 'Administer',
  upload: 'Upload',
};

export function describeApiScope(
  scope: string,
  catalogue?: (scope: string) => CatalogueEntry | undefined,
): ScopeLine {
  const entry = catalogue?.(scope);
  if (entry?.description)
    return { scope, text: entry.description, ...(entry.risk ? { risk: entry.risk } : {}) };
  const m = /^([A-Za-z0-9_.-]+)[:.]([A-Za-z0-9_-]+)$/.exec(scope);
  const action = m ? ACTION_TEXT[m[2]!.toLowerCase()] : undefined;
  const subject = m?.[1]?.replace(/[_.-]+/g, ' ');
  const text = action && subject ? `${action} your ${subject}` : `Use the “${scope}” permission`;
  return { scope, text, ...(entry?.risk ? { risk: entry.risk } : {}) };
}

/** The lines of the consent screen, OIDC permissions first, each sentence once. */
export function describeConsent(
  req: ConsentRequest,
  catalogue?: (scope: string) => CatalogueEntry | undefined,
): { identity: ScopeLine[]; apis: { resource: string; lines: ScopeLine[] }[] } {
  const identity: ScopeLine[] = [];
  const said = new Set<string>();
  const add = (line: ScopeLine) => {
    if (said.has(line.text)) return;
    said.add(line.text);
    identity.push(line);
  };
  // openid first: it is the one every sign-in asks for.
  const scopes = [...req.oidcScopes].sort((a, b) => Number(b === 'openid') - Number(a === 'openid'));
  for (const s of scopes) add({ scope: s, text: OIDC_SCOPE_TEXT[s] ?? `Use the “${s}” permission` });
  for (const c of req.claims) {
    if (c === 'sub') continue;
    add({ scope: c, text: CLAIM_TEXT[c] ?? `See your “${c}”` });
  }
  const apis = Object.entries(req.resourceScopes)
    .filter(([, scopes]) => scopes.length > 0)
    .map(([resource, scopes]) => ({ resource, lines: scopes.map((s) => describeApiScope(s, catalogue)) }));
  return { identity, apis };
}
