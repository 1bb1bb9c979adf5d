// Username normalization: one canonical form per person, so look-alikes can neither
// collide with nor impersonate an existing user.
//
// The form is NFKC, lower-cased, then restricted to [a-z0-9._-]. NFKC folds compatibility
// forms (fullwidth "ａｄｍｉｎ" is "admin", the same account); everything that survives
// normalization but is not plain ASCII (dotless "ı", Cyrillic "а", combining marks) is
// refused, because those are exactly the characters that make a second "admin" look real.
// Display names carry the person's real name in any script.

export const USERNAME_INPUT_MAX = 256;
export const USERNAME_MAX = 64;

export type UsernameCheck =
  | { ok: true; username: string }
  | { ok: false; kind: 'malformed' | 'unsupported'; message: string };

/** Control characters (NUL, CR, LF…) and invisible format characters (zero-width joiners…). */
export const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\u2028\u2029]/u;
const CANONICAL = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;

export function normalizeUsername(input: string): UsernameCheck {
  if (input.length === 0) return { ok: false, kind: 'malformed', message: 'Enter a username.' };
  if (input.length > USERNAME_INPUT_MAX) return { ok: false, kind: 'malformed', message: 'The username is too long.' };
  if (INVISIBLE.test(input)) {
    return { ok: false, kind: 'malformed', message: 'The username contains control or invisible characters.' };
  }
  const folded = input.trim().normalize('NFKC').toLowerCase().normalize('NFKC');
  if (!CANONICAL.test(folded)) {
    return {
      ok: false,
      kind: 'unsupported',
      message: `Usernames are 1-${USERNAME_MAX} characters: letters a-z, digits, ".", "_" and "-", starting and ending with a letter or digit.`,
    };
  }
  return { ok: true, username: folded };
}
