import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { errors, type Interaction } from 'oidc-provider';
import type { Container } from '../container.ts';
import { AppError } from '../http/errors.ts';
import { StorageUnavailableError } from '../storage/index.ts';
import { grantConsent } from './consent.ts';
import { CSRF_FIELD, CsrfGuard, deriveCsrfKeys } from './csrf.ts';
import { type FormError, passwordAllowed, signIn, signInError } from './login.ts';
import { loginHint, pageContext, showConsent, showLogin } from './page-steps.ts';
import { renderErrorPage } from './pages.ts';
import { ASSETS } from './views.ts';

/**
 * The interaction pages: GET /interaction/:uid shows sign-in or consent for the provider's pending
 * prompt; the form POSTs (CSRF-checked) finish the interaction and send the browser back to
 * /auth/:uid. The only caller of interactionDetails / interactionResult.
 */
export function interactionRoutes(c: Container): Router {
  const router = new Router();
  const csrf = new CsrfGuard(deriveCsrfKeys(cookieSecrets(c)));
  const form = bodyParser({
    enableTypes: ['form'],
    formLimit: '16kb',
    onError: () => {
      throw new AppError(400, 'invalid_request', 'The form could not be read.');
    },
  });

  router.get('/assets/:file', (ctx) => {
    const name = ctx.params.file ?? '';
    const a = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!a) return;
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.type = a.type;
    ctx.body = a.body;
  });

  router.use('/interaction/:uid', pageErrors(c));

  router.get('/interaction/:uid', async (ctx) => {
    const it = await details(c, ctx);
    const page = await pageContext(c, it);
    switch (it.prompt.name) {
      case 'login':
        return showLogin(
          ctx,
          it,
          page,
          csrf.issue(ctx, it.uid),
          loginHint(it),
          passwordAllowed(page.workspace) ? undefined : signInError('password_off', page.workspace),
        );
      case 'consent': {
        const accountId = it.session?.accountId;
        // A session made for another workspace's app must not pass through consent into this one;
        // and every session today comes from a password sign-in, so it must not carry into an app
        // of a workspace that does not allow password sign-in (an SSO-only workspace).
        const refused =
          !accountId || !(await c.workspaces.membership(page.workspaceId, accountId))
            ? 'not_member'
            : passwordAllowed(page.workspace)
              ? undefined
              : 'password_off';
        if (refused || !accountId) {
          const why = signInError(refused ?? 'not_member', page.workspace);
          return showLogin(ctx, it, page, csrf.issue(ctx, it.uid), '', why);
        }
        // "Not you?": sign in with another account inside the same interaction. oidc-provider ends
        // the old session when the login result names another account (authorization/resume.js).
        if (ctx.query.switch === '1') return showLogin(ctx, it, page, csrf.issue(ctx, it.uid), '');
        return showConsent(c, ctx, it, page, accountId, csrf.issue(ctx, it.uid));
      }
      default:
        throw new AppError(400, 'invalid_request', `Unsupported prompt ${it.prompt.name}.`);
    }
  });

  router.post('/interaction/:uid/login', form, requireCsrf(csrf), async (ctx) => {
    const it = await details(c, ctx);
    if (it.prompt.name !== 'login' && it.prompt.name !== 'consent') {
      throw new AppError(400, 'invalid_request', 'This step does not take a sign-in.');
    }
    const page = await pageContext(c, it);
    const body = formBody(ctx);
    const email = typeof body.email === 'string' ? body.email.trim().slice(0, 254) : '';
    const again = (error: FormError) => showLogin(ctx, it, page, csrf.issue(ctx, it.uid), email, error);
    if (!passwordAllowed(page.workspace)) return again(signInError('password_off', page.workspace));
    const limited = await loginLimited(c, ctx, body);
    if (limited) {
      again(signInError('rate_limited', page.workspace, limited.retryAfter));
      ctx.status = 429;
      ctx.set('Retry-After', String(limited.retryAfter));
      return;
    }
    const outcome = await signIn(c, body.email, body.password, page.workspaceId);
    if (!outcome.ok) return again(signInError(outcome.reason, page.workspace));
    const result = { login: { accountId: outcome.user.id } };
    return finish(
      ctx,
      await c.provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }),
    );
  });

  router.post('/interaction/:uid/confirm', form, requireCsrf(csrf), async (ctx) => {
    const it = await details(c, ctx);
    if (it.prompt.name !== 'consent')
      throw new AppError(400, 'invalid_request', 'There is nothing to consent to.');
    const page = await pageContext(c, it);
    const accountId = it.session?.accountId;
    if (!accountId || !(await c.workspaces.membership(page.workspaceId, accountId))) {
      throw new AppError(403, 'access_denied', 'Your account does not have access to this app.');
    }
    if (!passwordAllowed(page.workspace)) {
      throw new AppError(403, 'access_denied', "This app's workspace does not allow password sign-in.");
    }
    const result = await grantConsent(c.provider, it, accountId);
    return finish(
      ctx,
      await c.provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true }),
    );
  });

  router.post('/interaction/:uid/abort', form, requireCsrf(csrf), async (ctx) => {
    await details(c, ctx);
    const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    return finish(
      ctx,
      await c.provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }),
    );
  });

  return router;
}

