// Hostile input to the JSON API: deep nesting, a 1 MB body, arrays and scalars where
// objects belong, NUL and control characters, wrong and missing content types, broken
// JSON, prototype keys. Always a 4xx with a JSON error, never a 500, and nothing changes.

import { expect } from 'chai';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { Api, ApiDoc, createToken, signedIn } from '../../support/openapi.js';

describe('API: hostile input', () => {
  let app: TestApp;
  let doc: ApiDoc;
  let cookie: Api;
  let token: Api;
  let auditBefore: number;

  before(async () => {
    app = await startApp();
    await addUser(app.ctx, 'root', { groups: ['admins'] });
    doc = await ApiDoc.fetch(app.url);
    cookie = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
    token = Api.withToken(doc, app.url, await createToken(cookie, 'admin'));
  });
  after(() => app.close());
  beforeEach(() => {
    auditBefore = app.ctx.auditLog.page({}, { limit: 1 }).entries[0]?.id ?? 0;
  });
  afterEach(() => {
    expect(app.ctx.auditLog.page({}, { limit: 1 }).entries[0]?.id ?? 0, 'nothing happened').to.equal(auditBefore);
    expect(app.ctx.users.count()).to.equal(1);
  });

  const clients = () => [
    ['cookie', cookie],
    ['token', token],
  ] as const;

  async function expect4xx(res: { status: number; body: { error?: { code: string } } }, status: number, what: string): Promise<void> {
    expect(res.status, what).to.equal(status);
    expect(res.body.error?.code, what).to.be.a('string');
  }

  it('deeply nested JSON is refused', async () => {
    const deep = `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`;
    const shallowButTooDeep = { username: 'x', password: GOOD_PASSWORD, groups: [[[[['admins']]]]] };
    for (const [name, api] of clients()) {
      await expect4xx(await api.post('/api/v1/users', undefined, { body: deep, headers: { 'content-type': 'application/json' } }), 400, `${name} deep`);
      await expect4xx(await api.post('/api/v1/users', shallowButTooDeep), 400, `${name} nested arrays`);
    }
  });

  it('a 1 MB body is refused with 413', async () => {
    const big = JSON.stringify({ username: 'x', password: GOOD_PASSWORD, display_name: 'y'.repeat(1024 * 1024) });
    for (const [name, api] of clients()) {
      const res = await api.post('/api/v1/users', undefined, { body: big, headers: { 'content-type': 'application/json' } });
      await expect4xx(res, 413, name);
      expect(res.body.error.code).to.equal('payload-too-large');
    }
  });

  it('arrays, strings and null where an object belongs are 400', async () => {
    for (const [name, api] of clients()) {
      for (const body of ['[]', '[{"username":"x"}]', '"text"', '42', 'null', 'true']) {
        await expect4xx(await api.post('/api/v1/users', undefined, { body, headers: { 'content-type': 'application/json' } }), 400, `${name} ${body}`);
      }
    }
  });

  it('wrong field types, unknown keys, NUL and control characters are 400 with the field named', async () => {
    const bodies: unknown[] = [
      { username: ['x'], password: GOOD_PASSWORD },
      { username: { $ne: null }, password: GOOD_PASSWORD },
      { username: 'x', password: 12345 },
      { username: 'x', password: GOOD_PASSWORD, admin: true },
      { username: 'x\u0000y', password: GOOD_PASSWORD },
      { username: 'x', password: `${GOOD_PASSWORD}\u0000` },
      { username: 'x', password: GOOD_PASSWORD, display_name: 'Evil\r\nSet-Cookie: a=b' },
      { username: 'x', password: GOOD_PASSWORD, display_name: 'zero\u200bwidth' },
      { username: 'x', password: GOOD_PASSWORD, groups: 'admins' },
      { username: 'x'.repeat(300), password: GOOD_PASSWORD },
      { username: 'x', password: 'p'.repeat(2000) },
    ];
    for (const [name, api] of clients()) {
      for (const body of bodies) {
        const res = await api.post('/api/v1/users', body);
        await expect4xx(res, 400, `${name} ${JSON.stringify(body).slice(0, 80)}`);
        expect(res.body.error.code).to.equal('invalid-body');
        expect(res.body.error.message).to.match(/username|password|display_name|groups|admin/);
      }
    }
  });

  it('prototype keys do nothing', async () => {
    for (const [name, api] of clients()) {
      const body = '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},"username":"x","password":"p"}';
      await expect4xx(await api.post('/api/v1/users', undefined, { body, headers: { 'content-type': 'application/json' } }), 400, name);
    }
    expect(({} as Record<string, unknown>).admin).to.equal(undefined);
  });

  it('wrong or missing content types are 415; broken JSON and bad encodings are 4xx', async () => {
    for (const [name, api] of clients()) {
      const json = JSON.stringify({ username: 'x', password: GOOD_PASSWORD });
      await expect4xx(await api.post('/api/v1/users', undefined, { body: json, headers: { 'content-type': 'text/plain' } }), 415, `${name} text/plain`);
      await expect4xx(await api.post('/api/v1/users', undefined, { body: 'username=x&password=y', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, `${name} form`);
      await expect4xx(await api.post('/api/v1/users', undefined, { body: json }), 415, `${name} no content type`);
      await expect4xx(await api.post('/api/v1/users', undefined, { body: '{"username": "x",', headers: { 'content-type': 'application/json' } }), 400, `${name} broken`);
      await expect4xx(await api.post('/api/v1/users', undefined, { body: json, headers: { 'content-type': 'application/json; charset=utf-7' } }), 415, `${name} charset`);
      await expect4xx(await api.post('/api/v1/users', undefined, { body: json, headers: { 'content-type': 'application/json', 'content-encoding': 'br-nonsense' } }), 415, `${name} encoding`);
    }
  });

  it('bytes that are not UTF-8 are refused with 400 invalid-utf8, never replaced with U+FFFD', async () => {
    const bad = [Buffer.from([0xff]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82])];
    for (const bytes of bad) {
      const body = Buffer.concat([Buffer.from('{"display_name":"ro'), bytes, Buffer.from('ot"}')]);
      const res = await fetch(new URL('/api/v1/users/root', app.url), {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' },
        body,
      });
      const answer = (await res.json()) as { error?: { code: string; message: string } };
      expect(res.status, bytes.toString('hex')).to.equal(400);
      expect(answer.error).to.deep.equal({ code: 'invalid-utf8', message: 'The body is not valid UTF-8.' });
    }
    expect(app.ctx.users.findByUsername('root')?.displayName).to.equal('root');
  });

  it('hostile path parameters and queries are 4xx', async () => {
    for (const [name, api] of clients()) {
      for (const path of ['/api/v1/users/%00', '/api/v1/users/%E2%80%8Broot', `/api/v1/users/${'a'.repeat(300)}`, '/api/v1/users/%ZZ', '/api/v1/me/tokens/1e3', '/api/v1/me/tokens/-1']) {
        const method = path.includes('tokens') ? 'DELETE' : 'GET';
        const res = await api.call(method, path);
        expect(res.status, `${name} ${path}`).to.be.within(400, 404);
      }
      for (const q of ['limit[]=1', 'limit=%00', `event=${'e'.repeat(100)}`, 'from=2026-13-01T00:00:00Z']) {
        const res = await api.get(`/api/v1/${q.startsWith('limit') ? 'users' : 'audit'}?${q}`);
        expect(res.status, `${name} ${q}`).to.equal(400);
      }
    }
  });

  it('a malformed Authorization header or cookie is 401, never a crash', async () => {
    const anon = new Api(doc, cookie.browser);
    for (const authorization of ['Bearer', 'Bearer ', 'Bearer a b', `Bearer ${'x'.repeat(5000)}`, 'Bearer \u00ff\u00fe', 'Digest x']) {
      const res = await anon.get('/api/v1/me', { headers: { authorization } });
      expect(res.status, authorization.slice(0, 20)).to.equal(401);
    }
    const res = await new Api(doc, new (cookie.browser.constructor as typeof import('../../support/browser.js').Browser)(app.url)).get('/api/v1/me', { headers: { cookie: 'gatehouse=s%3A%00garbage; x=%' } });
    expect(res.status).to.equal(401);
  });
});
