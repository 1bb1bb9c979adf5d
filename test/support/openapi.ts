// Every answer the API tests get is checked against the served OpenAPI document: the
// status must be documented for that path and method, the body must match its schema
// (ajv, JSON Schema 2020-12), 204s are empty, documented headers are present. Also a
// small JSON client over Browser (cookie jar) that does this check on every call.

import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { Validator } from '@seriousme/openapi-schema-validator';
import { expect } from 'chai';
import { Browser } from './browser.js';

type Json = Record<string, unknown>;

interface ResponseObject {
  content?: Record<string, { schema: Json }>;
  headers?: Record<string, unknown>;
}

export interface ApiReply {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body (undefined for an empty body). */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read fields freely
}

/** Validates an OpenAPI document with @seriousme/openapi-schema-validator; returns its errors. */
export async function openApiProblems(doc: Json): Promise<unknown[]> {
  const result = await new Validator().validate(structuredClone(doc));
  return result.valid ? [] : ((result.errors as unknown[] | undefined) ?? ['invalid']);
}

export class ApiDoc {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly templates: Array<{ template: string; regex: RegExp; literals: number }>;
  /** `METHOD /template STATUS` of every answer checked (by any ApiDoc), for coverage checks. */
  static readonly seen = new Set<string>();

  constructor(readonly doc: Json) {
    // ISO 8601 as the API writes it (toISOString) or as clients send it with an offset.
    this.ajv.addFormat('date-time', { type: 'string', validate: (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)) });
    this.ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/);
    this.templates = Object.keys(this.paths).map((template) => ({
      template,
      regex: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
      literals: template.split('/').filter((seg) => seg && !seg.startsWith('{')).length,
    }));
  }

  static async fetch(baseUrl: string): Promise<ApiDoc> {
    const res = await fetch(new URL('/api/v1/openapi.json', baseUrl));
    const text = await res.text();
    const doc = new ApiDoc(JSON.parse(text) as Json);
    doc.check('GET', '/api/v1/openapi.json', { status: res.status, headers: res.headers, text });
    expect(res.status).to.equal(200);
    return doc;
  }

  get paths(): Record<string, Record<string, { responses: Record<string, ResponseObject> }>> {
    return this.doc.paths as never;
  }

  /** The documented path template an actual path and method belong to, or null. */
  template(method: string, path: string): string | null {
    const bare = path.split('?')[0] as string;
    const candidates = this.templates.filter((t) => t.regex.test(bare) && this.paths[t.template]?.[method.toLowerCase()]);
    candidates.sort((a, b) => b.literals - a.literals);
    return candidates[0]?.template ?? null;
  }

  private validator(key: string, schema: Json): ValidateFunction {
    let fn = this.compiled.get(key);
    if (!fn) {
      // Component references are document-relative (#/components/schemas/…): compile with them.
      fn = this.ajv.compile({ ...schema, components: this.doc.components });
      this.compiled.set(key, fn);
    }
    return fn;
  }

  /** Asserts that a real answer matches the document. */
  check(method: string, path: string, reply: { status: number; headers: Headers; text: string }): void {
    const what = `${method} ${path} → ${reply.status} ${reply.text.slice(0, 300)}`;
    const template = this.template(method, path);
    let schema: Json;
    let key: string;
    if (template === null) {
      // Not an operation (unknown path or method): the generic JSON error.
      expect(reply.status, `${what}: an undocumented address must be a 404`).to.equal(404);
      schema = { $ref: '#/components/schemas/Error' };
      key = 'undocumented';
    } else {
      const responses = this.paths[template]?.[method.toLowerCase()]?.responses ?? {};
      const response = responses[String(reply.status)];
      expect(response, `${what}: status ${reply.status} is not documented for ${method} ${template}`).to.not.equal(undefined);
      ApiDoc.seen.add(`${method.toUpperCase()} ${template} ${reply.status}`);
      for (const header of Object.keys(response?.headers ?? {})) {
        expect(reply.headers.get(header), `${what}: documented header ${header} missing`).to.not.equal(null);
      }
      const json = response?.content?.['application/json'];
      if (!json) {
        expect(reply.text, `${what}: expected no body`).to.equal('');
        return;
      }
      schema = json.schema;
      key = `${method} ${template} ${reply.status}`;
    }
    expect(reply.headers.get('content-type') ?? '', what).to.match(/^application\/json/);
    const body: unknown = JSON.parse(reply.text);
    const validate = this.validator(key, schema);
    if (!validate(body)) expect.fail(`${what}: body does not match the document: ${this.ajv.errorsText(validate.errors)}`);
  }
}

