// Real reverse proxies for e2e tests, configured with the README's own snippets: the fenced
// ```nginx and ```caddy blocks of README.md, changed only where SUBSTITUTED below says
// (ports, addresses, certificate paths, the protected host's names), so the docs and the
// tests cannot drift apart. Also a self-signed certificate for *.home.example and a tiny
// upstream that records the identity headers it receives.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const README = join(dirname(fileURLToPath(import.meta.url)), '../../README.md');

/** The README's domain, kept as is (`.example` is reserved): the snippets' host names stay. */
export const DOMAIN = 'home.example';
/** The README's protected service; the tests serve the admins-only and bypass hosts with it. */
export const SERVICE_HOSTS = ['photos', 'admin', 'public'] as const;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

export function proxiesAvailable(): string | null {
  for (const [name, path] of [
    ['nginx', '/usr/sbin/nginx'],
    ['caddy', '/usr/bin/caddy'],
    ['openssl', '/usr/bin/openssl'],
  ]) {
    if (!existsSync(path as string)) return name as string;
  }
  return null;
}

/** A self-signed certificate for home.example and *.home.example (nginx; Caddy uses `tls internal`). */
export function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', key, '-out', cert, '-subj', `/CN=${DOMAIN}`,
    '-addext', `subjectAltName=DNS:${DOMAIN},DNS:*.${DOMAIN}`,
  ], { stdio: 'ignore' });
  return { cert, key };
}

/** What the upstream received: the usual identity headers, and every header named Remote… as sent. */
export interface Seen {
  host?: string;
  path?: string;
  user?: string;
  groups?: string;
  name?: string;
  email?: string;
  cookie?: string;
  /** [name, value] of every header whose name starts with "remote" (any case or separator). */
  identity: Array<[string, string]>;
}

export interface Upstream {
  port: number;
  server: Server;
  seen: Seen[];
}

const one = (headers: IncomingHttpHeaders, name: string) => headers[name] as string | undefined;

/** The protected home service: answers with the identity headers the proxy passed on. */
export async function startUpstream(): Promise<Upstream> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const identity: Array<[string, string]> = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i] as string;
      if (/^remote/i.test(name)) identity.push([name, req.rawHeaders[i + 1] as string]);
    }
    const h = req.headers;
    const who: Seen = { host: h.host, path: req.url, user: one(h, 'remote-user'), groups: one(h, 'remote-groups'), name: one(h, 'remote-name'), email: one(h, 'remote-email'), cookie: h.cookie, identity };
    seen.push(who);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>upstream</title><p id="who">user=${who.user ?? ''} groups=${who.groups ?? ''}</p>`);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, server, seen };
}

export interface ProxyReply {
  status: number;
  location?: string;
  body: string;
}

/** A plain HTTPS request through the proxy, for `host` (SNI and Host), any certificate accepted. */
export function throughProxy(port: number, host: string, path: string, headers: Record<string, string> = {}): Promise<ProxyReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, servername: host, path, rejectUnauthorized: false, agent: false, headers: { host: `${host}:${port}`, ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

// ---- The README's snippets ----

/** The one fenced block of README.md in this language, exactly as a reader copies it. */
export function readmeSnippet(lang: 'nginx' | 'caddy'): string {
  const blocks = [...readFileSync(README, 'utf8').matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === lang);
  if (blocks.length !== 1) throw new Error(`README.md has ${blocks.length} \`\`\`${lang} blocks; the proxy tests expect exactly one`);
  return (blocks[0] as RegExpMatchArray)[2] as string;
}

/**
 * What the snippets say that the tests change, and nothing else: where gatehouse and the
 * service listen, the port the proxy listens on (nginx; Caddy takes it from the global
 * https_port option), nginx's certificate paths, and the protected service's host name, to
 * which the tests add the admins-only and bypass hosts of their access rules.
 */
const SUBSTITUTED = {
  gatehouse: '127.0.0.1:8480',
  service: '127.0.0.1:2342',
  nginxListen: 'listen 443 ssl;',
  nginxCert: '/etc/ssl/home.example/fullchain.pem',
  nginxKey: '/etc/ssl/home.example/privkey.pem',
  nginxService: 'server_name photos.home.example;',
  caddyService: 'photos.home.example {',
} as const;

/** Replaces every occurrence of each `from`; a `from` the snippet no longer has is an error. */
function substitute(text: string, pairs: Array<[string, string]>): string {
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`README snippet no longer contains ${JSON.stringify(from)}: update SUBSTITUTED in test/support/proxies.ts`);
    text = text.replaceAll(from, to);
  }
  return text;
}

const serviceHosts = SERVICE_HOSTS.map((h) => `${h}.${DOMAIN}`);

export interface ProxyOptions {
  dir: string;
  tls: { cert: string; key: string };
  /** gatehouse's and the service's ports on 127.0.0.1, and the proxy's HTTPS port. */
  gatehouse: number;
  upstream: number;
  port: number;
}

export interface RunningProxy {
  port: number;
  stop(): Promise<void>;
  output(): string;
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`proxy exited (${child.exitCode}):\n${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createNetServer();
      socket.once('error', () => resolve(true)); // in use: the proxy is listening
      socket.listen(port, '127.0.0.1', () => socket.close(() => resolve(false)));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`proxy did not listen on ${port}:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function run(command: string, args: string[], port: number, env: Record<string, string> = {}): Promise<RunningProxy> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const output = () => text;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    });
  return waitForPort(port, child, output).then(
    () => ({ port, stop, output }),
    async (err: unknown) => {
      await stop();
      throw err;
    },
  );
}

