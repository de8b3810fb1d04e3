import { errors as joseErrors, jwtVerify } from 'jose';
import type Provider from 'oidc-provider';
import type { ResourceServer } from 'oidc-provider';
import type { User } from '../accounts/model.ts';
import type { VerifiedAccessToken } from '../http/auth.ts';
import { AppError, httpErrors } from '../http/errors.ts';
import type { Clock, Collection, Storage } from '../storage/index.ts';
import type { Workspace } from '../workspaces/model.ts';
import { OIDC_MODELS, type OidcModelDoc } from './adapter.ts';
import { FIRST_PARTY_CLIENT_ID } from './client-lookup.ts';
import { CREDENTIAL_GENERATION_CLAIM, type GrantlessHolder } from './credentials.ts';
import { type DpopPresentation, verifyDpopProof } from './dpop.ts';
import { ACCESS_TOKEN_ALG, apiResource } from './resources.ts';
import type { SigningKeyRing } from './signing-keys.ts';
import { WORKSPACE_HINT } from './token-policy.ts';

export interface TokenPair {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  scope: string;
}

export interface TokenService {
  issueForUser(input: { userId: string; workspaceId: string; scopes?: string[] }): Promise<TokenPair>;
  refresh(refreshToken: string): Promise<TokenPair>;
  revokeRefreshToken(refreshToken: string): Promise<void>;
  verifyAccessToken(jwt: string, audience?: string): Promise<VerifiedAccessToken>;
  revokeGrant(grantId: string): Promise<void>;
}

/** Which workspace a login-API grant is for (the first-party client spans workspaces). */
interface GrantWorkspaceDoc {
  id: string; // grantId
  workspaceId: string;
  userId: string;
  expiresAt: Date;
}

const GRANT_WORKSPACES = { name: 'oidc_grant_workspaces', expiresField: 'expiresAt' } as const;

export interface TokenServiceDeps {
  provider: Provider;
  storage: Storage;
  clock: Clock;
  issuer: string;
  ring: SigningKeyRing;
  workspaces: {
    get(id: string): Promise<Workspace | null>;
    membership(workspaceId: string, userId: string): Promise<unknown | null>;
  };
  accounts: { getUser(id: string): Promise<User | null> };
  /** Seconds after a refresh during which the spent token answers the same new pair (0: never). */
  refreshReuseGraceSeconds?: number;
  /**
   * The client behind a grant-less (client_credentials) token as it is now: a registered client or
   * an active key (null: neither), with its current secrets and scopes (credentials.ts).
   */
  grantlessHolder(clientId: string): Promise<GrantlessHolder | null>;
}

const tokenError = (code: 'invalid_token' | 'token_expired' | 'token_revoked', message: string) =>
  new AppError(
    401,
    code,
    message,
    {},
    {
      'WWW-Authenticate': `Bearer realm="gatehouse", error="invalid_token", error_description="${message.replace(/"/g, "'")}"`,
    },
  );

// DESIGN: every 401 carries WWW-Authenticate (the refresh token travels in the body, hence no error code here).
const invalidGrant = (message: string) =>
  new AppError(401, 'invalid_grant', message, {}, { 'WWW-Authenticate': 'Bearer realm="gatehouse"' });

/** The jti of a revoked grant-less access token, kept until the token would have expired anyway. */
interface RevokedJtiDoc {
  id: string;
  expiresAt: Date;
}
const REVOKED_JTIS = { name: 'oidc_revoked_jtis', expiresField: 'expiresAt' } as const;
const DPOP_PROOFS = { name: 'oidc_dpop_proofs', expiresField: 'expiresAt' } as const;

type ResourceServerCtor = new (identifier: string, info: ResourceServer) => never;

const SEC = 1000;
const epoch = (d: Date) => Math.floor(d.getTime() / SEC);

/**
 * One token service for every path (DECISIONS.md): the login API mints through oidc-provider's own
 * models (Grant, AccessToken, RefreshToken) under the first-party client, so its tokens are the
 * same kind as the OIDC flows' — signed by the same keys, revoked the same way (a grant's
 * revocation deletes its refresh tokens and codes, and every JWT naming the grant in `gid` is
 * refused from then on). Verification also reads who stands behind a token (checkUserToken,
 * checkGrantlessToken): a disabled user or a removed member, a rotated-out secret, a scope taken
 * from a key end or narrow its tokens at once. Over 300 lines on purpose: issuance, rotation (with the reuse grace
 * window), verification and revocation share the same models and invariants and read best together;
 * DPoP proof checks live in dpop.ts.
 */
