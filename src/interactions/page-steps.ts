import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import type { Container } from '../container.ts';
import { AppError } from '../http/errors.ts';
import { apiResource } from '../oidc/resources.ts';
import type { Workspace } from '../workspaces/model.ts';
import { consentRequest, missingConsent } from './consent.ts';
import { type FormError, passwordAllowed } from './login.ts';
import { describeConsent } from './scopes.ts';
import { renderPage } from './views.ts';
import { clientWorkspaceId } from './workspace.ts';

/** The sign-in and consent pages of one interaction: what they show, gathered from the client and workspace. */
export interface PageContext {
  clientName: string;
  workspaceId: string;
  workspace: Workspace | null;
  redirectUri: string | undefined;
}

export async function pageContext(c: Container, it: Interaction): Promise<PageContext> {
  const client = await c.provider.Client.find(String(it.params.client_id));
  if (!client) throw new AppError(400, 'invalid_client', 'The app of this sign-in no longer exists.');
  const workspaceId = clientWorkspaceId(client);
  // Every app belongs to one workspace; one without it can sign nobody in (fail closed).
  if (!workspaceId)
    throw new AppError(400, 'unauthorized_client', 'This app is not attached to a workspace.');
  const redirectUri = typeof it.params.redirect_uri === 'string' ? it.params.redirect_uri : undefined;
  return {
    clientName: client.clientName ?? client.clientId,
    workspaceId,
    workspace: await c.workspaces.get(workspaceId),
    redirectUri,
  };
}

export function loginHint(it: Interaction): string {
  const hint = it.params.login_hint;
  return typeof hint === 'string' && hint.length <= 254 && hint.includes('@') ? hint : '';
}

function actions(uid: string) {
  const base = `/interaction/${encodeURIComponent(uid)}`;
  return {
    login: `${base}/login`,
    confirm: `${base}/confirm`,
    abort: `${base}/abort`,
    switchAccount: `${base}?switch=1`,
  };
}

export function showLogin(
  ctx: Context,
  it: Interaction,
  page: PageContext,
  token: string,
  email: string,
  error?: FormError,
) {
  renderPage(
    ctx,
    'login',
    {
      title: 'Sign in',
      clientName: page.clientName,
      workspaceName: page.workspace?.name,
      email,
      error,
      passwordOff: !passwordAllowed(page.workspace),
      csrf: token,
      actions: actions(it.uid),
    },
    { redirectTargets: [page.redirectUri] },
  );
}

export async function showConsent(
  c: Container,
  ctx: Context,
  it: Interaction,
  page: PageContext,
  accountId: string,
  token: string,
) {
  const user = await c.accounts.getUser(accountId);
  const catalogue = new Map((await c.apiKeys.scopes.list(page.workspaceId)).map((d) => [d.name, d] as const));
  const described = describeConsent(consentRequest(missingConsent(it.prompt.details)), (scope) => {
    const d = catalogue.get(scope);
    // Low-risk permissions carry no badge: a label on every line would teach people to ignore it.
    return d && { description: d.description || undefined, risk: d.risk === 'low' ? undefined : d.risk };
  });
  const ownApi = apiResource(c.config.issuer);
  const apis = described.apis.map((api) => ({
    ...api,
    label: api.resource === ownApi ? (page.workspace?.name ?? 'this workspace') : hostOf(api.resource),
  }));
  const redirectHost = page.redirectUri ? hostOf(page.redirectUri) : undefined;
  renderPage(
    ctx,
    'consent',
    {
      title: `Allow ${page.clientName}?`,
      tone: 'wide',
      clientName: page.clientName,
      clientInitial: [...page.clientName.trim()][0] ?? '?',
      workspaceName: page.workspace?.name,
      accountLabel: user?.email ?? accountId,
      identity: described.identity,
      apis,
      redirectHost,
      csrf: token,
      actions: actions(it.uid),
    },
    { redirectTargets: [page.redirectUri] },
  );
}

/** What a person recognises in a URL: its host, or the whole string when it has none (app schemes). */
function hostOf(uri: string): string {
  try {
    return new URL(uri).host || uri;
  } catch {
    return uri;
  }
}
