// Password strength for the meter on password forms: a zxcvbn score (0-4) with English
// feedback, combined with our policy (src/auth/password-policy.ts), which alone decides
// whether a password is acceptable.

import { ZxcvbnFactory, type TranslationKeys } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';
import { checkPasswordInput } from '../auth/passwords.js';
import { passwordProblems } from '../auth/password-policy.js';

export interface Strength {
  /** 0 (guessable in a few tries) to 4 (very unguessable), from zxcvbn. */
  score: 0 | 1 | 2 | 3 | 4;
  /** True exactly when `problems` is empty: the policy, not the score, decides. */
  acceptable: boolean;
  problems: string[];
  suggestions: string[];
}

// zxcvbn-ts ships bare keys as feedback; these are our English texts. Suggestions to add
// capitals are left out on purpose: NIST SP 800-63B-4 rules out composition advice.
const TRANSLATIONS: TranslationKeys = {
  warnings: {
    straightRow: 'Straight rows of keys on a keyboard are easy to guess.',
    keyPattern: 'Short keyboard patterns are easy to guess.',
    simpleRepeat: 'Repeated characters like "aaa" are easy to guess.',
    extendedRepeat: 'Repeated patterns like "abcabcabc" are easy to guess.',
    sequences: 'Sequences like "abc" or "6543" are easy to guess.',
    recentYears: 'Recent years are easy to guess.',
    dates: 'Dates are easy to guess.',
    topTen: 'This is one of the most used passwords.',
    topHundred: 'This is a very frequently used password.',
    common: 'This is a commonly used password.',
    similarToCommon: 'This is similar to a commonly used password.',
    wordByItself: 'A single word is easy to guess.',
    namesByThemselves: 'Names on their own are easy to guess.',
    commonNames: 'Common names are easy to guess.',
    userInputs: 'Avoid your username and the name of this service.',
    pwned: 'This password appeared in a data breach.',
  },
  suggestions: {
    l33t: 'Swapping letters for look-alike symbols ("@" for "a") does not help much.',
    reverseWords: 'Words spelled backwards are still easy to guess.',
    allUppercase: '',
    capitalization: '',
    dates: 'Avoid dates and years that are connected to you.',
    recentYears: 'Avoid recent years.',
    associatedYears: 'Avoid years that are connected to you.',
    sequences: 'Avoid sequences of characters.',
    repeated: 'Avoid repeated words and characters.',
    longerKeyboardPattern: 'Avoid keyboard patterns.',
    anotherWord: 'Add another word or two; uncommon words are best.',
    useWords: 'Use several unrelated words; avoid well-known phrases.',
    noNeed: 'Symbols, digits and capitals are not needed: length matters most.',
    pwned: 'If you use this password anywhere else, change it there too.',
  },
  timeEstimation: {
    ltSecond: 'less than a second',
    second: '{base} second',
    seconds: '{base} seconds',
    minute: '{base} minute',
    minutes: '{base} minutes',
    hour: '{base} hour',
    hours: '{base} hours',
    day: '{base} day',
    days: '{base} days',
    month: '{base} month',
    months: '{base} months',
    year: '{base} year',
    years: '{base} years',
    centuries: 'centuries',
  },
};

/**
 * Only the first 64 characters are analysed: the cost grows steeply with length (a 256
 * character check takes over 100 ms of a small appliance's CPU) and a policy-compliant
 * password that long is strong anyway. Levenshtein matching is off for the same reason
 * (about 50 ms a check); the policy's exact common-password check still applies.
 */
const ANALYSED_CHARS = 64;

let factory: ZxcvbnFactory | null = null;
/** Built on first use: the dictionaries take a moment to rank and most processes never need them. */
function zxcvbn(): ZxcvbnFactory {
  factory ??= new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs, translations: TRANSLATIONS, maxLength: ANALYSED_CHARS });
  return factory;
}

/**
 * How strong `raw` is for `username` (who will use it; '' when not known yet; with
 * `hasSecondFactor` the policy's 8-character minimum applies). Input must
 * already be a string; length and NUL limits are applied here before any scoring.
 */
export function passwordStrength(raw: string, username: string, hasSecondFactor = false): Strength {
  const input = checkPasswordInput(raw);
  if (!input.ok) return { score: 0, acceptable: false, problems: [input.message], suggestions: [] };
  const problems = passwordProblems(input.password, { username, hasSecondFactor });
  const result = zxcvbn().check(input.password, [username, 'gatehouse'].filter((w) => w.length > 0));
  const feedback = [result.feedback.warning, ...result.feedback.suggestions].filter((s): s is string => typeof s === 'string' && s.length > 0);
  // A password the policy refuses never shows as strong, whatever zxcvbn thinks of it.
  const score = (problems.length ? Math.min(result.score, 1) : result.score) as Strength['score'];
  return { score, acceptable: problems.length === 0, problems, suggestions: [...new Set(feedback)] };
}
