/**
 * A minimal browser over fetch for the interaction tests: a cookie jar that honours Path and
 * expiry, manual redirects, and helpers to read our forms. Only for one host (the test server).
 */
interface Cookie {
  name: string;
  value: string;
  path: string;
  expires?: number;
}

export interface Page {
  status: number;
  url: string;
  location?: string;
  headers: Headers;
  html: string;
}

export class HttpBrowser {
  private cookies: Cookie[] = [];

  constructor(private readonly origin: string) {}

  async get(url: string): Promise<Page> {
    return this.request('GET', url);
  }

  async post(url: string, form: Record<string, string>): Promise<Page> {
    return this.request('POST', url, new URLSearchParams(form).toString());
  }

  /** Follows redirects on our origin; stops at the first one that leaves it (the client's callback). */
  async follow(page: Page, max = 10): Promise<Page> {
    let p = page;
    for (let i = 0; i < max && p.location && p.status >= 300 && p.status < 400; i++) {
      const next = new URL(p.location, p.url);
      if (next.origin !== this.origin) return p;
      p = await this.get(next.toString());
    }
    return p;
  }

  cookieNames(): string[] {
    return this.live().map((c) => c.name);
  }

  private live(): Cookie[] {
    const now = Date.now();
    this.cookies = this.cookies.filter((c) => c.expires === undefined || c.expires > now);
    return this.cookies;
  }

  private async request(method: string, url: string, body?: string): Promise<Page> {
    const u = new URL(url, this.origin);
    const cookie = this.live()
      .filter(
        (c) => u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`),
      )
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
    const res = await fetch(u, {
      method,
      redirect: 'manual',
      headers: {
        accept: 'text/html',
        ...(cookie ? { cookie } : {}),
        ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body,
    });
    for (const line of res.headers.getSetCookie()) this.store(line, u.pathname);
    const location = res.headers.get('location') ?? undefined;
    return { status: res.status, url: u.toString(), location, headers: res.headers, html: await res.text() };
  }

  private store(line: string, requestPath: string): void {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq);
    const value = pair!.slice(eq + 1);
    let path = requestPath.replace(/\/[^/]*$/, '') || '/';
    let expires: number | undefined;
    for (const a of attrs) {
      const [k, v = ''] = a.split('=');
      const key = k!.toLowerCase();
      if (key === 'path') path = v;
      if (key === 'expires') expires = Date.parse(v);
      if (key === 'max-age') expires = Date.now() + Number(v) * 1000;
    }
    this.cookies = this.cookies.filter((c) => !(c.name === name && c.path === path));
    if (value && (expires === undefined || expires > Date.now()))
      this.cookies.push({ name, value, path, expires });
  }
}

/** The value of a hidden/visible input in a page, by name. */
export function inputValue(html: string, name: string): string | undefined {
  const m = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`).exec(html);
  return m?.[1];
}

export function formAction(html: string, contains: string): string | undefined {
  const m = new RegExp(`action="([^"]*${contains}[^"]*)"`).exec(html);
  return m?.[1];
}
