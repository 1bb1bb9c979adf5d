// JSON request bodies for the API and the pages' JSON endpoints: small, strict (objects and
// arrays only), UTF-8 only, and bytes that are not valid UTF-8 refused with a 400 instead
// of silently replaced with U+FFFD (which could make two different inputs compare equal).

import express, { type RequestHandler } from 'express';
import { AppError } from '../lib/errors.js';

/** body-parser's verify hook: runs on the raw bytes before they are decoded. */
function refuseNonUtf8(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  // JSON is UTF-8 (RFC 8259 §8.1); the parser would also decode UTF-16 and UTF-32.
  if (encoding.toLowerCase() !== 'utf-8') throw new AppError('unsupported-charset', 415, 'Send the body as UTF-8 JSON.');
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new AppError('invalid-utf8', 400, 'The body is not valid UTF-8.');
  }
}

/** express.json for bodies of at most `limit`, with every content type read as JSON (callers check it first). */
export function strictJson(limit: string): RequestHandler {
  return express.json({ limit, strict: true, type: () => true, verify: refuseNonUtf8 });
}
