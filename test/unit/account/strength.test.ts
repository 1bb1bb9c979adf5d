// passwordStrength: zxcvbn's score combined with our policy, which alone decides whether a
// password is acceptable; the estimate comes from the estimator's worker.

import { expect } from 'chai';
import { passwordStrength } from '../../../src/account/strength.js';

describe('passwordStrength', () => {
  it('scores common and short passwords low and refuses them', async () => {
    for (const p of ['password', '123456', 'qwertyuiop', 'letmein']) {
      const s = await passwordStrength(p, '');
      expect(s.score, p).to.be.at.most(1);
      expect(s.acceptable, p).to.equal(false);
      expect(s.problems, p).not.to.be.empty;
    }
  });

  it('scores a passphrase of unrelated words high and accepts it', async () => {
    const s = await passwordStrength('vivid otter mailbox thunder quietly', 'alice');
    expect(s).to.deep.equal({ score: 4, acceptable: true, problems: [], suggestions: [] });
  });

  it('is acceptable exactly when the policy finds no problem, whatever the score', async () => {
    for (const [p, user] of [
      ['passwordpassword', ''],
      ['alice-alice-alice-9', 'alice'],
      ['abcabcabcabcabcabc', ''],
      ['Xk#9vQ2!mZ', ''],
      ['mauve otter abc', ''],
      ['Password123456!', ''],
    ] as const) {
      const s = await passwordStrength(p, user);
      expect(s.acceptable, p).to.equal(s.problems.length === 0);
    }
  });

  it('never shows a refused password as strong', async () => {
    // Random-looking but 14 characters: zxcvbn likes it, the length rule does not.
    const s = await passwordStrength('Xk#9vQ2!mZr$7w', '');
    expect(s.acceptable).to.equal(false);
    expect(s.score).to.be.at.most(1);
  });

  it('refuses an easily guessed 15+ character password with the reason, and does not repeat it as a suggestion', async () => {
    const s = await passwordStrength('abcdefghijklmno', '');
    expect(s.acceptable).to.equal(false);
    expect(s.score).to.be.at.most(1);
    expect(s.problems).to.have.length(1);
    expect(s.problems[0]).to.contain('too easy to guess').and.contain('Sequences like "abc"');
    for (const line of s.suggestions) expect(s.problems[0]).not.to.contain(line);
  });

  it('refuses over-long input and NUL before any scoring', async () => {
    const long = await passwordStrength('z'.repeat(257), '');
    expect(long).to.deep.include({ score: 0, acceptable: false });
    expect(long.problems[0]).to.contain('at most 256');
    expect((await passwordStrength('nul \u0000 inside this phrase', '')).problems[0]).to.contain('NUL');
  });

  it('gives English advice, without composition rules (no "add capitals")', async () => {
    const s = await passwordStrength('password', '');
    expect(s.suggestions.length).to.be.greaterThan(0);
    const lines = [...s.suggestions, ...(await passwordStrength('Password', '')).suggestions, ...(await passwordStrength('PASSWORDPASSWORD', '')).suggestions];
    for (const line of lines) {
      expect(line).to.match(/^[A-Z].*\.$/);
      expect(line).not.to.match(/capitali[sz]e|uppercase/i);
    }
  });
});
