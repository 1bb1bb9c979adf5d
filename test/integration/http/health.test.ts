// GET /healthz answers from the database: 200 when it answers, 503 when it does not.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, startApp } from '../../support/harness.js';

describe('health', () => {
  it('answers 200 {"status":"ok"} when the database answers', async () => {
    const app = await startApp();
    try {
      const res = await new Browser(app.url).get('/healthz');
      expect(res.status).to.equal(200);
      expect(JSON.parse(res.text)).to.deep.equal({ status: 'ok' });
      expect(res.headers.get('set-cookie')).to.equal(null);
    } finally {
      await app.close();
    }
  });

  it('answers 503 when the database is gone, and pages fail closed with 503', async () => {
    const app = await startApp();
    try {
      await addUser(app.ctx, 'alice');
      const b = new Browser(app.url);
      await b.login('alice', GOOD_PASSWORD);
      app.ctx.db.close();
      const res = await b.get('/healthz');
      expect(res.status).to.equal(503);
      expect(JSON.parse(res.text)).to.deep.equal({ status: 'unavailable' });
      // A signed-in request must not pass when its session cannot be checked.
      const page = await b.get('/');
      expect(page.status).to.equal(503);
    } finally {
      await app.close();
    }
  });
});
