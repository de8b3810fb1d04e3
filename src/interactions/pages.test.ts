import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import Koa, { type Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import { logoutSource, postLogoutSuccessSource, renderError, renderErrorPage } from './pages.ts';
import { renderPage } from './views.ts';

function fakeCtx(oidc: Record<string, unknown> = {}): Context {
  const req = new IncomingMessage(new Socket());
  req.headers = { host: 'id.example.com' };
  const ctx = new Koa().createContext(req, new ServerResponse(req));
  ctx.state.requestId = 'req-123';
  (ctx as unknown as { oidc: unknown }).oidc = oidc;
  return ctx;
}

const body = (ctx: Context) => String(ctx.body);

describe('rendered pages', () => {
  it('escape everything that comes from clients and users', () => {
    const ctx = fakeCtx();
    renderPage(ctx, 'login', {
      title: 'Sign in',
      clientName: '<script>alert(1)</script>',
      email: '"><img src=x onerror=alert(1)>',
      csrf: 't',
      actions: { login: '/interaction/u/login', abort: '/interaction/u/abort' },
    });
    expect(body(ctx)).not.toContain('<script>alert(1)');
    expect(body(ctx)).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(body(ctx)).not.toContain('"><img');
  });

  it('carry the security headers and a usable sign-in form', () => {
    const ctx = fakeCtx();
    renderPage(
      ctx,
      'login',
      {
        title: 'Sign in',
        clientName: 'Acme',
        email: '',
        csrf: 'tok',
        actions: { login: '/interaction/u/login', abort: '/interaction/u/abort' },
      },
      { redirectTargets: ['https://app.example.com/cb'] },
    );
    expect(ctx.status).toBe(200);
    expect(ctx.response.get('Content-Security-Policy')).toContain(
      "form-action 'self' https://app.example.com",
    );
    expect(ctx.response.get('Cache-Control')).toBe('no-store');
    const html = body(ctx);
    expect(html).toContain('<label for="email">');
    expect(html).toContain('autocomplete="username"');
    expect(html).toContain('autocomplete="current-password"');
    expect(html).toContain('<button type="submit" class="btn btn-primary btn-block">Sign in</button>');
    expect(html).toContain('name="csrf" value="tok"');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/style="/i);
  });

  it('show an error page with code and request id, never a stack or a server detail', () => {
    const ctx = fakeCtx();
    renderErrorPage(ctx, { status: 500, error: 'server_error', description: 'TypeError at foo.js:12' });
    expect(ctx.status).toBe(500);
    expect(body(ctx)).toContain('Something went wrong on our side');
    expect(body(ctx)).toContain('req-123');
    expect(body(ctx)).not.toContain('foo.js');
  });

  it("render oidc-provider's errors in our design with their public description", async () => {
    const ctx = fakeCtx();
    ctx.status = 400;
    await renderError(
      ctx as unknown as KoaContextWithOIDC,
      {
        error: 'invalid_redirect_uri',
        error_description: "redirect_uri did not match any of the client's registered redirect_uris",
      },
      new Error('x'),
    );
    expect(ctx.status).toBe(400);
    expect(ctx.type).toBe('text/html');
    expect(body(ctx)).toContain('This app is not set up correctly');
    expect(body(ctx)).toContain('redirect_uri did not match');
    expect(ctx.response.get('Content-Security-Policy')).toContain("frame-ancestors 'none'");
  });

  it('offer a way forward only to a path of our own origin', () => {
    const ok = fakeCtx();
    renderErrorPage(ok, {
      status: 403,
      error: 'invalid_csrf',
      action: { href: '/interaction/abc', label: 'Try again' },
    });
    expect(body(ok)).toContain('href="/interaction/abc"');
    for (const href of ['//evil.test/x', 'https://evil.test/x', 'javascript:alert(1)']) {
      const ctx = fakeCtx();
      renderErrorPage(ctx, { status: 403, error: 'invalid_csrf', action: { href, label: 'Try again' } });
      expect(body(ctx)).not.toContain('Try again');
    }
  });

  it('never trust an error code as markup', async () => {
    const ctx = fakeCtx();
    ctx.status = 400;
    await renderError(ctx as unknown as KoaContextWithOIDC, { error: '<b>x</b>' }, new Error('x'));
    expect(body(ctx)).not.toContain('<b>x</b>');
  });

  it("render the logout confirmation around the provider's form, allowing the post-logout redirect", async () => {
    const ctx = fakeCtx({
      client: { clientId: 'app', clientName: 'Acme App' },
      params: { post_logout_redirect_uri: 'https://app.example.com/bye' },
    });
    const form =
      '<form id="op.logoutForm" method="post" action="/session/end/confirm"><input type="hidden" name="xsrf" value="s"/></form>';
    await logoutSource(ctx as unknown as KoaContextWithOIDC, form);
    const html = body(ctx);
    expect(html).toContain(form);
    expect(html).toContain('Acme App');
    expect(html).toContain('form="op.logoutForm" name="logout" value="yes"');
    expect(ctx.response.get('Content-Security-Policy')).toContain('https://app.example.com');
  });

  it('render the signed-out page', async () => {
    const ctx = fakeCtx({ client: { clientId: 'app', clientName: 'Acme App' } });
    await postLogoutSuccessSource(ctx as unknown as KoaContextWithOIDC);
    expect(body(ctx)).toContain('You are signed out');
  });
});