// ---- nginx ----

/**
 * An nginx.conf that includes the snippet file inside its http block, as Debian's does with
 * /etc/nginx/conf.d/*.conf; the rest only keeps nginx's files in the temporary prefix.
 */
function nginxConf(prefix: string, snippet: string, options: { run: boolean; http?: string[] }): string {
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const included = join(prefix, 'gatehouse.conf');
  writeFileSync(included, snippet);
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    [
      ...(options.run ? ['daemon off;', 'master_process off;'] : []),
      `pid ${prefix}/nginx.pid;`,
      'error_log stderr warn;',
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${prefix}/${t};`),
      ...(options.http ?? []).map((line) => `  ${line}`),
      `  include ${included};`,
      '}',
      '',
    ].join('\n'),
  );
  return conf;
}

const certificatePaths = (tls: { cert: string; key: string }): Array<[string, string]> => [
  [SUBSTITUTED.nginxCert, tls.cert],
  [SUBSTITUTED.nginxKey, tls.key],
];

export interface CheckResult {
  status: number | null;
  output: string;
}

function check(command: string, args: string[], env: Record<string, string> = {}): CheckResult {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** `nginx -t` on the README's snippet with only the certificate paths substituted. */
export function checkNginx(dir: string, tls: { cert: string; key: string }): CheckResult {
  const prefix = join(dir, 'nginx-check');
  const conf = nginxConf(prefix, substitute(readmeSnippet('nginx'), certificatePaths(tls)), { run: false });
  return check('/usr/sbin/nginx', ['-t', '-e', 'stderr', '-p', prefix, '-c', conf]);
}

/**
 * nginx running the README's snippet. `http` adds directives to the surrounding http block,
 * e.g. `underscores_in_headers on;` to show the snippet does not depend on nginx's default.
 */
export async function startNginx(options: ProxyOptions & { http?: string[] }): Promise<RunningProxy> {
  const { dir, tls, gatehouse, upstream, port } = options;
  const prefix = join(dir, `nginx-${port}`);
  const snippet = substitute(readmeSnippet('nginx'), [
    ...certificatePaths(tls),
    [SUBSTITUTED.nginxListen, `listen 127.0.0.1:${port} ssl;`],
    [SUBSTITUTED.gatehouse, `127.0.0.1:${gatehouse}`],
    [SUBSTITUTED.service, `127.0.0.1:${upstream}`],
    [SUBSTITUTED.nginxService, `server_name ${serviceHosts.join(' ')};`],
  ]);
  return run('/usr/sbin/nginx', ['-e', 'stderr', '-p', prefix, '-c', nginxConf(prefix, snippet, { run: true, http: options.http })], port);
}

// ---- Caddy ----

function caddyEnv(home: string): Record<string, string> {
  return { HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data') };
}

/** `caddy validate` on the README's Caddyfile exactly as it is (it binds no port). */
export function checkCaddy(dir: string): CheckResult {
  const home = join(dir, 'caddy-check');
  mkdirSync(home, { recursive: true });
  const file = join(home, 'Caddyfile');
  writeFileSync(file, readmeSnippet('caddy'));
  return check('/usr/bin/caddy', ['validate', '--config', file], caddyEnv(home));
}

/**
 * Caddy running the README's Caddyfile behind a global options block of the test's own:
 * ports, loopback only, no admin API, storage in the temporary directory, and no change to
 * the system's trust store for the `tls internal` CA.
 */
export async function startCaddy(options: ProxyOptions): Promise<RunningProxy> {
  const { dir, gatehouse, upstream, port } = options;
  const home = join(dir, `caddy-${port}`);
  mkdirSync(home, { recursive: true });
  const file = join(home, 'Caddyfile');
  const snippet = substitute(readmeSnippet('caddy'), [
    [SUBSTITUTED.gatehouse, `127.0.0.1:${gatehouse}`],
    [SUBSTITUTED.service, `127.0.0.1:${upstream}`],
    [SUBSTITUTED.caddyService, `${serviceHosts.join(', ')} {`],
  ]);
  const globals = ['admin off', `http_port ${await freePort()}`, `https_port ${port}`, 'default_bind 127.0.0.1', 'auto_https disable_redirects', 'skip_install_trust', `storage file_system ${home}/data`];
  writeFileSync(file, `{\n${globals.map((g) => `    ${g}\n`).join('')}}\n\n${snippet}`);
  const proxy = await run('/usr/bin/caddy', ['run', '--config', file, '--adapter', 'caddyfile'], port, caddyEnv(home));
  // `tls internal` issues the certificates just after Caddy starts listening: wait for each.
  const deadline = Date.now() + 15_000;
  for (const host of [`auth.${DOMAIN}`, ...serviceHosts]) {
    for (;;) {
      try {
        await throughProxy(port, host, '/.ready', { accept: 'text/plain' });
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          await proxy.stop();
          throw new Error(`Caddy has no certificate for ${host}: ${String(err)}\n${proxy.output()}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  return proxy;
}
