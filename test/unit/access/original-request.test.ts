// Reading the original request from a proxy's headers: X-Original-URL/-Method (nginx
// auth_request) and X-Forwarded-Method/Proto/Host/Uri (Caddy, Traefik); everything missing
// or malformed is refused with a message that says which header is wrong.

import type { IncomingMessage } from 'node:http';
import { expect } from 'chai';
import { readForForward, readForVerify, type OriginalRequest, type OriginalResult } from '../../../src/access/original-request.js';
import { compileAccessControl } from '../../../src/access/rules.js';
import { accessControlSection } from '../../../src/config/schema.js';

const req = (headers: Record<string, string | string[]>) => ({ headers }) as unknown as IncomingMessage;

const forwarded = (overrides: Record<string, string | undefined> = {}): Record<string, string> => {
  const all: Record<string, string | undefined> = {
    'x-forwarded-method': 'GET',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'app.home.example',
    'x-forwarded-uri': '/x?y=1',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
};

function ok(result: OriginalResult): OriginalRequest {
  if (!result.ok) expect.fail(`expected a parsed request, got "${result.message}"`);
  return result.request;
}

function refused(result: OriginalResult, message: RegExp): void {
  expect(result.ok, JSON.stringify(result)).to.equal(false);
  if (!result.ok) expect(result.message).to.match(message);
}

describe('the original request', () => {
  describe('X-Original-URL and X-Original-Method (verify)', () => {
    it('reads method, protocol, host, path with query and the whole URL', () => {
      const r = ok(readForVerify(req({ 'x-original-url': 'https://app.home.example/a/b?c=d&e=f', 'x-original-method': 'POST' })));
      expect(r).to.deep.equal({ method: 'POST', proto: 'https', host: 'app.home.example', path: '/a/b?c=d&e=f', url: 'https://app.home.example/a/b?c=d&e=f' });
    });

    it('lower-cases the host, drops the port from it (kept in the URL), upper-cases the method, drops the fragment', () => {
      const r = ok(readForVerify(req({ 'x-original-url': 'https://App.Home.EXAMPLE:8443/P?q#frag', 'x-original-method': 'delete' })));
      expect(r).to.deep.equal({ method: 'DELETE', proto: 'https', host: 'app.home.example', path: '/P?q', url: 'https://app.home.example:8443/P?q' });
    });

    it('accepts plain http originals', () => {
      expect(ok(readForVerify(req({ 'x-original-url': 'http://app.home.example/', 'x-original-method': 'GET' }))).proto).to.equal('http');
    });

    it('prefers X-Original-URL over the X-Forwarded-* set', () => {
      const r = ok(readForVerify(req({ ...forwarded({ 'x-forwarded-host': 'other.home.example' }), 'x-original-url': 'https://app.home.example/o', 'x-original-method': 'PUT' })));
      expect(r).to.include({ host: 'app.home.example', path: '/o', method: 'PUT' });
    });

    it('takes the method from X-Forwarded-Method when X-Original-Method is absent', () => {
      expect(ok(readForVerify(req({ 'x-original-url': 'https://app.home.example/', 'x-forwarded-method': 'PATCH' }))).method).to.equal('PATCH');
    });

    it('falls back to X-Forwarded-Proto/Host/Uri/Method without X-Original-URL', () => {
      expect(ok(readForVerify(req(forwarded({ 'x-forwarded-method': 'PUT' }))))).to.deep.equal({
        method: 'PUT',
        proto: 'https',
        host: 'app.home.example',
        path: '/x?y=1',
        url: 'https://app.home.example/x?y=1',
      });
    });

    it('refuses a missing method instead of guessing GET', () => {
      refused(readForVerify(req({ 'x-original-url': 'https://app.home.example/' })), /method header is missing/);
      refused(readForVerify(req({ 'x-original-url': 'https://app.home.example/', 'x-original-method': '' })), /method header is missing/);
    });

    it('refuses a method that is not one', () => {
      for (const method of ['G3T', 'GET, POST', 'GET /', 'A'.repeat(17), 'PÖST']) {
        refused(readForVerify(req({ 'x-original-url': 'https://app.home.example/', 'x-original-method': method })), /not an HTTP method/);
      }
    });

    it('refuses a relative, empty or unparsable X-Original-URL', () => {
      for (const url of ['/a', '', 'app.home.example/a', 'https://', 'https://app.home.example:99999/']) {
        refused(readForVerify(req({ 'x-original-url': url, 'x-original-method': 'GET' })), /X-Original-URL is not an absolute URL/);
      }
    });

    it('refuses credentials in X-Original-URL', () => {
      refused(readForVerify(req({ 'x-original-url': 'https://user:pw@app.home.example/', 'x-original-method': 'GET' })), /must not carry credentials/);
      refused(readForVerify(req({ 'x-original-url': 'https://user@app.home.example/', 'x-original-method': 'GET' })), /must not carry credentials/);
    });

    it('refuses protocols other than http and https', () => {
      for (const url of ['ftp://app.home.example/', 'javascript:alert(1)', 'file:///etc/passwd', 'wss://app.home.example/']) {
        refused(readForVerify(req({ 'x-original-url': url, 'x-original-method': 'GET' })), /protocol must be http or https/);
      }
    });

    it('refuses hosts that are not DNS names (IPv6 literals, trailing dots)', () => {
      for (const url of ['https://[::1]/', 'https://app.home.example./', 'https://a_b.home.example/']) {
        refused(readForVerify(req({ 'x-original-url': url, 'x-original-method': 'GET' })), /host header is missing or not a host name/);
      }
    });

    it('refuses a path starting with "//"', () => {
      refused(readForVerify(req({ 'x-original-url': 'https://app.home.example//evil.example/x', 'x-original-method': 'GET' })), /URI header is missing or not an absolute path/);
    });

    it('refuses an over-long X-Original-URL', () => {
      const url = `https://app.home.example/${'a'.repeat(8200)}`;
      refused(readForVerify(req({ 'x-original-url': url, 'x-original-method': 'GET' })), /X-Original-URL is too long/);
    });

    it('resolves plain dot segments and collapses "//" before rules see the path', () => {
      for (const path of ['/public/../admin/x', '/./admin/x', '/admin//x', '/a/b/../../admin/./x']) {
        expect(ok(readForVerify(req({ 'x-original-url': `https://app.home.example${path}`, 'x-original-method': 'GET' }))).path, path).to.equal('/admin/x');
      }
    });

    it('refuses encoded dot segments instead of resolving them (the upstream may not)', () => {
      for (const path of ['/public/%2e%2e/admin/x', '/public/.%2E/admin/x', '/%2e/admin']) {
        refused(readForVerify(req({ 'x-original-url': `https://app.home.example${path}`, 'x-original-method': 'GET' })), /encoded dot segment/);
      }
    });

    it('decodes percent-encoded unreserved characters (so "/%61dmin" is "/admin"), keeps reserved ones', () => {
      const path = (p: string) => ok(readForVerify(req({ 'x-original-url': `https://app.home.example${p}`, 'x-original-method': 'GET' }))).path;
      expect(path('/%61%64%6D%49%4e/x')).to.equal('/admIN/x');
      expect(path('/a%3fb?x=%41%26y&s=%2F')).to.equal('/a%3Fb?x=A%26y&s=%2F');
      expect(path('/%7e%5F%2d%2E%30')).to.equal('/~_-.0');
    });

    it('so an encoded path cannot dodge a resource rule the upstream would apply', () => {
      const section = accessControlSection.parse({ default_policy: 'bypass', rules: [{ domain: 'app.home.example', resources: ['^/admin(/|$)'], policy: 'deny' }] });
      const { control } = compileAccessControl(section);
      for (const path of ['/admin/', '/%61dmin/', '/%61%64%6d%69%6e', '/x/../%61dmin/', '/ADMIN', '/x//../admin', '/x/..%2fadmin', '/x/..;/admin']) {
        const r = readForVerify(req({ 'x-original-url': `https://app.home.example${path}`, 'x-original-method': 'GET' }));
        const outcome = r.ok ? control.decide({ host: r.request.host, path: r.request.path, method: r.request.method, ip: '192.0.2.1' }, null).outcome : 'refused';
        expect(outcome, path).to.be.oneOf(['deny', 'refused']);
      }
    });

    it('reads the path as sent, not as the URL parser repairs it ("\\" is not "/")', () => {
      refused(readForVerify(req({ 'x-original-url': 'https://app.home.example/public\\..\\admin', 'x-original-method': 'GET' })), /backslash/);
      refused(readForVerify(req({ 'x-original-url': 'https://app.home.example\\admin', 'x-original-method': 'GET' })), /backslash/);
      refused(readForVerify(req({ 'x-original-url': 'https:app.home.example/x', 'x-original-method': 'GET' })), /not an absolute URL/);
    });

    it('refuses whitespace or control characters anywhere in X-Original-URL (the parser would drop them)', () => {
      for (const url of ['https://app.home.ex\tample/', 'https://app.home.example/a\nb', 'https://app.home.example/?q=a b']) {
        refused(readForVerify(req({ 'x-original-url': url, 'x-original-method': 'GET' })), /whitespace or a control character/);
      }
    });

    it('refuses a "#" in the path; drops a fragment after the query', () => {
      refused(readForVerify(req({ 'x-original-url': 'https://app.home.example/public#/../admin', 'x-original-method': 'GET' })), /"#"/);
      expect(ok(readForVerify(req({ 'x-original-url': 'https://app.home.example/p?q#/../admin', 'x-original-method': 'GET' }))).path).to.equal('/p?q');
    });

    it('a URL without a path is "/"', () => {
      expect(ok(readForVerify(req({ 'x-original-url': 'https://app.home.example', 'x-original-method': 'GET' }))).path).to.equal('/');
      expect(ok(readForVerify(req({ 'x-original-url': 'https://app.home.example?x=1', 'x-original-method': 'GET' }))).path).to.equal('/?x=1');
    });

    it('takes the first of duplicated X-Original-URL headers', () => {
      const r = ok(readForVerify(req({ 'x-original-url': ['https://app.home.example/one', 'https://evil.example/two'], 'x-original-method': 'GET' })));
      expect(r.path).to.equal('/one');
    });
  });

  describe('X-Forwarded-Method/Proto/Host/Uri (forward)', () => {
    it('reads the four headers', () => {
      expect(ok(readForForward(req(forwarded())))).to.deep.equal({ method: 'GET', proto: 'https', host: 'app.home.example', path: '/x?y=1', url: 'https://app.home.example/x?y=1' });
    });

    it('ignores X-Original-URL (only verify reads it)', () => {
      const r = ok(readForForward(req({ ...forwarded(), 'x-original-url': 'https://evil.example/' })));
      expect(r.host).to.equal('app.home.example');
    });

    it('keeps a port from X-Forwarded-Host in the URL only; accepts an upper-case protocol and host', () => {
      const r = ok(readForForward(req(forwarded({ 'x-forwarded-host': 'App.Home.Example:8443', 'x-forwarded-proto': 'HTTPS' }))));
      expect(r).to.include({ host: 'app.home.example', proto: 'https', url: 'https://app.home.example:8443/x?y=1' });
    });

    it('takes the first entry of chained (comma-separated) lists, but never splits the URI', () => {
      const r = ok(
        readForForward(
          req(forwarded({ 'x-forwarded-method': 'delete, GET', 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'app.home.example, proxy.internal', 'x-forwarded-uri': '/x?a=1,2' })),
        ),
      );
      expect(r).to.deep.equal({ method: 'DELETE', proto: 'https', host: 'app.home.example', path: '/x?a=1,2', url: 'https://app.home.example/x?a=1,2' });
    });

    it('refuses a missing or empty first entry of a list', () => {
      refused(readForForward(req(forwarded({ 'x-forwarded-host': ', app.home.example' }))), /host header is missing/);
      refused(readForForward(req(forwarded({ 'x-forwarded-proto': ' , https' }))), /protocol must be http or https/);
    });

    it('refuses each missing header with its own message', () => {
      refused(readForForward(req(forwarded({ 'x-forwarded-method': undefined }))), /method header is missing/);
      refused(readForForward(req(forwarded({ 'x-forwarded-proto': undefined }))), /protocol must be http or https/);
      refused(readForForward(req(forwarded({ 'x-forwarded-host': undefined }))), /host header is missing or not a host name/);
      refused(readForForward(req(forwarded({ 'x-forwarded-uri': undefined }))), /URI header is missing or not an absolute path/);
      refused(readForForward(req({})), /missing/);
    });

    it('refuses a malformed protocol', () => {
      for (const proto of ['ftp', 'javascript', 'https:', 'http://']) refused(readForForward(req(forwarded({ 'x-forwarded-proto': proto }))), /protocol must be http or https/);
    });

    it('refuses a malformed host', () => {
      const hosts = ['evil.example@app.home.example', 'app.home.example/x', 'app.home.example\\x', 'app.home.example.', '-app.home.example', 'app..home.example', '[::1]', 'app home.example', `${'a'.repeat(64)}.home.example`, `${'abcdefghi.'.repeat(26)}example`];
      for (const host of hosts) refused(readForForward(req(forwarded({ 'x-forwarded-host': host }))), /host header is missing or not a host name/);
      refused(readForForward(req(forwarded({ 'x-forwarded-host': 'app.home.example:99999' }))), /could not be parsed/);
    });

    it('refuses a URI that is not an absolute path', () => {
      for (const uri of ['x', 'https://evil.example/x', '//evil.example/x', '/a b', '/a\tb']) {
        refused(readForForward(req(forwarded({ 'x-forwarded-uri': uri }))), /URI header is missing or not an absolute path/);
      }
      refused(readForForward(req(forwarded({ 'x-forwarded-uri': '/\\evil.example' }))), /backslash/);
    });

    it('canonicalises the path exactly as verify does; the query cannot change it', () => {
      const path = (uri: string) => ok(readForForward(req(forwarded({ 'x-forwarded-uri': uri })))).path;
      expect(path('/public/../%61dmin//x/?a=/../b')).to.equal('/admin/x/?a=/../b');
      expect(path('/x?p=%2F..%2Fadmin')).to.equal('/x?p=%2F..%2Fadmin');
      for (const uri of ['/public/..%2fadmin', '/public/%2e%2e/admin', '/public/..;/admin', '/public/%5c..%5cadmin', '/%2fadmin', '/a%00', '/a%zz']) {
        expect(readForForward(req(forwarded({ 'x-forwarded-uri': uri }))).ok, uri).to.equal(false);
      }
    });

    it('raw UTF-8 in the path (a header is Latin-1 to Node) is the same path as its percent-encoded form', () => {
      const raw = Buffer.from('/café', 'utf8').toString('latin1');
      expect(ok(readForForward(req(forwarded({ 'x-forwarded-uri': raw })))).path).to.equal('/caf%C3%A9');
      expect(ok(readForForward(req(forwarded({ 'x-forwarded-uri': '/caf%c3%a9' })))).path).to.equal('/caf%C3%A9');
    });

    it('refuses an over-long URI, and says so', () => {
      refused(readForForward(req(forwarded({ 'x-forwarded-uri': `/${'a'.repeat(8192)}` }))), /URI header is too long/);
      expect(ok(readForForward(req(forwarded({ 'x-forwarded-uri': `/${'a'.repeat(8191)}` })))).path).to.have.length(8192);
    });
  });
});
