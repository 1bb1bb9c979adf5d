// Entry point: load and validate config, open and migrate the database, build the app,
// listen, print the first-run setup link, and drain gracefully on SIGTERM/SIGINT.

import { createServer, type Server, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import { ConfigError, dataDirSource, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { createContext, type AppContext } from './context.js';
import { checkDataDir } from './db/data-dir.js';
import { createRequestListener } from './http/app.js';
import { OperatorError } from './lib/errors.js';
import { createLogger } from './lib/log.js';
import { notifySystemd } from './lib/systemd.js';
import { startAuditSweeper } from './audit/sweeper.js';
import { startSweeper } from './sessions/sweeper.js';
import { startThrottleSweeper } from './throttle/sweeper.js';

export interface RunningServer {
  server: Server;
  ctx: AppContext;
  url: string;
  stop(): Promise<void>;
}

export function setupLink(baseUrl: string, token: string): string {
  return `${baseUrl}/setup?token=${token}`;
}

export function displayBase(config: Config, port: number): string {
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const shown = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
  return `http://${shown}:${port}`;
}

/** Starts the service; resolves once it is listening. */
export async function startServer(config: Config): Promise<RunningServer> {
  const log = createLogger(config.log.level);
  const ctx = createContext(config, { log });
  await ctx.hasher.prepare();
  const listener = createRequestListener(ctx);
  // Responses not yet finished, so a stop can ask each client to close its keep-alive
  // connection once its answer is sent (see stop below).
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 15_000, maxHeaderSize: 16_384 }, (req, res) => {
    if (draining) res.setHeader('Connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    listener(req, res);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const url = displayBase(config, port);
  const stopSweeper = startSweeper(ctx.sessions, { touchMs: config.session.touch_interval, sweepMs: config.session.sweep_interval }, log);
  const stopThrottleSweeper = startThrottleSweeper(ctx, config.session.sweep_interval, log);
  const stopAuditSweeper = startAuditSweeper(ctx, config.audit.retention, config.session.sweep_interval, log);
  log.info({ url, dataDir: config.data_dir }, 'gatehouse listening');

  // Under systemd stdout is the journal, which other accounts (adm, systemd-journal) can
  // read and which is kept for weeks: no secret goes there. The operator asks for a link.
  const underSystemd = process.env.INVOCATION_ID !== undefined || process.env.JOURNAL_STREAM !== undefined;
  if (underSystemd && ctx.users.count() === 0) {
    log.warn('no users yet: create the first administrator with a one-time link from "sudo gatehouse setup-link"');
  }
  const setup = underSystemd ? null : ctx.setup.issueIfNeeded();
  if (setup) {
    ctx.audit.setupTokenIssued();
    // The one secret gatehouse ever prints: the operator needs it to create the first
    // account. It is single-use and expires; it goes to the console, not the audit log.
    process.stdout.write(
      `\n  No users yet. Create the first administrator within ${Math.round(config.setup.token_lifetime / 60_000)} minutes at:\n\n` +
        `    ${setupLink(url, setup.token)}\n\n` +
        `  (behind a reverse proxy, open the same /setup?token=… path on the proxy's address)\n\n`,
    );
  }

  void notifySystemd('READY=1', log, { status: `listening on ${url}` }); // only once listen() succeeded
  let stopping: Promise<void> | null = null;
  /**
   * Graceful stop: refuse new connections at once, let requests already received finish
   * (at most server.shutdown_timeout, then their connections are cut), then write pending
   * session touches, checkpoint the WAL into the database file and close it. Rejects only
   * if closing the database failed.
   */
  const stop = () =>
    (stopping ??= new Promise<void>((resolve, reject) => {
      const started = Date.now();
      log.info({ inFlight: inFlight.size }, 'stopping: draining connections');
      void notifySystemd('STOPPING=1', log);
      stopSweeper();
      stopThrottleSweeper();
      stopAuditSweeper();
      draining = true;
      // server.close() only stops listening: a keep-alive connection would stay open after
      // its last answer (up to keepAliveTimeout). "Connection: close" on the answers still
      // to come makes Node end each connection as soon as its answer is sent.
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      let cut = false;
      const force = setTimeout(() => {
        cut = true;
        log.warn({ inFlight: inFlight.size, timeoutMs: config.server.shutdown_timeout }, 'stopping: shutdown_timeout reached, cutting the remaining connections');
        server.closeAllConnections();
      }, config.server.shutdown_timeout);
      // Answers whose headers were already sent cannot carry the header: close their
      // connections once idle.
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      force.unref();
      idle.unref();
      server.close(() => {
        clearTimeout(force);
        clearInterval(idle);
        try {
          ctx.close();
        } catch (err) {
          log.error({ err }, 'stopping: closing the database failed');
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        log.info({ ms: Date.now() - started, cutConnections: cut }, 'stopped');
        resolve();
      });
      server.closeIdleConnections();
    }));
  return { server, ctx, url, stop };
}

export async function main(): Promise<void> {
  // Everything gatehouse creates (database, WAL, secrets) is for the service account only.
  process.umask(0o077);
  let config: Config;
  try {
    config = loadConfig();
    // A data dir that is a file: said with its path and origin, not as mkdir's EEXIST.
    checkDataDir(config.data_dir, 'creatable', dataDirSource());
  } catch (err) {
    if (err instanceof ConfigError || err instanceof OperatorError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const running = await startServer(config);
  let signals = 0;
  const onSignal = (signal: string) => {
    signals += 1;
    if (signals > 1) {
      // A second Ctrl-C means "now": committed writes are safe in SQLite either way.
      running.ctx.log.warn({ signal }, 'second signal: exiting without waiting for the drain');
      process.exit(1);
    }
    running.ctx.log.info({ signal }, 'signal received');
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    process.stderr.write(`gatehouse: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
