// The structured logger (pino): JSON lines on stdout for journald, human-readable lines
// when stdout is a terminal. Redaction is a second line of defence: secrets are never
// passed to the logger in the first place.

import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type { Logger };

const REDACT = [
  'password',
  '*.password',
  'token',
  '*.token',
  'sid',
  '*.sid',
  'sessionId',
  '*.sessionId',
  'secret',
  '*.secret',
  'req.headers.cookie',
  'req.headers.authorization',
  'headers.cookie',
  'headers.authorization',
];

export interface LoggerOptions {
  /** Human-readable lines instead of JSON; by default when stdout is a terminal. */
  pretty?: boolean;
}

/**
 * A logger writing to `destination` (stdout by default). JSON unless `pretty`: a service
 * under systemd has no terminal, so journald always gets one JSON object per line.
 */
export function createLogger(level: string, destination?: pino.DestinationStream, options: LoggerOptions = {}): Logger {
  const settings = { level, base: { service: 'gatehouse' }, redact: { paths: REDACT, censor: '[redacted]' } };
  const pretty = options.pretty ?? (destination === undefined && process.stdout.isTTY === true);
  const stream = pretty ? prettyStream(destination) : destination;
  return stream ? pino(settings, stream) : pino(settings);
}

/**
 * pino-pretty, loaded only when wanted: a server logging JSON never loads it (nor its
 * dependencies). If an install left it out, the logs stay JSON rather than the start fails.
 */
function prettyStream(destination: pino.DestinationStream | undefined): pino.DestinationStream | undefined {
  let pretty: typeof PinoPretty;
  try {
    pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  } catch (err) {
    process.stderr.write(`gatehouse: human-readable logs need the pino-pretty package (${(err as Error).message.split('\n')[0]}); logging JSON\n`);
    return destination;
  }
  return pretty({
    // Synchronous: a terminal is slow anyway, and lines written just before an exit
    // (a start-up error) must not be lost.
    sync: true,
    colorize: destination === undefined,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    // One line per entry, as in the journal; error stacks still get their own lines.
    singleLine: true,
    ...(destination ? { destination: destination as NodeJS.WritableStream } : {}),
  });
}

/** A logger that drops everything, for tests and CLI commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
