import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Context } from 'koa';
import { pageSecurityHeaders } from './headers.ts';

/**
 * Server-rendered pages: Eta templates under views/ (escaped by default: `<%= %>` escapes
 * & < > " ', only `<%~ %>` is raw and is used for the layout body and the provider's own logout form).
 * Resolved from this file so that src/ (tsx) and dist/ (compiled) both find views/ at the root.
 */
const VIEWS_DIR = fileURLToPath(new URL('../../views', import.meta.url));

export const PRODUCT_NAME = 'Gatehouse';

const eta = new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true, autoTrim: false });

interface Asset {
  body: Buffer;
  type: string;
  href: string;
}

function asset(file: string, type: string): Asset {
  const body = readFileSync(`${VIEWS_DIR}/assets/${file}`);
  const version = createHash('sha256').update(body).digest('hex').slice(0, 12);
  // The content hash in the URL lets browsers cache it for long without serving stale styles.
  return { body, type, href: `/assets/${file}?v=${version}` };
}

export const ASSETS: Record<string, Asset> = {
  'gatehouse.css': asset('gatehouse.css', 'text/css; charset=utf-8'),
  'favicon.svg': asset('favicon.svg', 'image/svg+xml'),
};

export interface RenderOptions {
  status?: number;
  /** Redirect URIs the page's forms may end up at (CSP form-action). */
  redirectTargets?: (string | undefined)[];
}

export type PageName = 'login' | 'consent' | 'logout' | 'logged-out' | 'error';

/** Renders a page into ctx with our security headers. */
export function renderPage(
  ctx: Context,
  page: PageName,
  data: Record<string, unknown>,
  opts: RenderOptions = {},
): void {
  const html = eta.render(page, {
    product: PRODUCT_NAME,
    stylesheet: ASSETS['gatehouse.css']!.href,
    favicon: ASSETS['favicon.svg']!.href,
    ...data,
  });
  ctx.status = opts.status ?? 200;
  for (const [k, v] of Object.entries(pageSecurityHeaders(opts.redirectTargets))) ctx.set(k, v);
  ctx.type = 'html';
  ctx.body = html;
}
