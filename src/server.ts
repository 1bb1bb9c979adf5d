// Entry point: load and validate config, open and migrate the database, build the app,
// listen, print the first-run setup link, and drain gracefully on SIGTERM/SIGINT.

import { createServer, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { createContext, type AppContext } from './context.js';
import { createRequestListener } from './http/app.js';
import { createLogger } from './lib/log.js';
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
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 15_000, maxHeaderSize: 16_384 }, createRequestListener(ctx));
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
  log.info({ url, dataDir: config.data_dir }, 'gatehouse listening');

  const setup = ctx.setup.issueIfNeeded();
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

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= new Promise<void>((resolve) => {
      log.info('stopping: draining connections');
      stopSweeper();
      stopThrottleSweeper();
      const force = setTimeout(() => server.closeAllConnections(), config.server.shutdown_timeout);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        try {
          ctx.close();
        } catch (err) {
          log.error({ err }, 'closing the database failed');
        }
        log.info('stopped');
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
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const running = await startServer(config);
  const onSignal = (signal: string) => {
    running.ctx.log.info({ signal }, 'signal received');
    void running.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    process.stderr.write(`gatehouse: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
