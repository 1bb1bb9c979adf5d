// scripts/install.sh and scripts/uninstall.sh in a temporary root (DESTDIR): the tree, its
// owners and modes, the unit as systemd judges it, the installed program and command (its
// environment, file arguments and session), a second run (upgrade: configuration check,
// pre-upgrade backup, roll-back), the refusals, and removal with and without --purge.

import { expect } from 'chai';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadConfig } from '../../../src/config/load.js';
import { packageRoot } from '../../../src/lib/paths.js';
import { buildOnce, initDataDir } from '../../support/cli.js';
import { tempDir } from '../../support/harness.js';
import { freePort } from '../../support/proxies.js';

const INSTALL = join(packageRoot, 'scripts', 'install.sh');
const UNINSTALL = join(packageRoot, 'scripts', 'uninstall.sh');
const NOBODY = 65534; // Debian's nobody:nogroup

function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GATEHOUSE_') && !k.startsWith('SUDO_') && k !== 'DESTDIR') env[k] = v;
  return Object.assign(env, extra);
}

function run(script: string, args: string[], env: Record<string, string>, options: { asUid?: number; timeout?: number } = {}): SpawnSyncReturns<string> {
  const command = options.asUid === undefined ? ['bash', script, ...args] : ['setpriv', `--reuid=${options.asUid}`, `--regid=${options.asUid}`, '--clear-groups', 'bash', script, ...args];
  return spawnSync(command[0] as string, command.slice(1), { env: cleanEnv(env), encoding: 'utf8', timeout: options.timeout ?? 120_000 });
}

