// Input checks shared by the API handlers: parse a body, query or path against its zod
// schema (400 with the field and the reason, never a 500), and who is calling, for audit.

import type { Request } from 'express';
import type { z } from 'zod';
import { AppError } from '../lib/errors.js';

type Where = 'body' | 'query' | 'path';

const CODES: Record<Where, string> = { body: 'invalid-body', query: 'invalid-query', path: 'invalid-parameter' };

/** Parses `value` or throws a 400 naming the first few problems and where they are. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: Where): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 3).map((issue) => {
    const field = issue.path.map(String).join('.');
    // Messages name fields and expectations; an unknown key is quoted, so keep each short.
    const text = field ? `${field}: ${issue.message}` : issue.message;
    return text.length > 200 ? `${text.slice(0, 199)}…` : text;
  });
  throw new AppError(CODES[where], 400, `The request ${where === 'path' ? 'address' : where} is not valid. ${problems.join('; ')}.`);
}

export const body = <S extends z.ZodType>(schema: S, req: Request): z.output<S> => parse(schema, req.body ?? {}, 'body');
export const query = <S extends z.ZodType>(schema: S, req: Request): z.output<S> => parse(schema, { ...req.query }, 'query');
export const params = <S extends z.ZodType>(schema: S, req: Request): z.output<S> => parse(schema, { ...req.params }, 'path');

/** The signed-in (or token-authenticated) user; the API guards ran before. */
export const caller = (req: Request): Express.User => req.user as Express.User;

/** Who did it, for the audit log: `token:<id>` for API tokens, `api:<username>` for cookie sessions. */
export function actor(req: Request): string {
  return req.apiToken ? `token:${req.apiToken.id}` : `api:${caller(req).username}`;
}
