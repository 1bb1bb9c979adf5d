// The OpenAPI document: valid OpenAPI 3.1, public, describing exactly the /api/v1 routes of
// the route table, and every operation it lists refuses callers without the right
// credentials (anonymous 401, members 403 on admin operations) as it documents.

import { expect } from 'chai';
import { createPassport } from '../../../src/auth/passport.js';
import { createGuards } from '../../../src/http/guards.js';
import { routeTable } from '../../../src/http/routes.js';
import { openApiPath } from '../../../src/api/openapi.js';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { Api, ApiDoc, openApiProblems } from '../../support/openapi.js';

type Operation = { security?: Array<Record<string, string[]>>; parameters?: Array<{ name: string; in: string }> };

/** A concrete address for a documented template (any well-formed parameter will do). */
function concrete(template: string): string {
  const samples: Record<string, string> = { username: 'nobody', handle: 'abcdef012345', id: '999', target: '203.0.113.7' };
  return template.replace(/\{(\w+)\}/g, (_m, name: string) => samples[name] ?? 'x');
}

describe('API: the OpenAPI document', () => {
  let app: TestApp;
  let doc: ApiDoc;

  before(async () => {
    app = await startApp();
    await addUser(app.ctx, 'root', { groups: ['admins'] });
    await addUser(app.ctx, 'member');
    doc = await ApiDoc.fetch(app.url);
  });
  after(() => app.close());

  it('is a valid OpenAPI 3.1 document, served without authentication', async () => {
    expect(doc.doc.openapi).to.equal('3.1.0');
    expect(await openApiProblems(doc.doc)).to.deep.equal([]);
    const res = await fetch(`${app.url}/api/v1/openapi.json`);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(res.headers.get('set-cookie')).to.equal(null);
  });

  it('holds no personal data: no user name, no session, no token', async () => {
    const text = JSON.stringify(doc.doc);
    expect(text).to.not.include('root');
    expect(text).to.not.include('member');
    expect(text).to.not.match(/gth_[A-Za-z0-9_-]{10,}/);
  });

  it('describes exactly the /api/v1 routes of the route table, and both security schemes', () => {
    const ctx = app.ctx;
    const routes = routeTable(ctx, createGuards(ctx), createPassport(ctx))
      .filter((r) => r.path.startsWith('/api/'))
      .map((r) => `${r.method} ${openApiPath(r.path)}`)
      .sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`))
      .sort();
    expect(documented).to.deep.equal(routes);
    const schemes = (doc.doc.components as { securitySchemes: Record<string, { type: string; scheme?: string; in?: string; name?: string }> }).securitySchemes;
    expect(schemes.bearer).to.include({ type: 'http', scheme: 'bearer' });
    expect(schemes.cookie).to.include({ type: 'apiKey', in: 'cookie' });
    expect(schemes.csrf).to.include({ type: 'apiKey', in: 'header', name: 'X-CSRF-Token' });
  });

  it('every path parameter is declared and documented as required', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(ops) as Operation[]) {
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect(declared, path).to.deep.equal(names);
      }
    }
  });

  it('every operation that needs credentials answers 401 with a Bearer challenge to an anonymous caller', async () => {
    const api = new Api(doc, new Browser(app.url));
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops) as Array<[string, Operation]>) {
        if (!op.security?.length) continue;
        const res = await api.call(method.toUpperCase(), concrete(path), { csrf: 'x', ...(method === 'get' || method === 'delete' ? {} : { json: {} }) });
        expect(res.status, `${method} ${path}`).to.equal(401);
        expect(res.headers.get('www-authenticate'), `${method} ${path}`).to.match(/^Bearer realm="gatehouse"/);
        checked += 1;
      }
    }
    expect(checked).to.be.greaterThan(25);
  });

  it('every admin operation refuses a signed-in member (403 forbidden) and changes nothing', async () => {
    const browser = new Browser(app.url);
    expect((await browser.login('member', GOOD_PASSWORD)).status).to.equal(303);
    const api = new Api(doc, browser);
    const before = app.ctx.auditLog.page({}, { limit: 1 }).entries[0]?.id;
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops) as Array<[string, Operation]>) {
        if (!op.security?.some((s) => s.bearer?.includes('admin'))) continue;
        const target = concrete(path).replace('nobody', 'root');
        const res = await api.call(method.toUpperCase(), target, method === 'get' || method === 'delete' ? {} : { json: { password: GOOD_PASSWORD } });
        expect(res.status, `${method} ${path}`).to.equal(403);
        expect(res.body.error.code).to.equal('forbidden');
        checked += 1;
      }
    }
    expect(checked).to.be.greaterThan(12);
    expect(app.ctx.auditLog.page({}, { limit: 1 }).entries[0]?.id, 'nothing was audited, so nothing changed').to.equal(before);
    expect(app.ctx.users.findByUsername('root')?.disabled).to.equal(false);
  });

  it('unknown /api/v1 addresses are JSON 404s', async () => {
    const api = new Api(doc, new Browser(app.url));
    for (const path of ['/api/v1/nope', '/api/v1/users/a/b/c', '/api/v2/me']) {
      const res = await api.get(path);
      expect(res.status).to.equal(404);
      expect(res.body.error.code).to.equal('not-found');
    }
  });
});
