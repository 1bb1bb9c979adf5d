// Where the login form puts the cursor: on the username when the form is empty, on the
// password after a refused attempt (the username is filled in again; retyping the password
// is what is left to do). Exactly one field has autofocus.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { addUser, startApp, type TestApp } from '../../support/harness.js';

/** The ids of the inputs with autofocus. */
const focused = (page: string) => [...page.matchAll(/<input\b[^>]*>/g)].map((m) => m[0]).filter((tag) => /\sautofocus[\s>]/.test(tag)).map((tag) => /id="([^"]+)"/.exec(tag)?.[1]);

describe('sign-in: where the cursor goes', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startApp();
    await addUser(app.ctx, 'alice');
  });
  afterEach(() => app.close());

  it('an empty form focuses the username', async () => {
    const page = await new Browser(app.url).get('/login');
    expect(focused(page.text)).to.deep.equal(['username']);
  });

  it('after a wrong password the username is kept and the password field has the focus', async () => {
    const b = new Browser(app.url);
    const res = await b.login('alice', 'not the right password at all');
    expect(res.status).to.equal(401);
    expect(res.text).to.contain('value="alice"');
    expect(focused(res.text)).to.deep.equal(['password']);
  });
});
