// Password strength for the meter on password forms: zxcvbn's score (0-4) and advice,
// combined with the policy (src/passwords/policy.ts), which alone decides whether a
// password is acceptable. The estimate runs in the estimator's worker, not here.

import { checkPasswordInput } from '../passwords/hasher.js';
import { estimateFor, guessProblems, quickProblems, type Requester } from '../passwords/policy.js';
import { sharedStrengthEstimator, type StrengthEstimator } from '../passwords/strength-estimator.js';

export interface Strength {
  /** 0 (guessable in a few tries) to 4 (very unguessable), from zxcvbn. */
  score: 0 | 1 | 2 | 3 | 4;
  /** True exactly when `problems` is empty: the policy, not the score, decides. */
  acceptable: boolean;
  problems: string[];
  suggestions: string[];
}

/**
 * How strong `raw` is for `username` (who will use it; '' when not known yet; with
 * `hasSecondFactor` the policy's 8-character minimum applies). Input must already be a
 * string; length and NUL limits are applied here before any estimate. Rejects with a 503
 * AppError when the estimator is busy or broken, 429 when `requester` (who asks; the
 * estimate is charged to them) has spent their budget.
 */
export async function passwordStrength(
  raw: string,
  username: string,
  hasSecondFactor = false,
  requester?: Requester,
  estimator: StrengthEstimator = sharedStrengthEstimator(),
): Promise<Strength> {
  const input = checkPasswordInput(raw);
  if (!input.ok) return { score: 0, acceptable: false, problems: [input.message], suggestions: [] };
  const context = { username, hasSecondFactor };
  const estimate = await estimateFor(input.password, username, requester, estimator);
  // The same verdict as passwordProblems(): the quick rules first, the guesses rule if they pass.
  const quick = quickProblems(input.password, context);
  const problems = quick.length ? quick : guessProblems(estimate, context);
  // zxcvbn's advice, unless a problem already says it.
  const advice = [estimate.warning, ...estimate.suggestions].filter((s): s is string => s !== null && !problems.some((p) => p.includes(s)));
  // A password the policy refuses never shows as strong, whatever zxcvbn thinks of it.
  const score = (problems.length ? Math.min(estimate.score, 1) : estimate.score) as Strength['score'];
  return { score, acceptable: problems.length === 0, problems, suggestions: [...new Set(advice)] };
}