export class OidcTokenService implements TokenService {
  readonly resource: string;
  private readonly grantWorkspaces: Collection<GrantWorkspaceDoc>;
  private readonly models: Collection<OidcModelDoc>;
  private readonly revokedJtis: Collection<RevokedJtiDoc>;
  private readonly dpopProofs: Collection<RevokedJtiDoc>;

  private readonly graceSeconds: number;

  constructor(private readonly d: TokenServiceDeps) {
    this.graceSeconds = d.refreshReuseGraceSeconds ?? 0;
    this.resource = apiResource(d.issuer);
    this.grantWorkspaces = d.storage.collection<GrantWorkspaceDoc>(GRANT_WORKSPACES);
    this.models = d.storage.collection<OidcModelDoc>(OIDC_MODELS);
    this.revokedJtis = d.storage.collection<RevokedJtiDoc>(REVOKED_JTIS);
    this.dpopProofs = d.storage.collection<RevokedJtiDoc>(DPOP_PROOFS);
  }

  async issueForUser(input: { userId: string; workspaceId: string; scopes?: string[] }): Promise<TokenPair> {
    const [ws, member, user] = await Promise.all([
      this.d.workspaces.get(input.workspaceId),
      this.d.workspaces.membership(input.workspaceId, input.userId),
      this.d.accounts.getUser(input.userId),
    ]);
    if (!ws) throw httpErrors.notFound('workspace');
    // Tokens for a workspace only to its members (refresh checks the same, every time).
    if (!member || !user || user.disabled)
      throw new AppError(
        403,
        'not_a_member',
        'Tokens for a workspace are issued to its active members only.',
      );
    const { Grant } = this.d.provider;
    const scope = [...new Set(input.scopes ?? [])].join(' ');
    const grant = new Grant({
      accountId: input.userId,
      clientId: FIRST_PARTY_CLIENT_ID,
      expiresIn: ws.settings.refreshTokenTtl,
    } as never);
    grant.addOIDCScope('openid offline_access');
    if (scope) grant.addResourceScope(this.resource, scope);
    const grantId = await grant.save();
    const now = this.d.clock.now();
    await this.grantWorkspaces.put({
      id: grantId,
      workspaceId: ws.id,
      userId: input.userId,
      expiresAt: new Date(now.getTime() + ws.settings.refreshTokenTtl * SEC),
    });
    return this.mint({ ws, userId: input.userId, grantId, scope, iiat: epoch(now), rotations: 0 });
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const { RefreshToken } = this.d.provider;
    const rt =
      typeof refreshToken === 'string' && refreshToken.length <= 200
        ? await RefreshToken.find(refreshToken, { ignoreExpiration: true })
        : undefined;
    if (!rt || rt.clientId !== FIRST_PARTY_CLIENT_ID || !rt.grantId)
      throw invalidGrant('The refresh token is not valid.');
    if (rt.isExpired) throw invalidGrant('The refresh token has expired; sign in again.');
    const docId = `RefreshToken:${rt.jti}`;
    const reuse = async (): Promise<TokenPair> => {
      const again = await this.withinGrace(docId);
      if (again) return again;
      await this.revokeGrant(rt.grantId!);
      throw invalidGrant('The refresh token was already used; every token of this sign-in is now revoked.');
    };
    if (rt.consumed) return reuse();
    // Atomic: of two requests presenting the same token, exactly one consumes it.
    const consumed = await this.models.update(
      { id: docId, consumed: { $exists: false } },
      { set: { consumed: epoch(this.d.clock.now()) } },
    );
    if (!consumed) return reuse();
    const [grant, link] = await Promise.all([
      this.d.provider.Grant.find(rt.grantId),
      this.grantWorkspaces.get(rt.grantId),
    ]);
    const [ws, member, user] = link
      ? await Promise.all([
          this.d.workspaces.get(link.workspaceId),
          this.d.workspaces.membership(link.workspaceId, link.userId),
          this.d.accounts.getUser(link.userId),
        ])
      : [null, null, null];
    if (!grant || !link || !ws || !member || !user || user.disabled || link.userId !== rt.accountId) {
      await this.revokeGrant(rt.grantId);
      throw invalidGrant('This sign-in is no longer valid; sign in again.');
    }
    const pair = await this.mint({
      ws,
      userId: link.userId,
      grantId: rt.grantId,
      scope: grant.resources?.[this.resource] ?? '',
      iiat: rt.iiat ?? epoch(this.d.clock.now()),
      rotations: (rt.rotations ?? 0) + 1,
    });
    if (this.graceSeconds > 0)
      await this.models.update({ id: docId }, { set: { successor: JSON.stringify(pair) } });
    return pair;
  }

