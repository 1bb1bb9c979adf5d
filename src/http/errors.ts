// Mapping errors to answers: a stable code, the right status and a safe message. Causes of
// 5xx are logged with the request id, never shown.

import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import type { Logger } from '../lib/log.js';
import { AppError, isDatabaseUnavailable, sessionEnded } from '../lib/errors.js';
import { SessionEndedError } from '../sessions/store.js';
import { renderPage } from './views.js';

const BODY_ERRORS: Record<string, [number, string, string]> = {
  'entity.too.large': [413, 'payload-too-large', 'The request body is too large.'],
  'parameters.too.many': [413, 'too-many-parameters', 'The form has too many fields.'],
  'entity.parse.failed': [400, 'malformed-body', 'The request body could not be parsed.'],
  'entity.verify.failed': [400, 'malformed-body', 'The request body could not be parsed.'],
  'encoding.unsupported': [415, 'unsupported-encoding', 'The request body encoding is not supported.'],
  'charset.unsupported': [415, 'unsupported-charset', 'The request body character set is not supported.'],
  'request.aborted': [400, 'request-aborted', 'The request was aborted.'],
  'request.size.invalid': [400, 'malformed-body', 'The request body length does not match its header.'],
  'stream.encoding.set': [500, 'internal', 'Something went wrong.'],
};

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // The session (or the authentication it rested on) ended while the request ran.
  if (err instanceof SessionEndedError) return sessionEnded(err);
  const e = err as { type?: string; code?: string; status?: number; expose?: boolean; message?: string };
  if (e?.code === 'EBADCSRFTOKEN') {
    return new AppError('csrf-invalid', 403, 'This form has expired or was not sent from this site. Reload the page and try again.', { cause: err });
  }
  const body = e?.type ? BODY_ERRORS[e.type] : undefined;
  if (body) return new AppError(body[1], body[0], body[2], { cause: err });
  if (err instanceof URIError) return new AppError('malformed-url', 400, 'The address is malformed.', { cause: err });
  if (isDatabaseUnavailable(err)) return new AppError('unavailable', 503, 'gatehouse cannot reach its database right now. Try again shortly.', { cause: err });
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new AppError('bad-request', e.status, e.expose && e.message ? e.message : 'The request was not valid.', { cause: err });
  }
  return new AppError('internal', 500, 'Something went wrong. The details are in the server log.', { cause: err });
}

export function wantsJson(req: Request): boolean {
  return req.path.startsWith('/api/') || (req.accepts(['html', 'json']) === 'json');
}

export function sendError(req: Request, res: Parameters<RequestHandler>[1], error: AppError): void {
  if (wantsJson(req)) {
    // Every 401 of the API names its scheme (RFC 9110), also a session that ended mid-request.
    if (error.status === 401 && req.path.startsWith('/api/') && !res.get('WWW-Authenticate')) res.set('WWW-Authenticate', 'Bearer realm="gatehouse"');
    res.status(error.status).set('Cache-Control', 'no-store').json({ error: { code: error.code, message: error.publicMessage } });
    return;
  }
  renderPage(res, 'error.njk', { title: error.status === 404 ? 'Not found' : 'Something is not right', message: error.publicMessage, status: error.status }, error.status);
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendError(req, res, new AppError('not-found', 404, 'There is no page at this address.'));
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    const error = toAppError(err);
    const requestId = res.locals.requestId as string | undefined;
    // A full hash queue is load, not a fault: a warning, and the client is told when to retry.
    if (error.code === 'busy') log.warn({ requestId, path: req.path }, 'refused: password hashing is at capacity');
    else if (error.status >= 500) log.error({ err: error.cause ?? err, requestId, method: req.method, path: req.path, code: error.code }, 'request failed');
    else log.debug({ requestId, code: error.code, status: error.status, path: req.path }, 'request refused');
    if (res.headersSent) return next(err);
    if (error.retryAfter !== undefined) res.set('Retry-After', String(error.retryAfter));
    else if (error.status === 503) res.set('Retry-After', '5');
    sendError(req, res, error);
  };
}
