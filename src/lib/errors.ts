// Errors with a stable code, an HTTP status and a message that is safe to show a user.
// The cause is for the log only; it is never rendered.

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly publicMessage: string;
  /** Seconds, sent as Retry-After (429, 503). */
  readonly retryAfter: number | undefined;

  constructor(code: string, status: number, publicMessage: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(`${code}: ${publicMessage}`, options);
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.publicMessage = publicMessage;
    this.retryAfter = options?.retryAfter;
  }
}

/**
 * A failure an operator can act on (the CLI, backups, restores): the message is for them,
 * `exitCode` follows the CLI (1 failed, 2 usage or configuration).
 */
export class OperatorError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'OperatorError';
  }
}

/** The request's session, or the authentication it rested on, ended while it ran: answered as signed out. */
export const sessionEnded = (cause?: unknown): AppError =>
  new AppError('session-ended', 401, 'Your session has ended. Please sign in again.', cause === undefined ? undefined : { cause });

export const badRequest = (code: string, message: string): AppError => new AppError(code, 400, message);
export const conflict = (code: string, message: string): AppError => new AppError(code, 409, message);
export const forbidden = (code: string, message: string): AppError => new AppError(code, 403, message);
export const notFound = (code: string, message: string): AppError => new AppError(code, 404, message);

/** True for errors that mean the database cannot answer (locked, I/O, closed). */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'SqliteError') {
    const code = (err as Error & { code?: string }).code ?? '';
    return /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|CORRUPT|NOTADB|FULL|READONLY|PROTOCOL)/.test(code);
  }
  // better-sqlite3 throws a TypeError once the connection is closed.
  return err instanceof TypeError && /database connection is not open/i.test(err.message);
}