  /**
   * DESIGN "known traps": two tabs refreshing at once must not sign the user out. Inside the grace
   * window after a refresh token was spent, presenting it again answers the same new pair (while
   * that pair's refresh token is itself unspent); outside it, or with the window at 0 (the
   * default), reuse revokes the family. The successor is kept on the spent token's own document,
   * which expires with it; opaque refresh tokens are stored by value anyway.
   */
  private async withinGrace(docId: string): Promise<TokenPair | undefined> {
    if (this.graceSeconds <= 0) return undefined;
    for (let wait = 0; wait < 20; wait++) {
      const doc = await this.models.get(docId);
      const now = epoch(this.d.clock.now());
      if (!doc?.consumed || now - doc.consumed > this.graceSeconds) return undefined;
      if (doc.successor) {
        const pair = JSON.parse(doc.successor) as TokenPair;
        const next = await this.models.get(`RefreshToken:${pair.refresh_token}`);
        return next && !next.consumed ? pair : undefined;
      }
      // The winning request is still minting the pair: wait for it (at most a second).
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  }

  async revokeRefreshToken(refreshToken: string): Promise<void> {
    if (typeof refreshToken !== 'string' || refreshToken.length > 200) return;
    const rt = await this.d.provider.RefreshToken.find(refreshToken, { ignoreExpiration: true });
    if (rt?.grantId) await this.revokeGrant(rt.grantId);
  }

  /** The one revocation path: refresh tokens, codes and stored access tokens of the grant, then the grant. */
  async revokeGrant(grantId: string): Promise<void> {
    const { provider } = this.d;
    await Promise.all([
      provider.AccessToken.revokeByGrantId(grantId),
      provider.RefreshToken.revokeByGrantId(grantId),
      provider.AuthorizationCode.revokeByGrantId(grantId),
    ]);
    await provider.Grant.adapter.destroy(grantId);
    await this.grantWorkspaces.delete({ id: grantId });
  }

  /** Everything a deleted client held: grants, codes, refresh tokens, sessions' stored tokens. */
  async revokeClient(clientId: string): Promise<void> {
    await this.models.delete({ clientId });
  }

  /** Revokes one grant-less JWT access token (client_credentials) until it would have expired. */
  async denyJti(jti: string, exp: number): Promise<void> {
    await this.revokedJtis.put({ id: jti, expiresAt: new Date(exp * SEC) });
  }

  /**
   * For a Bearer presentation: a sender-constrained token (DPoP `cnf.jkt`, RFC 9449 §7.1) is
   * refused, since its bearer alone does not prove possession of the key.
   */
  async verifyAccessToken(jwt: string, audience?: string): Promise<VerifiedAccessToken> {
    const { token, bound } = await this.inspectAccessToken(jwt, audience);
    if (bound)
      throw tokenError(
        'invalid_token',
        'This access token is bound to a DPoP key; present it with a DPoP proof.',
      );
    return token;
  }

  /**
   * For `Authorization: DPoP <token>` with a `DPoP: <proof>` header (RFC 9449 §7.1): the token's
   * checks, then the proof's (§4.3): typ dpop+jwt, an asymmetric signature by the embedded public
   * key, htm/htu of this request, a fresh iat, `ath` of this token, the key's thumbprint equal to
   * the token's `cnf.jkt`, and a jti never seen before.
   */
  async verifyDpopAccessToken(
    jwt: string,
    dpop: DpopPresentation,
    audience?: string,
  ): Promise<VerifiedAccessToken> {
    const { token, jkt } = await this.inspectAccessToken(jwt, audience);
    if (!jkt) throw tokenError('invalid_token', 'This access token is not DPoP-bound; present it as Bearer.');
    await verifyDpopProof(
      {
        proofs: this.dpopProofs,
        clock: this.d.clock,
        refuse: (why) => tokenError('invalid_token', `The DPoP proof is not valid: ${why}.`),
      },
      dpop,
      jwt,
      jkt,
    );
    return token;
  }

  /** Every check but the presentation's: signature, issuer, audience, type, lifetime, revocation. */
  async inspectAccessToken(
    jwt: string,
    audience?: string,
  ): Promise<{ token: VerifiedAccessToken; bound: boolean; jkt?: string }> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(jwt, this.d.ring.jwks(), {
        issuer: this.d.issuer,
        audience: audience ?? this.resource,
        typ: 'at+jwt',
        algorithms: ['ES256', 'RS256'],
        currentDate: this.d.clock.now(),
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired)
        throw tokenError('token_expired', 'The access token has expired.');
      throw tokenError('invalid_token', 'The access token is not valid.');
    }
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const jti = str(payload.jti)!;
    const clientId = str(payload.client_id)!;
    const grantId = str(payload.gid);
    const workspaceId = str(payload.workspace_id);
    let scopes = (str(payload.scope) ?? '').split(' ').filter(Boolean);
    if (grantId) await this.checkUserToken(grantId, str(payload.sub)!, workspaceId);
    else scopes = await this.checkGrantlessToken(payload, jti, clientId, scopes);
    const cnf = payload.cnf as Record<string, unknown> | undefined;
    const token: VerifiedAccessToken = {
      sub: str(payload.sub)!,
      clientId,
      scopes,
      jti,
      exp: payload.exp as number,
      ...(workspaceId ? { workspaceId } : {}),
      ...(grantId ? { grantId } : {}),
    };
    const jkt = typeof cnf?.jkt === 'string' ? cnf.jkt : undefined;
    return { token, bound: !!cnf && Object.keys(cnf).length > 0, ...(jkt ? { jkt } : {}) };
  }

