import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import { renderPage } from './views.ts';

/**
 * The pages oidc-provider renders itself, through its configuration hooks: `renderError`,
 * `features.rpInitiatedLogout.logoutSource` and `.postLogoutSuccessSource`. They show our design
 * and never a stack trace: only the protocol error code, its public description and a request id
 * that matches our logs.
 */

interface ErrorCopy {
  heading: string;
  message: string;
  hint?: string;
}

const BACK = 'Go back to the app you came from and start signing in again.';

const ERROR_COPY: Record<string, ErrorCopy> = {
  invalid_request: {
    heading: 'This sign-in link is not valid',
    message: 'The app sent an incomplete or malformed request.',
    hint: BACK,
  },
  invalid_client: {
    heading: 'This app is not recognised',
    message: 'The app asking you to sign in is not registered here.',
  },
  unauthorized_client: {
    heading: 'This app is not allowed to do that',
    message: 'The app asked for something it is not registered for.',
  },
  invalid_redirect_uri: {
    heading: 'This app is not set up correctly',
    message: 'The address the app wants to send you back to is not registered.',
  },
  invalid_scope: {
    heading: 'This app asked for unknown permissions',
    message: 'The request names permissions that do not exist here.',
  },
  invalid_target: {
    heading: 'This app asked for an unknown API',
    message: 'The request names an API that does not exist here.',
  },
  unsupported_response_type: {
    heading: 'This sign-in link is not valid',
    message: 'The app asked for a kind of response that is not supported.',
  },
  access_denied: { heading: 'Access was denied', message: 'The request was not allowed.', hint: BACK },
  session_not_found: {
    heading: 'Your sign-in session has expired',
    message: 'This sign-in page is no longer valid, or it was opened in another browser.',
    hint: BACK,
  },
  invalid_csrf: {
    heading: 'This form has expired',
    message: 'For your security, the form could not be accepted. Please try again.',
  },
  not_found: { heading: 'Page not found', message: 'There is nothing at this address.' },
  server_error: {
    heading: 'Something went wrong on our side',
    message: 'The error was logged. Please try again in a moment.',
    hint: 'If it keeps happening, tell your administrator the request id below.',
  },
};

export function requestIdOf(ctx: Context): string {
  const id = (ctx.state as { requestId?: unknown }).requestId;
  if (typeof id === 'string' && id) return id;
  const header = ctx.response.get('X-Request-Id');
  return typeof header === 'string' && header ? header : randomUUID();
}

/** Codes whose page copy already says everything; a description would only repeat it. */
const SELF_EXPLAINING = new Set(['invalid_csrf', 'session_not_found', 'not_found']);

export interface ErrorPage {
  status: number;
  error: string;
  /** Shown only when the error is not a server error: protocol descriptions are written for people. */
  description?: string;
  /** A way forward, when there is one (e.g. back to the still-valid sign-in step). Same-origin paths only. */
  action?: { href: string; label: string };
}

export function renderErrorPage(ctx: Context, e: ErrorPage): void {
  const code = /^[a-z0-9_]{1,64}$/.test(e.error) ? e.error : 'server_error';
  const copy = ERROR_COPY[code] ?? {
    heading: e.status >= 500 ? ERROR_COPY.server_error!.heading : 'We could not complete this request',
    message: e.status >= 500 ? ERROR_COPY.server_error!.message : 'The request could not be processed.',
    hint: BACK,
  };
  const showDescription =
    e.status < 500 &&
    code !== 'server_error' &&
    !SELF_EXPLAINING.has(code) &&
    typeof e.description === 'string';
  renderPage(
    ctx,
    'error',
    {
      title: copy.heading,
      heading: copy.heading,
      message: copy.message,
      hint: copy.hint,
      code,
      description: showDescription ? e.description!.slice(0, 300) : undefined,
      action: e.action && /^\/(?!\/)/.test(e.action.href) ? e.action : undefined,
      requestId: requestIdOf(ctx),
    },
    { status: e.status },
  );
}

/** oidc-provider's `renderError`: it has already set ctx.status. */
export async function renderError(ctx: KoaContextWithOIDC, out: ErrorOut, _error: Error): Promise<void> {
  const status = Math.max(ctx.status, 400);
  renderErrorPage(ctx as unknown as Context, {
    status,
    error: out.error,
    description: out.error_description,
  });
}

function clientName(ctx: KoaContextWithOIDC): string | undefined {
  const client = ctx.oidc.client;
  return client ? (client.clientName ?? client.clientId) : undefined;
}

/** `features.rpInitiatedLogout.logoutSource`: `form` is the provider's hidden form with its own xsrf token. */
export async function logoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void> {
  const params = ctx.oidc.params as { post_logout_redirect_uri?: unknown } | undefined;
  const target =
    typeof params?.post_logout_redirect_uri === 'string' ? params.post_logout_redirect_uri : undefined;
  renderPage(
    ctx as unknown as Context,
    'logout',
    { title: 'Sign out', clientName: clientName(ctx), form },
    { redirectTargets: [target] },
  );
}

/** `features.rpInitiatedLogout.postLogoutSuccessSource`: shown when the client gave no post-logout redirect. */
export async function postLogoutSuccessSource(ctx: KoaContextWithOIDC): Promise<void> {
  renderPage(ctx as unknown as Context, 'logged-out', { title: 'Signed out', clientName: clientName(ctx) });
}