function install(destdir: string, modules = 'copy', timeout?: number, extra: Record<string, string> = {}): SpawnSyncReturns<string> {
  const result = run(INSTALL, [], { DESTDIR: destdir, GATEHOUSE_INSTALL_MODULES: modules, ...extra }, { timeout });
  if (result.status !== 0) throw new Error(`install.sh failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** Every path under root with its type, mode and owner (contents: the checkout may change between runs). */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const st = lstatSync(path);
      out.set(relative(root, path), `${(st.mode & 0o170000).toString(8)} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`);
      if (st.isDirectory()) walk(path);
    }
  };
  walk(root);
  return out;
}

function modeOf(path: string): string {
  return (lstatSync(path).mode & 0o7777).toString(8).padStart(4, '0');
}

function accountIn(root: string, file: 'passwd' | 'group', name: string): string[] | undefined {
  return readFileSync(join(root, 'etc', file), 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === name);
}

/** Paths that differ (type, mode or owner, or present on one side only) between two snapshots. */
function changedPaths(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...new Set([...before.keys(), ...after.keys()])].filter((p) => before.get(p) !== after.get(p)).sort();
}

function whichNode(): string {
  return spawnSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).stdout.trim();
}

describe('scripts/install.sh in a temporary root (DESTDIR)', function () {
  this.timeout(120_000);
  let root: string;
  let firstRun: SpawnSyncReturns<string>;
  let uid: number;
  let gid: number;

  before(function () {
    const missing = ['systemd-analyze', 'systemd-sysusers', 'systemd-tmpfiles', 'setpriv', 'npm'].filter((t) => !has(t));
    const problem = missing.length ? `${missing.join(', ')} not installed; run scripts/install-test-deps.sh` : process.getuid?.() !== 0 ? 'the install tests run as root (owners in the tree)' : null;
    if (problem) {
      if (process.env.CI) throw new Error(problem);
      console.warn(`    (skipping: ${problem})`);
      this.skip();
    }
    buildOnce();
    root = tempDir('gatehouse-destdir-');
    firstRun = install(root);
    const account = accountIn(root, 'passwd', 'gatehouse');
    if (!account) throw new Error('no gatehouse account in the staged /etc/passwd');
    uid = Number(account[2]);
    gid = Number(account[3]);
  });
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('produces the expected tree: program, unit, account, command, directories and default config', function () {
    const at = (p: string) => join(root, p);
    // The program: built code, templates, migrations, production dependencies with their
    // native binaries, and nothing of the development set.
    for (const p of ['opt/gatehouse/dist/server.js', 'opt/gatehouse/dist/cli/index.js', 'opt/gatehouse/bin/gatehouse.js', 'opt/gatehouse/package.json', 'opt/gatehouse/views', 'opt/gatehouse/public']) {
      expect(existsSync(at(p)), p).to.equal(true);
    }
    expect(readdirSync(at('opt/gatehouse/src/db/migrations')).filter((f) => f.endsWith('.sql'))).to.not.be.empty;
    expect(existsSync(at('opt/gatehouse/node_modules/better-sqlite3/build/Release/better_sqlite3.node'))).to.equal(true);
    expect(existsSync(at('opt/gatehouse/node_modules/argon2/package.json'))).to.equal(true);
    for (const dev of ['typescript', 'mocha', 'tsx', 'playwright-core']) expect(existsSync(at(`opt/gatehouse/node_modules/${dev}`)), dev).to.equal(false);
    expect(existsSync(at('opt/gatehouse.new')) || existsSync(at('opt/gatehouse.old'))).to.equal(false);

    // The service can read its code but never change it.
    for (const [path, entry] of snapshot(at('opt/gatehouse'))) {
      const [type, mode, owner] = entry.split(' ');
      expect(owner, path).to.equal('0:0');
      if (type === '120000') continue; // a symlink's own mode means nothing
      expect(parseInt(mode as string, 8) & 0o022, `${path} writable by group or others`).to.equal(0);
    }

    expect(modeOf(at('usr/local/bin/gatehouse'))).to.equal('0755');
    for (const p of ['usr/local/lib/systemd/system/gatehouse.service', 'usr/local/lib/sysusers.d/gatehouse.conf', 'usr/local/lib/tmpfiles.d/gatehouse.conf']) {
      expect(modeOf(at(p)), p).to.equal('0644');
    }
    // The unit and the command run the Node.js the script found.
    const unit = readFileSync(at('usr/local/lib/systemd/system/gatehouse.service'), 'utf8');
    expect(unit).to.include(`ExecStart=${whichNode()} --max-semi-space-size=4 /opt/gatehouse/dist/server.js`);
    expect(readFileSync(at('usr/local/bin/gatehouse'), 'utf8')).to.include(`node=${whichNode()}\n`);

    // A system account without a login shell, its home the state directory.
    const account = accountIn(root, 'passwd', 'gatehouse') as string[];
    expect(uid).to.be.above(0).and.below(1000);
    expect(account[5]).to.equal('/var/lib/gatehouse');
    expect(account[6]).to.equal('/usr/sbin/nologin');
    expect(accountIn(root, 'group', 'gatehouse')?.[2]).to.equal(String(gid));

    // Configuration: root writes, the service's group reads. State: the service's alone.
    expect(lstatSync(at('etc/gatehouse'))).to.include({ uid: 0, gid });
    expect(modeOf(at('etc/gatehouse'))).to.equal('0750');
    expect(lstatSync(at('etc/gatehouse/config.yml'))).to.include({ uid: 0, gid });
    expect(modeOf(at('etc/gatehouse/config.yml'))).to.equal('0640');
    expect(lstatSync(at('var/lib/gatehouse'))).to.include({ uid, gid });
    expect(modeOf(at('var/lib/gatehouse'))).to.equal('0700');

    // The default config is valid, listens on loopback (a proxy on the same box in front).
    const config = loadConfig({ env: {}, file: at('etc/gatehouse/config.yml') });
    expect(config.server).to.include({ host: '127.0.0.1', port: 8480 });

    expect(firstRun.stdout).to.include('writing the default /etc/gatehouse/config.yml');
    for (const hint of ['systemctl enable --now gatehouse', 'systemctl status gatehouse', 'journalctl -u gatehouse', 'sudo gatehouse setup-link']) {
      expect(firstRun.stdout, hint).to.include(hint);
    }
  });

  it('the installed unit passes systemd-analyze verify and scores at most 1.5', function () {
    const unit = join(root, 'usr/local/lib/systemd/system/gatehouse.service');
    const verify = spawnSync('systemd-analyze', ['verify', '--man=no', '--generators=no', unit], { encoding: 'utf8' });
    expect(`${verify.stdout}${verify.stderr}`.trim()).to.equal('');
    expect(verify.status).to.equal(0);
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=15', unit], { encoding: 'utf8' });
    expect(security.status, security.stdout).to.equal(0);
    expect(security.stdout).to.match(/Overall exposure level for gatehouse\.service: (0\.\d|1\.[0-5])\b/);
  });

  it('the installed program serves with the installed configuration and production dependencies only', async function () {
    const data = tempDir('gatehouse-installed-data-');
    const port = await freePort();
    const env = cleanEnv({
      GATEHOUSE_CONFIG: join(root, 'etc/gatehouse/config.yml'),
      GATEHOUSE_DATA_DIR: data,
      GATEHOUSE_PORT: String(port),
      GATEHOUSE_LOG_LEVEL: 'warn',
      MALLOC_MMAP_THRESHOLD_: '131072',
    });
    const child = spawn(process.execPath, ['--max-semi-space-size=4', join(root, 'opt/gatehouse/dist/server.js')], { cwd: data, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = await fetch(`http://127.0.0.1:${port}/login`).then((r) => r.status, () => 0);
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status, stderr).to.equal(200);
      child.kill('SIGTERM');
      expect(await exited, stderr).to.equal(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(data, { recursive: true, force: true });
    }
  });

  it('the gatehouse command runs as the service account when root calls it, and refuses other users', function () {
    // The installed command with its paths pointed into this tree and its account set to
    // nobody, a real account on this machine (the staged gatehouse account is not).
    const work = tempDir('gatehouse-wrapper-');
    try {
      chmodSync(work, 0o711);
      chmodSync(root, 0o755);
      const data = join(work, 'data');
      mkdirSync(data, { mode: 0o700 });
      chownSync(data, NOBODY, NOBODY);
      const config = join(work, 'config.yml');
      copyFileSync(join(root, 'etc/gatehouse/config.yml'), config);
      chmodSync(config, 0o640);
      chownSync(config, 0, NOBODY);
      const wrapper = join(work, 'gatehouse');
      const replaced = readFileSync(join(root, 'usr/local/bin/gatehouse'), 'utf8')
        .replace(/^app=.*$/m, `app=${join(root, 'opt/gatehouse')}`)
        .replace(/^user=.*$/m, 'user=nobody')
        .replace(/^group=.*$/m, 'group=nogroup')
        .replace(/^config=.*$/m, `config=${config}`)
        .replace(/^data=.*$/m, `data=${data}`);
      writeFileSync(wrapper, replaced, { mode: 0o755 });

      // Before the service's first start there is no database, and the command creates none.
      const beforeStart = spawnSync(wrapper, ['user', 'list', '--json'], { env: cleanEnv(), encoding: 'utf8', cwd: work });
      expect(beforeStart.status, beforeStart.stderr).to.equal(2);
      expect(beforeStart.stderr).to.include(`no gatehouse database at ${join(data, 'gatehouse.db')}`);
      expect(beforeStart.stderr).to.include(`GATEHOUSE_DATA_DIR=${data}`);
      expect(readdirSync(data)).to.deep.equal([]);

      // The database as the service's first start leaves it, owned by the service account.
      initDataDir(data);
      for (const f of readdirSync(data)) chownSync(join(data, f), NOBODY, NOBODY);
      const asRoot = spawnSync(wrapper, ['user', 'list', '--json'], { env: cleanEnv(), encoding: 'utf8', cwd: work });
      expect(asRoot.status, asRoot.stderr).to.equal(0);
      expect(JSON.parse(asRoot.stdout)).to.deep.equal([]);
      // What the command writes belongs to the service account, not to root.
      const backup = spawnSync(wrapper, ['backup', join(data, 'backup.db')], { env: cleanEnv(), encoding: 'utf8', cwd: work });
      expect(backup.status, backup.stderr).to.equal(0);
      for (const f of readdirSync(data)) expect(lstatSync(join(data, f)), f).to.include({ uid: NOBODY, gid: NOBODY });

      const asService = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', wrapper, 'user', 'list', '--json'], { env: cleanEnv(), encoding: 'utf8', cwd: work });
      expect(asService.status, asService.stderr).to.equal(0);

      const asOther = spawnSync('setpriv', ['--reuid=1', '--regid=1', '--clear-groups', wrapper, 'user', 'list'], { env: cleanEnv(), encoding: 'utf8', cwd: work });
      expect(asOther.status).to.equal(2);
      expect(asOther.stderr).to.match(/run this as root \(sudo gatehouse …\) or as the nobody account/);
    } finally {
      chmodSync(root, 0o700);
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('the gatehouse command gives the CLI a clean environment, the data directory, absolute file paths and, without a terminal, a session of its own', function () {
    // The installed command with a stand-in for node that reports what it was given.
    const work = tempDir('gatehouse-wrapper-env-');
    try {
      chmodSync(work, 0o711);
      const data = join(work, 'data');
      mkdirSync(data, { mode: 0o700 });
      chownSync(data, NOBODY, NOBODY);
      const pub = join(work, 'pub');
      mkdirSync(pub, { mode: 0o755 });
      chownSync(pub, NOBODY, NOBODY);
      const fakeNode = join(work, 'node');
      writeFileSync(
        fakeNode,
        ['#!/bin/sh', 'echo "cwd=$(pwd)"', 'echo "uid=$(id -u)"', "echo \"sid=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f4)\"", 'for a in "$@"; do echo "arg=$a"; done', 'env | sed "s/^/env:/"', ''].join('\n'),
        { mode: 0o755 },
      );
      const wrapper = join(work, 'gatehouse');
      const replaced = readFileSync(join(root, 'usr/local/bin/gatehouse'), 'utf8')
        .replace(/^node=.*$/m, `node=${fakeNode}`)
        .replace(/^app=.*$/m, 'app=/opt/gatehouse')
        .replace(/^user=.*$/m, 'user=nobody')
        .replace(/^group=.*$/m, 'group=nogroup')
        .replace(/^config=.*$/m, 'config=/etc/gatehouse/config.yml')
        .replace(/^data=.*$/m, `data=${data}`);
      writeFileSync(wrapper, replaced, { mode: 0o755 });
      const call = (args: string[], cwd: string, extra: Record<string, string> = {}) => {
        const r = spawnSync(wrapper, args, { env: cleanEnv(extra), encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'pipe'] });
        const lines = r.stdout.split('\n');
        const env = new Map(lines.filter((l) => l.startsWith('env:')).map((l) => [l.slice(4, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
        const value = (key: string) => lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);
        return { ...r, env, value, args: lines.filter((l) => l.startsWith('arg=')).map((l) => l.slice(4)) };
      };

      const hostile = { GATEHOUSE_DATA_DIR: '/tmp/elsewhere', GATEHOUSE_PORT: '1', GATEHOUSE_CONFIG: '/tmp/x.yml', NODE_OPTIONS: '--require /tmp/evil.js', NODE_PATH: '/tmp', LD_PRELOAD: '/tmp/evil.so', FOO: 'bar', SUDO_USER: 'alice', LANG: 'C.UTF-8', TERM: 'xterm' };
      const r = call(['user', 'list'], work, hostile);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.value('uid')).to.equal(String(NOBODY));
      expect(r.value('cwd')).to.equal(data);
      expect(r.args).to.deep.equal(['/opt/gatehouse/bin/gatehouse.js', 'user', 'list']);
      r.env.delete('PWD'); // set by the stand-in's shell
      expect(Object.fromEntries(r.env)).to.deep.equal({
        PATH: '/usr/local/bin:/usr/bin:/bin',
        HOME: data,
        USER: 'root',
        LOGNAME: 'root',
        GATEHOUSE_CONFIG: '/etc/gatehouse/config.yml',
        GATEHOUSE_DATA_DIR: data,
        NODE_ENV: 'production',
        MALLOC_MMAP_THRESHOLD_: '131072',
        SUDO_USER: 'alice',
        LANG: 'C.UTF-8',
        TERM: 'xterm',
      });
      // No terminal: a session of its own, so no controlling terminal shared with root's.
      const ownSession = readFileSync(`/proc/${process.pid}/stat`, 'utf8').replace(/.*\) /s, '').split(' ')[3];
      expect(r.value('sid')).to.be.a('string').and.not.equal(ownSession);

      // File arguments relative to the caller's directory arrive absolute.
      for (const [args, expected] of [
        [['backup', 'out.db'], ['backup', join(pub, 'out.db')]],
        [['backup', '--force', './sub/../out.db'], ['backup', '--force', `${pub}/sub/../out.db`]],
        [['restore', 'in.db'], ['restore', join(pub, 'in.db')]],
        [['db', 'check', 'in.db'], ['db', 'check', join(pub, 'in.db')]],
        [['db', 'check'], ['db', 'check']],
        [['--config', 'c.yml', 'config', 'check'], ['--config', join(pub, 'c.yml'), 'config', 'check']],
        [['--config=c.yml', 'config', 'check'], [`--config=${join(pub, 'c.yml')}`, 'config', 'check']],
        [['backup', '/abs/out.db'], ['backup', '/abs/out.db']],
        [['user', 'add', 'alice'], ['user', 'add', 'alice']],
      ] as const) {
        const res = call([...args], pub);
        expect(res.status, `${args.join(' ')}: ${res.stderr}`).to.equal(0);
        expect(res.args.slice(1), args.join(' ')).to.deep.equal(expected);
      }

      // A file the service account cannot read, a directory it cannot write: said before anything runs.
      writeFileSync(join(work, 'secret.db'), 'x', { mode: 0o600 });
      const unreadable = call(['restore', 'secret.db'], work);
      expect(unreadable.status).to.equal(2);
      expect(unreadable.stdout).to.equal('');
      expect(unreadable.stderr).to.include(`${join(work, 'secret.db')} is not readable by the nobody account, which this command runs as (not as root)`);
      const unwritable = call(['backup', 'copy.db'], work);
      expect(unwritable.status).to.equal(2);
      expect(unwritable.stdout).to.equal('');
      expect(unwritable.stderr).to.include(`the nobody account, which this command runs as (not as root), cannot write to the directory ${work}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('a second run (an upgrade) checks the configuration, backs the database up and keeps configuration, data and tree', function () {
    const config = join(root, 'etc/gatehouse/config.yml');
    appendFileSync(config, '# the administrator was here\n');
    const dataDir = join(root, 'var/lib/gatehouse');
    const db = join(dataDir, 'gatehouse.db');
    // A real database as the service's first start leaves it, used by the installed program
    // (which creates none itself) and owned by the service account.
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [join(root, 'opt/gatehouse/bin/gatehouse.js'), ...args], { env: cleanEnv({ GATEHOUSE_CONFIG: config, GATEHOUSE_DATA_DIR: dataDir }), encoding: 'utf8', cwd: dataDir });
    initDataDir(dataDir);
    const made = cli(['setup-link']);
    expect(made.status, made.stderr).to.equal(0);
    for (const f of readdirSync(dataDir)) chownSync(join(dataDir, f), uid, gid);
    // Six earlier pre-upgrade backups: the two oldest go, so that five remain.
    const backups = join(dataDir, 'backups');
    mkdirSync(backups, { mode: 0o700 });
    chownSync(backups, uid, gid);
    for (let i = 1; i <= 6; i++) {
      writeFileSync(join(backups, `pre-upgrade-2000010${i}T000000Z.db`), 'an older backup', { mode: 0o600 });
      chownSync(join(backups, `pre-upgrade-2000010${i}T000000Z.db`), uid, gid);
    }
    const before = snapshot(root);
    const configBefore = readFileSync(config, 'utf8');
    const dbBefore = readFileSync(db);

    const second = install(root);
    expect(second.stdout).to.include('keeping the existing /etc/gatehouse/config.yml');
    expect(second.stdout).to.include('checking /etc/gatehouse/config.yml with the new version');
    expect(second.stdout).to.include('the configuration is valid for the new version');
    expect(readFileSync(config, 'utf8')).to.equal(configBefore);
    expect(readFileSync(db).equals(dbBefore), 'the database is unchanged').to.equal(true);

    const fresh = readdirSync(backups).filter((f) => !f.startsWith('pre-upgrade-2000'));
    expect(fresh).to.have.length(1);
    const backup = join(backups, fresh[0] as string);
    expect(fresh[0]).to.match(/^pre-upgrade-\d{8}T\d{6}Z\.db$/);
    expect(second.stdout).to.include(`backing up the database to /var/lib/gatehouse/backups/${fresh[0]}`);
    expect(lstatSync(backup)).to.include({ uid, gid });
    expect(modeOf(backup)).to.equal('0600');
    const check = cli(['db', 'check', backup]);
    expect(check.status, check.stdout + check.stderr).to.equal(0);

    const changed = changedPaths(before, snapshot(root));
    expect(changed).to.deep.equal([
      'var/lib/gatehouse/backups/pre-upgrade-20000101T000000Z.db',
      'var/lib/gatehouse/backups/pre-upgrade-20000102T000000Z.db',
      `var/lib/gatehouse/backups/${fresh[0]}`,
    ]);
  });

  it('an upgrade whose new version refuses the configuration changes nothing', function () {
    const config = join(root, 'etc/gatehouse/config.yml');
    const original = readFileSync(config, 'utf8');
    try {
      writeFileSync(config, original.replace(/level: info\b/, 'level: loud'));
      const before = snapshot(root);
      const refused = run(INSTALL, [], { DESTDIR: root, GATEHOUSE_INSTALL_MODULES: 'copy' });
      expect(refused.status, refused.stdout).to.equal(1);
      expect(refused.stderr).to.match(/log\.level: must be one of/);
      expect(refused.stderr).to.include('the new version does not accept /etc/gatehouse/config.yml (see above): nothing was changed');
      expect(refused.stdout).to.not.include('backing up the database');
      expect(changedPaths(before, snapshot(root))).to.deep.equal([]);
    } finally {
      writeFileSync(config, original);
    }
  });

  it('a failed start after the swap puts the previous program, unit and command back and points at the backup', function () {
    const marker = join(root, 'opt/gatehouse/the-previous-version');
    const unit = join(root, 'usr/local/lib/systemd/system/gatehouse.service');
    const command = join(root, 'usr/local/bin/gatehouse');
    writeFileSync(marker, '');
    appendFileSync(unit, '# the previous unit\n');
    appendFileSync(command, '# the previous command\n');
    const unitBefore = readFileSync(unit, 'utf8');
    const commandBefore = readFileSync(command, 'utf8');
    const before = snapshot(root);
    try {
      const failed = run(INSTALL, [], { DESTDIR: root, GATEHOUSE_INSTALL_MODULES: 'copy', GATEHOUSE_INSTALL_TEST_FAIL_START: '1' });
      expect(failed.status, failed.stdout).to.equal(1);
      expect(failed.stderr).to.include('the upgrade failed; putting the previous version back');
      expect(failed.stderr).to.include('The previous version of gatehouse is back in /opt/gatehouse.');
      const restore = /gatehouse restore (\/var\/lib\/gatehouse\/backups\/pre-upgrade-\d{8}T\d{6}Z(-\d+)?\.db)/.exec(failed.stderr);
      expect(restore, failed.stderr).to.not.equal(null);
      expect(existsSync(join(root, (restore as RegExpExecArray)[1] as string))).to.equal(true);

      expect(existsSync(marker)).to.equal(true);
      expect(readFileSync(unit, 'utf8')).to.equal(unitBefore);
      expect(readFileSync(command, 'utf8')).to.equal(commandBefore);
      for (const leftover of ['opt/gatehouse.new', 'opt/gatehouse.old', 'opt/gatehouse.failed']) expect(existsSync(join(root, leftover)), leftover).to.equal(false);
      // Only the backups changed: the new one, and the oldest pruned.
      const changed = changedPaths(before, snapshot(root));
      expect(changed.filter((p) => !p.startsWith('var/lib/gatehouse/backups/pre-upgrade-'))).to.deep.equal([]);
    } finally {
      rmSync(marker, { force: true });
    }
  });

  it('refuses to run without root unless DESTDIR is set, and rejects unknown arguments', function () {
    const notRoot = run(INSTALL, [], {}, { asUid: NOBODY });
    expect(notRoot.status).to.equal(1);
    expect(notRoot.stderr).to.match(/run as root/);
    const unknown = run(INSTALL, ['--prefix=/usr'], { DESTDIR: root });
    expect(unknown.status).to.equal(2);
    expect(unknown.stderr).to.match(/unknown argument: --prefix=\/usr/);
  });

  it('refuses a Node.js in a home directory, and through sudo builds as the sudo user', function () {
    // The service (ProtectHome=yes, its own account) could not run a node under /root.
    const dir = mkdtempSync('/root/gatehouse-node-');
    try {
      symlinkSync(process.execPath, join(dir, 'node'));
      const inHome = run(INSTALL, [], { DESTDIR: root, PATH: `${dir}:${process.env.PATH ?? ''}` });
      expect(inHome.status).to.equal(1);
      expect(inHome.stderr).to.include(`Node.js is at ${join(dir, 'node')}`);
      expect(inHome.stderr).to.match(/under \/home, \/root or \/run\/user: the service \(ProtectHome=yes, running as gatehouse\) could not start it/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Through sudo the build runs as the sudo user: a checkout that account cannot write is refused.
    const viaSudo = run(INSTALL, [], { DESTDIR: root, SUDO_USER: 'nobody', SUDO_GID: String(NOBODY) });
    expect(viaSudo.status).to.equal(1);
    expect(viaSudo.stderr).to.include(`${packageRoot} is not writable by nobody, who builds it`);
    // Without sudo, as root: said so.
    expect(firstRun.stdout).to.include('building as root: not run through sudo from another account');
  });

  it('uninstall.sh removes program, unit and command but keeps configuration and data; --purge removes those too', function () {
    expect(run(UNINSTALL, ['--everything'], { DESTDIR: root }).status).to.equal(2);

    const keep = run(UNINSTALL, [], { DESTDIR: root });
    expect(keep.status, keep.stderr).to.equal(0);
    for (const gone of ['opt/gatehouse', 'usr/local/bin/gatehouse', 'usr/local/lib/systemd/system/gatehouse.service', 'usr/local/lib/sysusers.d/gatehouse.conf', 'usr/local/lib/tmpfiles.d/gatehouse.conf']) {
      expect(existsSync(join(root, gone)), gone).to.equal(false);
    }
    expect(readFileSync(join(root, 'etc/gatehouse/config.yml'), 'utf8')).to.include('# the administrator was here');
    expect(existsSync(join(root, 'var/lib/gatehouse/gatehouse.db'))).to.equal(true);
    expect(keep.stdout).to.match(/Kept: \/etc\/gatehouse .* \/var\/lib\/gatehouse/);

    // Reinstalling picks the kept configuration up again.
    expect(install(root).stdout).to.include('keeping the existing /etc/gatehouse/config.yml');

    const purge = run(UNINSTALL, ['--purge'], { DESTDIR: root });
    expect(purge.status, purge.stderr).to.equal(0);
    for (const gone of ['opt/gatehouse', 'etc/gatehouse', 'var/lib/gatehouse']) expect(existsSync(join(root, gone)), gone).to.equal(false);
  });
});

describe('scripts/install.sh with the real dependency install (npm ci --omit=dev)', function () {
  // Compiling better-sqlite3 takes about a minute on two cores: run in CI (where it must
  // work on a fresh machine) or on request, not on every local run.
  this.timeout(360_000);

  it('builds the native modules for this machine and installs no development dependency', function () {
    if (!process.env.CI && !process.env.GATEHOUSE_TEST_REAL_INSTALL) {
      console.warn('    (skipping the ~1 minute npm ci --omit=dev install outside CI; set GATEHOUSE_TEST_REAL_INSTALL=1 to run it)');
      this.skip();
    }
    if (process.getuid?.() !== 0) throw new Error('the install tests run as root');
    buildOnce();
    const root = tempDir('gatehouse-destdir-npm-');
    try {
      const result = install(root, 'npm', 340_000);
      expect(result.stdout).to.include('npm ci --omit=dev');
      const modules = join(root, 'opt/gatehouse/node_modules');
      expect(existsSync(join(modules, 'better-sqlite3/build/Release/better_sqlite3.node'))).to.equal(true);
      expect(existsSync(join(modules, 'typescript'))).to.equal(false);
      // install.sh itself opened an in-memory database and loaded argon2 from this tree.
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
