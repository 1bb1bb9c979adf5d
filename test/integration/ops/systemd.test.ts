// The systemd unit as systemd judges it (security exposure, verify) and the real server's
// readiness notifications on a real NOTIFY_SOCKET datagram socket.

import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { packageRoot } from '../../../src/lib/paths.js';
import { notifySystemd } from '../../../src/lib/systemd.js';
import { buildOnce } from '../../support/cli.js';
import { tempDir } from '../../support/harness.js';
import { freePort } from '../../support/proxies.js';

const UNIT = join(packageRoot, 'systemd', 'gatehouse.service');

function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** In a mocha `before`: skip visibly when a tool is missing, except in CI, where it fails. */
function requireTools(ctx: Mocha.Context, tools: string[]): void {
  const missing = tools.filter((t) => !has(t));
  if (!missing.length) return;
  const message = `${missing.join(', ')} not installed; run scripts/install-test-deps.sh`;
  if (process.env.CI) throw new Error(message);
  console.warn(`    (skipping: ${message})`);
  ctx.skip();
}

/** `systemd-analyze security --offline` on a unit file: the overall exposure (0-10). */
function exposureOf(unitFile: string): { score: number; report: string } {
  const run = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unitFile], { encoding: 'utf8' });
  const report = `${run.stdout}${run.stderr}`;
  const match = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(report);
  if (!match) throw new Error(`no overall exposure in the report:\n${report}`);
  return { score: Number(match[1]), report };
}

