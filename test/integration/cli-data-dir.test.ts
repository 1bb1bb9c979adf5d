// The CLI never creates a database by accident: only serve (npm start) does, and restore puts
// one into an existing data dir. Every other command on a missing data dir or database, or a
// data dir that is a file, exits 2 naming the path it looked at and how that path was chosen
// (environment, config file, default), and leaves nothing behind. Real command, child process.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { createContext } from '../../src/context.js';
import { packageRoot } from '../../src/lib/paths.js';
import { buildOnce, gatehouse, initDataDir } from '../support/cli.js';
import { addUser, GOOD_PASSWORD, tempDir, testConfig } from '../support/harness.js';

/** Every command that works on the database, with arguments that would pass otherwise. */
const commands = (work: string): string[][] => [
  ['setup-link'],
  ['user', 'list'],
  ['user', 'add', 'kim', '--password-stdin'],
  ['user', 'passwd', 'kim', '--password-stdin'],
  ['user', 'edit', 'kim', '--email', 'kim@home.example'],
  ['user', 'disable', 'kim'],
  ['user', 'enable', 'kim'],
  ['user', 'delete', 'kim'],
  ['user', 'reset-2fa', 'kim'],
  ['session', 'list'],
  ['session', 'revoke', 'abcdef'],
  ['ban', 'list'],
  ['ban', 'lift', '192.0.2.1'],
  ['access', 'check', 'https://app.home.example/'],
  ['backup', join(work, 'backup.db')],
  ['db', 'check'],
];

describe('gatehouse CLI without a database (real command in a child process)', function () {
  this.timeout(120_000);

  before(function () {
    this.timeout(180_000);
    buildOnce();
  });

  let work: string;
  beforeEach(() => {
    work = tempDir('gatehouse-cli-datadir-');
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('run where no data dir is (the default ./data), every command but serve, restore and config check exits 2 naming the path, the default and the directory, and creates nothing', async () => {
    for (const args of commands(work)) {
      const res = await gatehouse(null, args, { cwd: work, input: `${GOOD_PASSWORD}\n` });
      const what = args.slice(0, 2).join(' ');
      expect(res.code, `${what}: ${res.stderr}`).to.equal(2);
      expect(res.stderr, what).to.include(`the data dir ${join(work, 'data')} does not exist`);
      expect(res.stderr, what).to.include(`chosen by the default ./data (no config file, no GATEHOUSE_DATA_DIR), relative to the current directory ${work}`);
      expect(res.stderr, what).to.include('Only "gatehouse serve" (npm start) creates a database');
      expect(res.stdout, what).to.equal('');
    }
    expect(readdirSync(work)).to.deep.equal([]);
  });

  it('an empty data dir from GATEHOUSE_DATA_DIR: no link, no "no users yet", nothing written into it', async () => {
    const dir = join(work, 'elsewhere');
    mkdirSync(dir);
    for (const args of [['setup-link'], ['user', 'list'], ['user', 'add', 'kim', '--password-stdin']]) {
      const res = await gatehouse(dir, args, { input: `${GOOD_PASSWORD}\n` });
      expect(res.code, res.stderr).to.equal(2);
      expect(res.stderr).to.include(`no gatehouse database at ${join(dir, 'gatehouse.db')}`);
      expect(res.stderr).to.include(`chosen by the environment: GATEHOUSE_DATA_DIR=${dir}`);
      expect(res.stdout).to.equal('');
    }
    expect(readdirSync(dir), 'no database, no secrets.json').to.deep.equal([]);
  });

  it('a data dir set in the config file is named with the file, relative values with the directory', async () => {
    const file = join(work, 'gatehouse.yml');
    writeFileSync(file, 'data_dir: ./state\n');
    const res = await gatehouse(null, ['--config', file, 'user', 'list'], { cwd: work });
    expect(res.code).to.equal(2);
    expect(res.stderr).to.include(`the data dir ${join(work, 'state')} does not exist`);
    expect(res.stderr).to.include(`chosen by the config file: data_dir: ./state in ${file}, relative to the current directory ${work}`);
  });

  it('a data dir that is a file gets the same message from the commands, serve and npm start, not EEXIST', async () => {
    const notDir = join(work, 'data');
    writeFileSync(notDir, 'not a directory\n');
    for (const args of [['user', 'list'], ['restore', join(work, 'backup.db')], ['serve']]) {
      const res = await gatehouse(notDir, args, { env: { GATEHOUSE_PORT: '65000' } });
      expect(res.code, `${args[0]}: ${res.stderr}`).to.equal(2);
      expect(res.stderr).to.include(`the data dir ${notDir} is not a directory`);
      expect(res.stderr).to.include(`chosen by the environment: GATEHOUSE_DATA_DIR=${notDir}`);
      expect(res.stderr).not.to.include('EEXIST');
    }
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', GATEHOUSE_DATA_DIR: notDir, GATEHOUSE_PORT: '65000' };
    const start = spawnSync(process.execPath, [join(packageRoot, 'dist', 'server.js')], { env, encoding: 'utf8', timeout: 20_000 });
    expect(start.status, start.stderr).to.equal(2);
    expect(start.stderr).to.include(`the data dir ${notDir} is not a directory`);
    expect(start.stderr).not.to.include('EEXIST');
  });

  it('config check works without a data dir and creates none', async () => {
    const res = await gatehouse(null, ['config', 'check'], { cwd: work });
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.include('configuration is valid');
    expect(readdirSync(work)).to.deep.equal([]);
  });

  it('restore puts a backup into an existing empty data dir, and refuses a missing one by path', async () => {
    const source = join(work, 'source');
    initDataDir(source);
    const ctx = createContext(testConfig(source));
    await addUser(ctx, 'kim');
    ctx.close();
    const file = join(work, 'backup.db');
    expect((await gatehouse(source, ['backup', file])).code).to.equal(0);

    const missing = join(work, 'missing');
    const refused = await gatehouse(missing, ['restore', file]);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.include(`the data dir ${missing} does not exist`);
    expect(refused.stderr).to.include(`mkdir -m 700 ${missing}`);
    expect(readdirSync(work).sort()).to.deep.equal(['backup.db', 'source']);

    const empty = join(work, 'empty');
    mkdirSync(empty);
    const restored = await gatehouse(empty, ['restore', file]);
    expect(restored.code, restored.stderr).to.equal(0);
    expect(restored.stdout).to.include('there was no database before');
    const list = await gatehouse(empty, ['user', 'list', '--json']);
    expect(list.code, list.stderr).to.equal(0);
    expect((JSON.parse(list.stdout) as Array<{ username: string }>).map((u) => u.username)).to.deep.equal(['kim']);
  });

  it('once the server has created the database, the commands work on it', async () => {
    const dir = join(work, 'data');
    initDataDir(dir);
    const res = await gatehouse(null, ['user', 'list'], { cwd: work });
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.include('no users yet');
  });
});
