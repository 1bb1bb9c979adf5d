// passwordStrength: the zxcvbn score combined with our policy, which alone decides
// whether a password is acceptable.

import { expect } from 'chai';
import { passwordStrength } from '../../../src/account/strength.js';

describe('passwordStrength', () => {
  it('scores common and short passwords low and refuses them', () => {
    for (const p of ['password', '123456', 'qwertyuiop', 'letmein']) {
      const s = passwordStrength(p, '');
      expect(s.score, p).to.be.at.most(1);
      expect(s.acceptable, p).to.equal(false);
      expect(s.problems, p).not.to.be.empty;
    }
  });

  it('scores a passphrase of unrelated words high and accepts it', () => {
    const s = passwordStrength('vivid otter mailbox thunder quietly', 'alice');
    expect(s).to.deep.equal({ score: 4, acceptable: true, problems: [], suggestions: [] });
  });

  it('is acceptable exactly when the policy finds no problem, whatever the score', () => {
    for (const [p, user] of [
      ['passwordpassword', ''],
      ['alice-alice-alice-9', 'alice'],
      ['abcabcabcabcabcabc', ''],
      ['Xk#9vQ2!mZ', ''],
      ['mauve otter abc', ''],
    ] as const) {
      const s = passwordStrength(p, user);
      expect(s.acceptable, p).to.equal(s.problems.length === 0);
    }
  });

  it('never shows a refused password as strong', () => {
    // Random-looking but 14 characters: zxcvbn likes it, the length rule does not.
    const s = passwordStrength('Xk#9vQ2!mZr$7w', '');
    expect(s.acceptable).to.equal(false);
    expect(s.score).to.be.at.most(1);
  });

  it('refuses over-long input and NUL before any scoring', () => {
    const long = passwordStrength('z'.repeat(257), '');
    expect(long).to.deep.include({ score: 0, acceptable: false });
    expect(long.problems[0]).to.contain('at most 256');
    expect(passwordStrength('nul \u0000 inside this phrase', '').problems[0]).to.contain('NUL');
  });

  it('gives English advice, without composition rules (no "add capitals")', () => {
    const s = passwordStrength('password', '');
    expect(s.suggestions.length).to.be.greaterThan(0);
    for (const line of [...s.suggestions, ...passwordStrength('Password', '').suggestions, ...passwordStrength('PASSWORDPASSWORD', '').suggestions]) {
      expect(line).to.match(/^[A-Z].*\.$/);
      expect(line).not.to.match(/capitali[sz]e|uppercase/i);
    }
  });

  it('stays fast on the longest accepted password (only the first 64 characters are analysed)', () => {
    const started = performance.now();
    passwordStrength('k7!Qz '.repeat(43).slice(0, 256), '');
    expect(performance.now() - started).to.be.below(500);
  });
});
