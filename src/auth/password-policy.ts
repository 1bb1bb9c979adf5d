// The password policy (NIST SP 800-63B-4): length, a bundled list of common passwords,
// context words, trivial repetition. No composition rules.

import { hostname } from 'node:os';
import { dictionary } from '@zxcvbn-ts/language-common';
import { PASSWORD_MAX_CHARS } from './passwords.js';

/** Minimum for a password used alone; 8 applies once an account has a second factor. */
export const MIN_LENGTH_SINGLE_FACTOR = 15;
export const MIN_LENGTH_WITH_SECOND_FACTOR = 8;

let common: Set<string> | null = null;
function commonPasswords(): Set<string> {
  common ??= new Set((dictionary['passwords-common'] as string[]).filter((p) => p.length >= MIN_LENGTH_WITH_SECOND_FACTOR));
  return common;
}

export interface PolicyContext {
  username: string;
  hasSecondFactor?: boolean;
}

/** Returns the problems with a new password (empty when it is acceptable). */
export function passwordProblems(password: string, context: PolicyContext): string[] {
  const problems: string[] = [];
  const min = context.hasSecondFactor ? MIN_LENGTH_WITH_SECOND_FACTOR : MIN_LENGTH_SINGLE_FACTOR;
  const length = [...password].length;
  if (length < min) problems.push(`Use at least ${min} characters (a few unrelated words make a good one).`);
  if (length > PASSWORD_MAX_CHARS) problems.push(`Use at most ${PASSWORD_MAX_CHARS} characters.`);
  const lower = password.toLowerCase();
  if (commonPasswords().has(lower)) problems.push('This password is on a list of commonly used passwords.');
  const repeated = /^(.+?)\1+$/su.exec(lower);
  if (repeated && ([...(repeated[1] as string)].length < 8 || commonPasswords().has(repeated[1] as string))) {
    problems.push('This password is a short piece repeated; choose something less predictable.');
  }
  const words = [context.username, 'gatehouse', hostname()].map((w) => w.toLowerCase()).filter((w) => w.length >= 3);
  let rest = lower;
  for (const w of words) rest = rest.split(w).join('');
  if (rest !== lower && [...rest.replace(/[^\p{L}\p{N}]/gu, '')].length < 8) {
    problems.push('This password is mostly your username, the host name or "gatehouse".');
  }
  return problems;
}

/**
 * Whether the user must choose a new password before doing anything else: an administrator
 * set it (reset), or `password.max_age` is configured and the password is older.
 */
export function passwordChangeRequired(
  user: { mustChangePassword: boolean; passwordChangedAt: number },
  maxAgeMs: number | null,
  now: number,
): boolean {
  return user.mustChangePassword || (maxAgeMs !== null && now - user.passwordChangedAt >= maxAgeMs);
}
