// Field schemas for the pages' urlencoded forms, and parsing a form into a 400 with its
// first problem. One text value per field (a repeated field arrives as an array).

import { z } from 'zod';
import { AppError } from '../lib/errors.js';
import { INVISIBLE } from '../users/username.js';

const single = (label: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? `${label} is missing.` : `${label} must be a single text value.`),
});

/** One text value (not a list), bounded, without control or invisible characters. */
export function formText(label: string, max: number) {
  return z
    .string(single(label))
    .max(max, { error: `${label} is too long (at most ${max} characters).` })
    .refine((v) => !INVISIBLE.test(v), { error: `${label} contains control or invisible characters.` });
}

/** Password fields: bounded here; everything else is the password policy's business. */
export function formPassword(label: string) {
  return z.string(single(label)).max(4096, { error: `${label} is too long.` });
}

/** The first problem of a failed parse, for the page. */
export function firstProblem(error: z.ZodError): string {
  return error.issues[0]?.message ?? 'The form was not filled in correctly.';
}

/** Parses a form body with `schema`; a 400 with the first problem otherwise. */
export function parseForm<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw new AppError('invalid-form', 400, firstProblem(parsed.error));
  return parsed.data;
}