export interface CallOptions {
  /** Sent as application/json. */
  json?: unknown;
  /** A raw body (with your own content-type header). */
  body?: string;
  headers?: Record<string, string>;
  /** Cookie clients: send X-CSRF-Token on state changes (default true); a string sends that value. */
  csrf?: boolean | string;
}

/**
 * A JSON client: with `token` it sends `Authorization: Bearer`, else it uses the Browser's
 * cookies (fetching the CSRF token from /api/v1/csrf for state changes). Every answer is
 * checked against the document.
 */
export class Api {
  private csrfToken: string | null = null;

  constructor(
    readonly doc: ApiDoc,
    readonly browser: Browser,
    readonly token: string | null = null,
  ) {}

  static withToken(doc: ApiDoc, baseUrl: string, token: string): Api {
    return new Api(doc, new Browser(baseUrl), token);
  }

  async call(method: string, path: string, options: CallOptions = {}): Promise<ApiReply> {
    const headers: Record<string, string> = {};
    if (this.token !== null) headers.authorization = `Bearer ${this.token}`;
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    }
    if (this.token === null && method !== 'GET' && options.csrf !== false) {
      headers['x-csrf-token'] = typeof options.csrf === 'string' ? options.csrf : await this.csrf();
    }
    const raw = await this.browser.request(method, path, { ...(body !== undefined ? { body } : {}), headers: { ...headers, ...options.headers } });
    this.doc.check(method, path, raw);
    if (path !== '/api/v1/openapi.json') expect(raw.headers.get('cache-control'), `${method} ${path}`).to.equal('no-store');
    const parsed = raw.text ? JSON.parse(raw.text) : undefined;
    // A renewed session (password change) comes with its new CSRF token.
    if (this.token === null && typeof parsed?.csrf_token === 'string') this.csrfToken = parsed.csrf_token;
    return { status: raw.status, headers: raw.headers, text: raw.text, body: parsed };
  }

  /** This cookie session's CSRF token (fetched once). */
  async csrf(): Promise<string> {
    if (this.csrfToken === null) {
      const res = await this.call('GET', '/api/v1/csrf');
      expect(res.status, res.text).to.equal(200);
      this.csrfToken = res.body.csrf_token as string;
    }
    return this.csrfToken;
  }

  get = (path: string, options: CallOptions = {}) => this.call('GET', path, options);
  post = (path: string, json?: unknown, options: CallOptions = {}) => this.call('POST', path, { ...(json !== undefined ? { json } : {}), ...options });
  put = (path: string, json?: unknown, options: CallOptions = {}) => this.call('PUT', path, { ...(json !== undefined ? { json } : {}), ...options });
  patch = (path: string, json?: unknown, options: CallOptions = {}) => this.call('PATCH', path, { ...(json !== undefined ? { json } : {}), ...options });
  delete = (path: string, options: CallOptions = {}) => this.call('DELETE', path, options);
}

/** Signs `username` in through the login form and returns a cookie-session API client. */
export async function signedIn(doc: ApiDoc, baseUrl: string, username: string, password: string, headers: Record<string, string> = {}): Promise<Api> {
  const browser = new Browser(baseUrl, headers);
  const res = await browser.login(username, password);
  expect(res.status, `sign-in of ${username}: ${res.text.slice(0, 200)}`).to.equal(303);
  return new Api(doc, browser);
}

/** Creates an API token for a cookie-session client; returns the secret. */
export async function createToken(api: Api, scope: 'read' | 'write' | 'admin', name = `${scope} token`, days = 30): Promise<string> {
  const res = await api.post('/api/v1/me/tokens', { name, scope, expires_in_days: days });
  expect(res.status, res.text).to.equal(201);
  return res.body.token as string;
}
