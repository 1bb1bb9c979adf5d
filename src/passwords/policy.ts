// The password policy (NIST SP 800-63B-4), the same wherever a password is set: length, a
// bundled list of common passwords, context words, trivial repetition, and zxcvbn's estimate
// of the guesses needed (sequences, keyboard walks, repeats, words with digits). No
// composition rules.

import { hostname } from 'node:os';
import { dictionary } from '@zxcvbn-ts/language-common';
import { PASSWORD_MAX_CHARS } from './hasher.js';
import { sharedStrengthEstimator, type Estimate, type StrengthEstimator } from './strength-estimator.js';

/** Minimum for a password used alone; 8 applies once an account has a second factor. */
export const MIN_LENGTH_SINGLE_FACTOR = 15;
export const MIN_LENGTH_WITH_SECOND_FACTOR = 8;

/**
 * The guesses zxcvbn must estimate for a password used alone: 10^10, its top score (4).
 * Four unrelated words pass easily (about 10^20); "Password123456!" (about 10^7.5) and
 * "dragon2024dragon" (10^8) do not. Offline, 10^10 guesses against an argon2id hash take
 * a GPU weeks to months, per account.
 */
export const MIN_GUESSES_SINGLE_FACTOR = 1e10;
/**
 * With a second factor: 10^7. The password then only has to stand up to guessing that the
 * second factor already stops; an 8-character password cannot reach 10^10 in zxcvbn's
 * model (at most 10^8 for 8 random characters), while "Summer24" (10^4.6) stays refused.
 */
export const MIN_GUESSES_WITH_SECOND_FACTOR = 1e7;

/**
 * Who causes an estimate (a signed-in user, the setup page's visitor), as built by
 * StrengthBudget.requester() (src/throttle/strength-budget.ts). The CLI has none.
 */
export interface Requester {
  /** "user:<id>" or "ip:<address>": their checks get a bounded share of the estimator's queue. */
  readonly key: string;
  /** Pays for one estimate; throws (429 AppError) when their budget is spent. */
  charge(): void;
}

let common: Set<string> | null = null;
function commonPasswords(): Set<string> {
  common ??= new Set((dictionary['passwords-common'] as string[]).filter((p) => p.length >= MIN_LENGTH_WITH_SECOND_FACTOR));
  return common;
}

export interface PolicyContext {
  username: string;
  hasSecondFactor?: boolean;
  /** Who asks (a request's user or setup visitor): the estimate is charged to them and queued fairly. */
  requester?: Requester;
}

/** The words a password should not be made of: the username, "gatehouse", the host name. */
export function contextWords(username: string): string[] {
  return [username, 'gatehouse', hostname()].map((w) => w.toLowerCase()).filter((w) => w.length >= 3);
}

/**
 * The rules that cost next to nothing (run on the event loop): length, the common list,
 * a short piece repeated, context words. `password` is already checked and normalized
 * (checkPasswordInput).
 */
export function quickProblems(password: string, context: PolicyContext): string[] {
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
  let rest = lower;
  for (const w of contextWords(context.username)) rest = rest.split(w).join('');
  if (rest !== lower && [...rest.replace(/[^\p{L}\p{N}]/gu, '')].length < 8) {
    problems.push('This password is mostly your username, the host name or "gatehouse".');
  }
  return problems;
}

/**
 * zxcvbn's estimate of `password` for `username`, in the estimator's worker. The requester
 * pays first (429 when their budget is spent, before the estimator is asked at all), then
 * waits in a place of their own in its queue. Every estimate a request causes comes here.
 */
export async function estimateFor(password: string, username: string, requester: Requester | undefined, estimator: StrengthEstimator): Promise<Estimate> {
  requester?.charge();
  return estimator.estimate(password, contextWords(username), requester?.key);
}

/** The guesses rule on an estimate: one problem with zxcvbn's advice, or none. */
export function guessProblems(estimate: Estimate, context: PolicyContext): string[] {
  const min = context.hasSecondFactor ? MIN_GUESSES_WITH_SECOND_FACTOR : MIN_GUESSES_SINGLE_FACTOR;
  if (estimate.guesses >= min) return [];
  const advice = [estimate.warning, ...estimate.suggestions].filter((s): s is string => s !== null);
  if (advice.length === 0) advice.push('Add another word or two; uncommon words are best.');
  return [['This password is too easy to guess.', ...advice].join(' ')];
}

/**
 * The problems with a new password (empty when it is acceptable): the quick rules, then,
 * if they pass, the estimate (in the estimator's worker, charged to `context.requester`;
 * rejects with a 503 AppError when that is busy or broken, 429 when the requester's budget
 * is spent, so a password is never accepted unchecked).
 */
export async function passwordProblems(password: string, context: PolicyContext, estimator: StrengthEstimator = sharedStrengthEstimator()): Promise<string[]> {
  const quick = quickProblems(password, context);
  if (quick.length) return quick;
  return guessProblems(await estimateFor(password, context.username, context.requester, estimator), context);
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