/** The provider's cookie keys (configured, or generated and stored): one secret set for every cookie we sign. */
function cookieSecrets(c: Container): string[] {
  const keys = (c.provider as unknown as { keys?: unknown }).keys;
  if (Array.isArray(keys) && keys.every((k) => typeof k === 'string') && keys.length > 0) return keys;
  throw new Error('oidc-provider has no cookie keys configured; interaction CSRF protection needs them');
}

function formBody(ctx: Context): Record<string, unknown> {
  const body = (ctx.request as { body?: unknown }).body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

function requireCsrf(csrf: CsrfGuard) {
  return async (ctx: Context & { params: Record<string, string> }, next: Next) => {
    if (!csrf.check(ctx, ctx.params.uid ?? '', formBody(ctx)[CSRF_FIELD])) {
      throw new AppError(403, 'invalid_csrf', 'The form could not be accepted.');
    }
    await next();
  };
}

/**
 * The login API's limits (src/auth/rate-limits.ts), in the same buckets: 60/min per IP and 15/min
 * per email, over the page and the API together, so neither doubles a guesser's budget. Every
 * attempt that would check a password counts, whatever its outcome.
 */
async function loginLimited(
  c: Container,
  ctx: Context,
  body: Record<string, unknown>,
): Promise<{ retryAfter: number } | undefined> {
  const { email, password } = body;
  if (typeof email !== 'string' || !email.trim() || typeof password !== 'string' || !password)
    return undefined;
  try {
    await c.authLimits.login(ctx.ip, email.trim());
    return undefined;
  } catch (err) {
    if (err instanceof AppError && err.status === 429) {
      const retryAfter = Number(err.extra.retry_after);
      return { retryAfter: Number.isFinite(retryAfter) && retryAfter > 0 ? Math.ceil(retryAfter) : 60 };
    }
    throw err;
  }
}

/** The pending interaction, which must be the one named in the URL (the provider finds it by cookie). */
async function details(
  c: Container,
  ctx: Context & { params: Record<string, string> },
): Promise<Interaction> {
  const it = await c.provider.interactionDetails(ctx.req, ctx.res);
  if (it.uid !== ctx.params.uid) throw new errors.SessionNotFound('interaction uid mismatch');
  return it;
}

/** 303 back to the provider's /auth/:uid (POST → GET). */
function finish(ctx: Context, returnTo: string): void {
  ctx.redirect(returnTo);
  ctx.status = 303;
  ctx.set('Cache-Control', 'no-store');
}

/** Every failure on these routes becomes our HTML error page, never JSON or a stack trace. */
function pageErrors(c: Container) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof errors.SessionNotFound) {
        return renderErrorPage(ctx, { status: 400, error: 'session_not_found' });
      }
      if (err instanceof AppError && err.status < 500) {
        // A refused form leaves the interaction intact: offer the way back to its page.
        const uid = /^\/interaction\/([A-Za-z0-9_-]{1,64})\//.exec(ctx.path)?.[1];
        const action =
          err.code === 'invalid_csrf' && uid
            ? { href: `/interaction/${uid}`, label: 'Try again' }
            : undefined;
        return renderErrorPage(ctx, {
          status: err.status,
          error: err.code,
          description: err.message,
          action,
        });
      }
      if (err instanceof StorageUnavailableError) {
        return renderErrorPage(ctx, { status: 503, error: 'server_error' });
      }
      c.logger.error({ err, requestId: ctx.state.requestId, path: ctx.path }, 'interaction failed');
      renderErrorPage(ctx, { status: 500, error: 'server_error' });
    }
  };
}
