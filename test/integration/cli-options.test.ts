// The CLI's repeatable options take one value each, so arguments after them stay arguments
// (`user add --group family kim`), and its tables say which time zone their times are in.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import type { User } from '../../src/users/repository.js';
import { buildOnce, gatehouse, initDataDir } from '../support/cli.js';
import { GOOD_PASSWORD, tempDir } from '../support/harness.js';

describe('gatehouse CLI options (real command in a child process)', function () {
  this.timeout(60_000);

  before(function () {
    this.timeout(180_000);
    buildOnce();
  });

  let dir: string;
  beforeEach(() => {
    dir = tempDir('gatehouse-cli-options-');
    initDataDir(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function groupsOf(name: string): Promise<string[]> {
    const res = await gatehouse(dir, ['user', 'list', '--json']);
    return (JSON.parse(res.stdout) as User[]).find((u) => u.username === name)?.groups ?? [];
  }

  it('user add --group family kim: the name after a --group is the name, and --group repeats', async () => {
    const one = await gatehouse(dir, ['user', 'add', '--group', 'family', 'kim', '--password-stdin'], { input: `${GOOD_PASSWORD}\n` });
    expect(one.code, one.stderr).to.equal(0);
    expect(one.stdout.trim()).to.equal('created user kim (groups: family)');

    const two = await gatehouse(dir, ['user', 'add', '-g', 'family', '--group', 'admins', 'robin', '--password-stdin'], { input: `${GOOD_PASSWORD}\n` });
    expect(two.code, two.stderr).to.equal(0);
    expect(await groupsOf('robin')).to.have.members(['family', 'admins']);
  });

  it('user edit --group a --group b kim sets exactly those groups', async () => {
    await gatehouse(dir, ['user', 'add', 'kim', '--password-stdin'], { input: `${GOOD_PASSWORD}\n` });
    const res = await gatehouse(dir, ['user', 'edit', '--group', 'family', '--group', 'media', 'kim']);
    expect(res.code, res.stderr).to.equal(0);
    expect(await groupsOf('kim')).to.have.members(['family', 'media']);
  });

  it('user list names the time zone of its times (UTC; session list likewise, see cli.test.ts)', async () => {
    await gatehouse(dir, ['user', 'add', 'kim', '--password-stdin'], { input: `${GOOD_PASSWORD}\n` });
    const users = await gatehouse(dir, ['user', 'list']);
    expect(users.stdout.split('\n')[0]).to.match(/\bLAST LOGIN \(UTC\)$/);
  });
});
