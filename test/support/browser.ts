// A minimal HTTP client with a cookie jar, for driving the real app over real HTTP:
// forms with their CSRF token, redirects left visible (redirect: 'manual').

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  location: string | null;
  setCookies: string[];
}

export class Browser {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    /** Headers sent with every request (e.g. X-Forwarded-For from a "proxy"). */
    public headers: Record<string, string> = {},
  ) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...this.headers, ...init.headers };
    if (this.cookies.size && !('cookie' in headers)) headers.cookie = this.cookieHeader();
    const res = await fetch(new URL(path, this.baseUrl), { method, headers, body: init.body, redirect: 'manual' });
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = (pair ?? '').indexOf('=');
      const name = (pair ?? '').slice(0, eq).trim();
      const value = (pair ?? '').slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: res.status, headers: res.headers, text: await res.text(), location: res.headers.get('location'), setCookies };
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return this.request('GET', path, { headers });
  }

  post(path: string, form: Record<string, string | string[]>, headers: Record<string, string> = {}): Promise<Reply> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const item of Array.isArray(v) ? v : [v]) body.append(k, item);
    return this.request('POST', path, { body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
  }

  /** Loads a page and returns the CSRF token in its form. */
  async csrf(path = '/login', headers: Record<string, string> = {}): Promise<string> {
    const page = await this.get(path, headers);
    const match = /name="_csrf" value="([^"]+)"/.exec(page.text);
    if (!match) throw new Error(`no CSRF token on ${path} (status ${page.status})`);
    return match[1] as string;
  }

  /** Signs in through the login form; returns the POST reply. */
  async login(username: string, password: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Reply> {
    const token = await this.csrf('/login', headers);
    return this.post('/login', { _csrf: token, username, password, ...extra }, headers);
  }

  async logout(headers: Record<string, string> = {}): Promise<Reply> {
    const token = await this.csrf('/', headers);
    return this.post('/logout', { _csrf: token }, headers);
  }
}
