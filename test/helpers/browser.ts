// A small HTTP "browser" for sign-in tests: real requests over loopback, a cookie jar (cookies
// are per host, not per port, as in browsers), redirects followed one by one so a test can look
// at or tamper with each hop.
export interface Page {
  status: number;
  url: string;
  text: string;
  headers: Headers;
}

interface Cookie {
  value: string;
  path: string;
}

export class Browser {
  private jar = new Map<string, Map<string, Cookie>>();
  /** the URLs visited, in order (redirects included) */
  readonly visited: string[] = [];

  cookies(url: string): Map<string, string> {
    const u = new URL(url);
    const out = new Map<string, string>();
    for (const [name, c] of this.jar.get(u.hostname) ?? []) if (u.pathname.startsWith(c.path)) out.set(name, c.value);
    return out;
  }

  private store(url: string, res: Response): void {
    const u = new URL(url);
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let gone = false;
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        if (k.toLowerCase() === 'path') path = v || '/';
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) gone = true;
        if (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) gone = true;
      }
      const jar = this.jar.get(u.hostname) ?? new Map<string, Cookie>();
      this.jar.set(u.hostname, jar);
      if (gone) jar.delete(name);
      else jar.set(name, { value, path });
    }
  }

  /** One request, no redirect following. */
  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
    this.visited.push(url);
    const cookie = [...this.cookies(url)].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, {
      method,
      redirect: 'manual',
      headers: {
        ...(cookie && { cookie }),
        ...(form && { 'content-type': 'application/x-www-form-urlencoded' }),
        ...headers,
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    this.store(url, res);
    return { status: res.status, url, text: await res.text(), headers: res.headers };
  }

  /**
   * GETs url and follows redirects. `stopAt(url)` true: stop before requesting that URL and
   * return it as a 0-status page (to capture or tamper with a hop). `rewrite(url)` may change a
   * URL before it is requested.
   */
  async browse(url: string, o: { stopAt?: (url: string) => boolean; rewrite?: (url: string) => string } = {}): Promise<Page> {
    let next = url;
    for (let hops = 0; hops < 20; hops++) {
      next = o.rewrite?.(next) ?? next;
      if (o.stopAt?.(next)) return { status: 0, url: next, text: '', headers: new Headers() };
      const page = await this.request('GET', next);
      const location = page.headers.get('location');
      if (page.status < 300 || page.status >= 400 || !location) return page;
      next = new URL(location, next).href;
    }
    throw new Error(`too many redirects from ${url}`);
  }

  /** Posts a form the way a browser does from a page of the same origin, then follows redirects. */
  async submit(url: string, form: Record<string, string>, o: Parameters<Browser['browse']>[1] = {}): Promise<Page> {
    const origin = new URL(url).origin;
    const page = await this.request('POST', url, form, { origin, 'sec-fetch-site': 'same-origin' });
    const location = page.headers.get('location');
    if (page.status < 300 || page.status >= 400 || !location) return page;
    return this.browse(new URL(location, url).href, o);
  }
}

/** The value of a hidden form field on a page. */
export function field(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no field ${name} on the page:\n${html.slice(0, 2000)}`);
  return m[1];
}

/** The action of the first form on a page (the IdP's login form). */
export function formAction(html: string, base: string): string {
  const m = /<form[^>]*action="([^"]*)"/.exec(html);
  if (!m) throw new Error(`no form on the page:\n${html.slice(0, 2000)}`);
  return new URL(m[1].replace(/&amp;/g, '&'), base).href;
}
