/**
 * A minimal browser for end-to-end sign-ins: follows redirects by hand, keeps cookies per host (RFC 6265: cookies
 * ignore the port, so two service instances on 127.0.0.1 share them, as two instances behind one host would), and
 * submits the stand-ins' login forms. It refuses to go anywhere but 127.0.0.1 and localhost.
 */
interface StoredCookie {
  value: string;
  path: string;
  expires?: number;
  /** As set; a cookie without the attribute is Lax, as Chromium and RFC 6265bis §5.6.7.1 treat it. */
  sameSite: 'strict' | 'lax' | 'none';
}

export interface Hop {
  url: string;
  status: number;
  headers: Headers;
  body: string;
  /** The names of the cookies sent with the request. */
  sentCookies: string[];
}

export class TestBrowser {
  readonly jar = new Map<string, Map<string, StoredCookie>>();
  readonly history: Hop[] = [];

  /** Rewrites a URL before it is requested (e.g. send the callback to another instance). */
  rewrite: (url: string) => string = (u) => u;

  cookies(host: string): Map<string, StoredCookie> {
    let m = this.jar.get(host);
    if (!m) this.jar.set(host, (m = new Map()));
    return m;
  }

  async request(
    url: string,
    init: {
      method?: string;
      form?: Record<string, string>;
      headers?: Record<string, string>;
      /**
       * The request comes from a page of another site (a provider's form_post page): cookies go only where SameSite
       * lets them (RFC 6265bis §5.6.7.1): None always, Lax only on a top-level GET, Strict never.
       */
      crossSite?: boolean;
    } = {},
  ): Promise<Hop> {
    const target = new URL(this.rewrite(url));
    if (target.hostname !== '127.0.0.1' && target.hostname !== 'localhost')
      throw new Error(`test browser refuses to leave this machine: ${target.href}`);
    const now = Date.now();
    const method = init.method ?? (init.form ? 'POST' : 'GET');
    const sameSiteAllows = (c: StoredCookie) =>
      !init.crossSite || c.sameSite === 'none' || (c.sameSite === 'lax' && (method === 'GET' || method === 'HEAD'));
    const sent = [...this.cookies(target.hostname)].filter(
      ([, c]) => target.pathname.startsWith(c.path) && (c.expires === undefined || c.expires > now) && sameSiteAllows(c),
    );
    const cookieHeader = sent.map(([name, c]) => `${name}=${c.value}`).join('; ');
    const headers: Record<string, string> = { 'user-agent': 'test-browser/1.0', ...(init.headers ?? {}) };
    if (cookieHeader) headers.cookie = cookieHeader;
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(target, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) this.store(target.hostname, line);
    const hop = { url: target.href, status: res.status, headers: res.headers, body: await res.text(), sentCookies: sent.map(([n]) => n) };
    this.history.push(hop);
    return hop;
  }

  /**
   * Requests `url` and follows redirects. Stops before requesting a URL for which `until` is true (returning it
   * un-fetched as `stoppedAt`), or at the first response that is not a redirect.
   */
  async follow(
    url: string,
    until: (url: string) => boolean = () => false,
    init?: Parameters<TestBrowser['request']>[1],
  ): Promise<{ stoppedAt?: string; last: Hop }> {
    let next: string | undefined = url;
    let last: Hop | undefined;
    let options = init;
    for (let i = 0; i < 20 && next; i++) {
      if (until(next)) return { stoppedAt: next, last: last! };
      last = await this.request(next, options);
      options = undefined;
      const location = last.headers.get('location');
      next = last.status >= 300 && last.status < 400 && location ? new URL(location, last.url).href : undefined;
    }
    return { last: last! };
  }

  private store(host: string, line: string): void {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    let path = '/';
    let expires: number | undefined;
    let sameSite: StoredCookie['sameSite'] = 'lax';
    for (const a of attrs) {
      const [k, v] = a.split('=');
      if (k.toLowerCase() === 'samesite' && v) sameSite = v.toLowerCase() as StoredCookie['sameSite'];
      if (k.toLowerCase() === 'path' && v) path = v;
      if (k.toLowerCase() === 'max-age') expires = Date.now() + Number(v) * 1000;
      if (k.toLowerCase() === 'expires' && expires === undefined) expires = Date.parse(v);
    }
    if (expires !== undefined && expires <= Date.now()) this.cookies(host).delete(name);
    else this.cookies(host).set(name, { value, path, expires, sameSite });
  }
}

/** The action of the form in a page whose action contains `fragment`. */
export function formAction(page: Hop, fragment: string): string {
  for (const m of page.body.matchAll(/<form[^>]*action="([^"]+)"/g)) {
    if (m[1].includes(fragment)) return new URL(m[1].replace(/&amp;/g, '&'), page.url).href;
  }
  throw new Error(`no form with action containing ${fragment} on ${page.url} (status ${page.status}): ${page.body.slice(0, 300)}`);
}

export function hiddenField(page: Hop, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(page.body);
  if (!m) throw new Error(`no hidden field ${name} on ${page.url}`);
  return m[1];
}