  /**
   * A user's token (grant-backed) holds while its grant does, its user exists and is not disabled,
   * and, when it names a workspace, the user is still a member of it: disabling a user or removing
   * a member ends their tokens at the next request. Read fresh (three lookups by id, in parallel),
   * never memoised, like the grant itself.
   */
  private async checkUserToken(grantId: string, sub: string, workspaceId: string | undefined): Promise<void> {
    const [grant, user, member] = await Promise.all([
      this.models.get(`Grant:${grantId}`),
      this.d.accounts.getUser(sub),
      workspaceId ? this.d.workspaces.membership(workspaceId, sub) : true,
    ]);
    if (!grant) throw tokenError('token_revoked', 'The access token was revoked.');
    if (!user || user.disabled)
      throw tokenError('token_revoked', 'The account behind this access token is disabled or gone.');
    if (!member)
      throw tokenError('token_revoked', 'The account behind this access token left the workspace.');
  }

  /**
   * A grant-less (client_credentials) token holds while it is not deny-listed, its client or key is
   * still active, and the secret it was minted with still authenticates that holder (a rotation
   * ends it once any grace period is over). A key's token keeps only the scopes the key holds now.
   */
  private async checkGrantlessToken(
    payload: Record<string, unknown>,
    jti: string,
    clientId: string,
    scopes: string[],
  ): Promise<string[]> {
    const [denied, holder] = await Promise.all([this.revokedJtis.get(jti), this.d.grantlessHolder(clientId)]);
    if (denied || !holder) throw tokenError('token_revoked', 'The access token was revoked.');
    const cgen = payload[CREDENTIAL_GENERATION_CLAIM];
    const iat = payload.iat as number;
    const rotatedOut =
      typeof cgen === 'string'
        ? !holder.generations.includes(cgen)
        : !!holder.rotatedAt && iat < epoch(holder.rotatedAt);
    if (rotatedOut)
      throw tokenError('token_revoked', 'The secret this access token was issued with has been rotated.');
    if (holder.scopes === 'all') return scopes;
    const held = new Set(holder.scopes);
    return scopes.filter((s) => held.has(s));
  }

  private async mint(m: {
    ws: Workspace;
    userId: string;
    grantId: string;
    scope: string;
    iiat: number;
    rotations: number;
  }): Promise<TokenPair> {
    const { provider } = this.d;
    const client = await provider.Client.find(FIRST_PARTY_CLIENT_ID);
    if (!client) throw new Error('the first-party client is missing');
    const now = epoch(this.d.clock.now());
    const remaining = m.iiat + m.ws.settings.refreshTokenTtl - now;
    if (remaining <= 0) throw invalidGrant('The refresh token has expired; sign in again.');
    const rt = new provider.RefreshToken({
      client,
      accountId: m.userId,
      grantId: m.grantId,
      gty: 'password',
      scope: `openid offline_access${m.scope ? ` ${m.scope}` : ''}`,
      resource: this.resource,
      iiat: m.iiat,
      rotations: m.rotations,
      expiresIn: remaining,
    } as never);
    const at = new provider.AccessToken({
      client,
      accountId: m.userId,
      grantId: m.grantId,
      gty: 'password',
      scope: m.scope || undefined,
      expiresIn: m.ws.settings.accessTokenTtl,
    } as never);
    at.resourceServer = new (provider as unknown as { ResourceServer: ResourceServerCtor }).ResourceServer(
      this.resource,
      {
        scope: m.scope,
        audience: this.resource,
        accessTokenTTL: m.ws.settings.accessTokenTtl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: ACCESS_TOKEN_ALG } },
      },
    );
    (at as unknown as Record<symbol, string>)[WORKSPACE_HINT] = m.ws.id;
    const [accessToken, refreshToken] = await Promise.all([at.save(), rt.save()]);
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: m.ws.settings.accessTokenTtl,
      refresh_token: refreshToken,
      scope: m.scope,
    };
  }
}
