// The zxcvbn-ts estimator as gatehouse uses it: the bundled dictionaries, English feedback,
// and a cap on the analysed length. It runs only in the estimator's worker thread
// (src/passwords/strength-worker.ts): one check costs tens of milliseconds of CPU.

import { isMainThread } from 'node:worker_threads';
import { ZxcvbnFactory, type TranslationKeys } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';

/** What the policy and the meter need from one estimate (plain data: it crosses threads). */
export interface Estimate {
  /** zxcvbn's estimate of the guesses an attacker needs, trying likely passwords first. */
  guesses: number;
  /** 0 (guessable in a few tries) to 4 (at least 10^10 guesses). */
  score: 0 | 1 | 2 | 3 | 4;
  /** Why it is guessable (English), when zxcvbn knows. */
  warning: string | null;
  suggestions: string[];
}

/**
 * Only the first 64 characters are analysed: the cost grows steeply with length (a 256
 * character check took 100-400 ms here, 64 characters at most about 50 ms) while 64
 * characters are plenty for a verdict. A longer password is judged by its first 64
 * characters: if those are hard to guess, so is the whole; if they are not (64 "a"s and a
 * random tail), it is refused, and reordering it fixes that.
 */
export const ANALYSED_CHARS = 64;

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

let factory: ZxcvbnFactory | null = null;
/**
 * Built on first use (ranking the dictionaries takes a moment). Levenshtein matching stays
 * off: about 50 ms more per check; the policy's exact common-password check still applies.
 */
function zxcvbn(): ZxcvbnFactory {
  // The event loop serves every request: zxcvbn must never run there (SECURITY.md, Input).
  if (isMainThread) throw new Error('zxcvbn runs in the estimator worker only (src/passwords/strength-estimator.ts)');
  factory ??= new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs, translations: TRANSLATIONS, maxLength: ANALYSED_CHARS });
  return factory;
}

/** Ranks the dictionaries now, so that the first real check does not pay for it. */
export function warmUp(): void {
  zxcvbn();
}

/** zxcvbn's estimate for `password`, with `userInputs` (username, host name…) as extra words. */
export function estimateStrength(password: string, userInputs: string[]): Estimate {
  const result = zxcvbn().check(password, userInputs);
  const text = (s: string | null | undefined): s is string => typeof s === 'string' && s.length > 0;
  return {
    guesses: result.guesses,
    score: result.score,
    warning: text(result.feedback.warning) ? result.feedback.warning : null,
    suggestions: [...new Set(result.feedback.suggestions.filter(text))],
  };
}