/** `systemd-analyze verify` on a unit file: exit status and everything it printed. */
function verifyUnit(unitFile: string): { status: number | null; output: string } {
  const run = spawnSync('systemd-analyze', ['verify', '--man=no', '--generators=no', unitFile], { encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

describe('the systemd unit (systemd/gatehouse.service)', function () {
  before(function () {
    requireTools(this, ['systemd-analyze']);
  });

  it('scores an overall exposure of at most 1.5 in systemd-analyze security', function () {
    const { score, report } = exposureOf(UNIT);
    expect(score, report).to.be.at.most(1.5);
    // The same bar through systemd's own threshold (tenths): exit status 0 only at or below 1.5.
    const threshold = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=15', UNIT], { stdio: 'ignore' });
    expect(threshold.status).to.equal(0);
  });

  it('passes systemd-analyze verify without a single complaint', function () {
    const { status, output } = verifyUnit(UNIT);
    expect(output).to.equal('');
    expect(status).to.equal(0);
  });

  it('runs the built server with the same runtime settings as npm start, as Type=notify', function () {
    const unit = readFileSync(UNIT, 'utf8');
    const start = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    const nodeFlags = start.match(/--[a-z-]+(=\S+)?/g) ?? [];
    const envs = start.match(/\b[A-Z_]+=\S+/g) ?? [];
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    expect(execStart).to.match(/^\/\S+\/node /);
    expect(execStart).to.match(/ \/opt\/gatehouse\/dist\/server\.js$/);
    for (const flag of nodeFlags) expect(execStart).to.include(` ${flag} `);
    for (const env of envs) expect(unit).to.match(new RegExp(`^Environment=.*\\b${env}\\b`, 'm'));
    expect(unit).to.match(/^Type=notify$/m);
    expect(unit).to.match(/^Restart=on-failure$/m);
    expect(unit).to.match(/^TimeoutStartSec=\d+/m);
    // V8's JIT needs writable+executable memory: Node aborts with MemoryDenyWriteExecute=yes.
    expect(unit).to.match(/^MemoryDenyWriteExecute=no$/m);
  });
});

/*
 * A stand-in for PID 1's notification socket: a unix datagram socket that prints each
 * message as a JSON line and, like systemd, closes the file descriptors that come with a
 * message (systemd-notify's BARRIER=1 waits for exactly that).
 */
const RECEIVER = String.raw`
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"bound": True}), flush=True)
while True:
    data, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(64))
    fds = array.array("i")
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(cdata[: len(cdata) - len(cdata) % fds.itemsize])
    print(json.dumps({"message": data.decode("utf-8", "replace")}), flush=True)
    for fd in fds:
        os.close(fd)
`;

interface Receiver {
  path: string;
  /** Resolves with the first message containing `line` (a whole line such as READY=1). */
  next(line: string, timeoutMs?: number): Promise<string>;
  stop(): void;
}

async function startReceiver(dir: string): Promise<Receiver> {
  const path = join(dir, 'notify.sock');
  const child = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  const waiters: Array<() => void> = [];
  let buffer = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const entry = JSON.parse(buffer.slice(0, nl)) as { bound?: boolean; message?: string };
      buffer = buffer.slice(nl + 1);
      messages.push(entry.bound ? '(bound)' : (entry.message ?? ''));
      for (const wake of waiters.splice(0)) wake();
    }
  });
  const next = (line: string, timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${line} within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)), timeoutMs);
      const look = () => {
        const found = messages.find((m) => m.split('\n').includes(line));
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        } else waiters.push(look);
      };
      look();
    });
  await next('(bound)', 5000);
  return { path, next, stop: () => child.kill('SIGKILL') };
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exitOf(child: ChildProcess, timeoutMs = 15_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error('the server did not exit')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function captureLog(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

describe('readiness notification to systemd (Type=notify)', function () {
  let dir: string;
  let receiver: Receiver | undefined;
  let server: ChildProcess | undefined;

  before(function () {
    requireTools(this, ['systemd-notify', 'python3']);
    buildOnce();
  });
  beforeEach(() => {
    dir = tempDir('gatehouse-notify-');
  });
  afterEach(() => {
    server?.kill('SIGKILL');
    server = undefined;
    receiver?.stop();
    receiver = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('the real server sends READY=1 once its port accepts connections, and STOPPING=1 on SIGTERM', async function () {
    receiver = await startReceiver(dir);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GATEHOUSE_')) env[k] = v;
    Object.assign(env, { NOTIFY_SOCKET: receiver.path, GATEHOUSE_DATA_DIR: join(dir, 'data'), GATEHOUSE_PORT: String(port), GATEHOUSE_LOG_LEVEL: 'warn' });
    const child = spawn(process.execPath, ['--max-semi-space-size=4', join(packageRoot, 'dist', 'server.js')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    server = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));

    const ready = await receiver.next('READY=1');
    // READY=1 is sent after listen() succeeded: by the time it arrives the port answers.
    expect(await acceptsConnections(port), 'port open when READY=1 arrived').to.equal(true);
    expect(ready.split('\n')).to.include(`STATUS=listening on http://127.0.0.1:${port}`);

    child.kill('SIGTERM');
    await receiver.next('STOPPING=1');
    expect(await exitOf(child)).to.equal(0);
    expect(stderr).to.not.match(/telling systemd failed/);
  });

  it('does nothing when NOTIFY_SOCKET is unset (not started by systemd)', async function () {
    const { log, lines } = captureLog();
    expect(await notifySystemd('READY=1', log, { env: { PATH: process.env.PATH } })).to.equal(false);
    expect(lines).to.deep.equal([]);
  });

  it('a notification that cannot be delivered is logged as a warning, never thrown', async function () {
    const { log, lines } = captureLog();
    const env = { PATH: process.env.PATH, NOTIFY_SOCKET: join(dir, 'nobody-listens.sock') };
    expect(await notifySystemd('STOPPING=1', log, { env })).to.equal(false);
    const warning = lines.find((l) => l.msg === 'telling systemd failed');
    expect(warning, JSON.stringify(lines)).to.include({ level: 40, state: 'STOPPING=1' });
  });

  it('a status line cannot smuggle a second notification (newlines are flattened)', async function () {
    receiver = await startReceiver(dir);
    const { log } = captureLog();
    const env = { PATH: process.env.PATH, NOTIFY_SOCKET: receiver.path };
    expect(await notifySystemd('READY=1', log, { env, status: 'listening\nSTOPPING=1' })).to.equal(true);
    const message = await receiver.next('READY=1');
    expect(message.split('\n')).to.deep.equal(['READY=1', 'STATUS=listening STOPPING=1']);
  });
});
