// Account rules that do not need HTTP: display names, ids never reused.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { createContext, type AppContext } from '../../../src/context.js';
import { GOOD_PASSWORD, tempDir, testConfig } from '../../support/harness.js';

describe('accounts', () => {
  let dir: string;
  let ctx: AppContext;
  beforeEach(() => {
    dir = tempDir();
    ctx = createContext(testConfig(dir));
  });
  afterEach(() => {
    ctx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses display names with control, bidi-override or zero-width characters', async () => {
    for (const displayName of ['Eve\u202Egnp.exe', 'Ad\u200Bmin', 'line\nbreak']) {
      let code = '';
      try {
        await ctx.accounts.create({ username: 'eve', password: GOOD_PASSWORD, displayName, by: 'test' });
      } catch (err) {
        code = (err as { code?: string }).code ?? '';
      }
      expect(code, JSON.stringify(displayName)).to.equal('invalid-display-name');
    }
    const ok = await ctx.accounts.create({ username: 'zoe', password: GOOD_PASSWORD, displayName: 'Zoë 山田', by: 'test' });
    expect(ok.displayName).to.equal('Zoë 山田');
  });

  it('never reuses the id of a deleted user, so old audit entries stay attributable', async () => {
    await ctx.accounts.create({ username: 'first', password: GOOD_PASSWORD, by: 'test' });
    const second = await ctx.accounts.create({ username: 'second', password: GOOD_PASSWORD, by: 'test' });
    ctx.accounts.delete('second', 'test');
    const third = await ctx.accounts.create({ username: 'third', password: GOOD_PASSWORD, by: 'test' });
    expect(third.id).to.be.greaterThan(second.id);
  });
});

describe('user cache', () => {
  let dir: string;
  let ctx: AppContext;
  beforeEach(() => {
    dir = tempDir();
    ctx = createContext(testConfig(dir), { changePollMs: 0 });
  });
  afterEach(() => {
    ctx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a user from memory but sees changes made here and by another process (the CLI)', async () => {
    const alice = await ctx.accounts.create({ username: 'alice', password: GOOD_PASSWORD, by: 'test' });
    expect(ctx.users.findById(alice.id)?.disabled).to.equal(false);
    ctx.accounts.disable('alice', 'test');
    expect(ctx.users.findById(alice.id)?.disabled).to.equal(true);
    ctx.accounts.enable('alice', 'test');
    expect(ctx.users.findById(alice.id)?.disabled).to.equal(false);

    const cli = createContext(testConfig(dir));
    try {
      cli.accounts.disable('alice', 'cli');
    } finally {
      cli.close();
    }
    expect(ctx.users.findById(alice.id)?.disabled).to.equal(true);
  });
});
