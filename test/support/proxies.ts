// Real reverse proxies for e2e tests: a self-signed certificate for *.home.test, a tiny
// upstream that echoes the Remote-* headers it receives, and nginx (auth_request) or Caddy
// (forward_auth) started on free loopback ports with a config generated here.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';

export const DOMAIN = 'home.test';

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

/** A self-signed certificate for home.test and *.home.test. */
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

/** The protected home service: answers with the identity headers the proxy passed on. */
export async function startUpstream(): Promise<{ port: number; server: Server; seen: Array<Record<string, string | undefined>> }> {
  const seen: Array<Record<string, string | undefined>> = [];
  const server = createServer((req, res) => {
    const who = {
      host: req.headers.host,
      path: req.url,
      user: req.headers['remote-user'] as string | undefined,
      groups: req.headers['remote-groups'] as string | undefined,
      name: req.headers['remote-name'] as string | undefined,
      cookie: req.headers.cookie,
    };
    seen.push(who);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>upstream</title><p id="who">user=${who.user ?? ''} groups=${who.groups ?? ''}</p>`);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, server, seen };
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

/**
 * nginx with auth_request, the way the README documents it: the portal host proxies to
 * gatehouse; the app hosts ask /auth/verify first and pass the Remote-* headers on.
 */
export async function startNginx(dir: string, tls: { cert: string; key: string }, gatehouse: number, upstream: number, port: number): Promise<RunningProxy> {
  const prefix = join(dir, 'nginx');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process off;
pid ${prefix}/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  ssl_certificate ${tls.cert};
  ssl_certificate_key ${tls.key};

  map $http_cookie $cookie_without_gatehouse {
    default $http_cookie;
    "~^(?<before>.*?)(?:^|;\\s*)__Secure-gatehouse_forward=[^;]*(?<after>.*)$" "$before$after";
  }

  server {
    listen 127.0.0.1:${port} ssl;
    server_name auth.${DOMAIN};
    location / {
      proxy_pass http://127.0.0.1:${gatehouse};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }

  server {
    listen 127.0.0.1:${port} ssl;
    server_name app.${DOMAIN} admin.${DOMAIN};
    location / {
      auth_request /internal/gatehouse;
      auth_request_set $user $upstream_http_remote_user;
      auth_request_set $groups $upstream_http_remote_groups;
      auth_request_set $name $upstream_http_remote_name;
      auth_request_set $email $upstream_http_remote_email;
      auth_request_set $login $upstream_http_location;
      proxy_set_header Remote-User $user;
      proxy_set_header Remote-Groups $groups;
      proxy_set_header Remote-Name $name;
      proxy_set_header Remote-Email $email;
      proxy_set_header Cookie $cookie_without_gatehouse;
      proxy_set_header Host $http_host;
      error_page 401 =302 $login;
      proxy_pass http://127.0.0.1:${upstream};
    }
    location = /internal/gatehouse {
      internal;
      proxy_pass http://127.0.0.1:${gatehouse}/auth/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`,
  );
  return run('/usr/sbin/nginx', ['-p', prefix, '-c', conf], port);
}

/** Caddy with forward_auth, the way the README documents it. */
export async function startCaddy(dir: string, tls: { cert: string; key: string }, gatehouse: number, upstream: number, port: number): Promise<RunningProxy> {
  const httpPort = await freePort();
  const home = join(dir, 'caddy');
  mkdirSync(home, { recursive: true });
  const file = join(home, 'Caddyfile');
  writeFileSync(
    file,
    `{
  admin off
  http_port ${httpPort}
  https_port ${port}
  auto_https disable_redirects
  skip_install_trust
  storage file_system ${home}/data
}

https://auth.${DOMAIN}:${port} {
  bind 127.0.0.1
  tls ${tls.cert} ${tls.key}
  reverse_proxy 127.0.0.1:${gatehouse}
}

https://app.${DOMAIN}:${port}, https://admin.${DOMAIN}:${port} {
  bind 127.0.0.1
  tls ${tls.cert} ${tls.key}
  forward_auth 127.0.0.1:${gatehouse} {
    uri /auth/forward
    copy_headers Remote-User Remote-Groups Remote-Name Remote-Email
  }
  reverse_proxy 127.0.0.1:${upstream} {
    header_up Cookie "(^|;\\s*)__Secure-gatehouse_forward=[^;]*" "$1"
  }
}
`,
  );
  return run('/usr/bin/caddy', ['run', '--config', file, '--adapter', 'caddyfile'], port, {
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
  });
}
