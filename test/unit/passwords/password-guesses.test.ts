// The policy's guesses rule (NIST SP 800-63B-4: no "commonly used, expected" values):
// zxcvbn's estimate must reach a documented threshold, so sequences, keyboard walks,
// repeats and words with digits are refused with advice, and passphrases still pass.

import { expect } from 'chai';
import {
  guessProblems,
  MIN_GUESSES_SINGLE_FACTOR,
  MIN_GUESSES_WITH_SECOND_FACTOR,
  passwordProblems,
} from '../../../src/passwords/policy.js';
import type { Estimate, StrengthEstimator } from '../../../src/passwords/strength-estimator.js';
import { AppError } from '../../../src/lib/errors.js';

const alone = { username: 'alice' };
const withSecondFactor = { username: 'alice', hasSecondFactor: true };
const estimate = (guesses: number, warning: string | null = null, suggestions: string[] = []): Estimate => ({ guesses, score: 2, warning, suggestions });

describe('password policy: estimated guesses', () => {
  it('documents its thresholds: 10^10 guesses alone, 10^7 with a second factor', () => {
    expect(MIN_GUESSES_SINGLE_FACTOR).to.equal(1e10);
    expect(MIN_GUESSES_WITH_SECOND_FACTOR).to.equal(1e7);
    expect(guessProblems(estimate(1e10), alone)).to.deep.equal([]);
    expect(guessProblems(estimate(9.9e9), alone)).to.have.length(1);
    expect(guessProblems(estimate(1e7), withSecondFactor)).to.deep.equal([]);
    expect(guessProblems(estimate(9.9e6), withSecondFactor)).to.have.length(1);
  });

  it('refuses the expected values of gatehouse issue #11 although each has 15 characters', async () => {
    for (const password of ['123456789012345', 'qwertyuiopasdfg', 'abcdefghijklmno', 'password1234567', 'Password123456!', 'monkey123456789']) {
      const problems = await passwordProblems(password, alone);
      expect(problems, password).to.have.length(1);
      expect(problems[0], password).to.match(/^This password is too easy to guess\. [A-Z]/);
    }
  });

  it('refuses more sequences, keyboard walks, repeats and words with digits', async () => {
    for (const password of ['zxcvbnmasdfghjkl', '1234567890qwerty', 'dragon2024dragon', 'Welcome2024!!!!!', 'summer2024summer2024', 'abcdefghijklmnopqrstuvwxyz']) {
      expect(await passwordProblems(password, alone), password).not.to.deep.equal([]);
    }
  });

  it('says why, with zxcvbn\'s advice: a sequence is called a sequence', async () => {
    const [problem] = await passwordProblems('abcdefghijklmno', alone);
    expect(problem).to.equal('This password is too easy to guess. Sequences like "abc" or "6543" are easy to guess. Add another word or two; uncommon words are best. Avoid sequences of characters.');
  });

  it('accepts passphrases of four unrelated words', async () => {
    for (const password of ['correct horse battery staple', 'violet tractor mumble ocean', 'kettle orbit saffron pillow', 'walnut spiral ferry cobalt', 'orange guitar sleepy harbor', 'correcthorsebatterystaple']) {
      expect(await passwordProblems(password, alone), password).to.deep.equal([]);
    }
  });

  it('asks less of a password backed by a second factor, but not nothing', async () => {
    expect(await passwordProblems('dragon2024dragon', withSecondFactor)).to.deep.equal([]);
    expect(await passwordProblems('mauve fjq', withSecondFactor)).to.deep.equal([]);
    expect((await passwordProblems('Summer24', withSecondFactor))[0]).to.contain('too easy to guess');
    expect((await passwordProblems('bluefox9', withSecondFactor))[0]).to.contain('too easy to guess');
  });

  it('judges a password longer than 64 characters by its first 64', async () => {
    const strong = 'violet tractor mumble ocean kettle orbit saffron pillow walnut s';
    expect(strong).to.have.length(64);
    expect(await passwordProblems(`${strong}aaaaaaaaaaaaaaaaaaaaaaaaaaaa`, alone)).to.deep.equal([]);
    expect((await passwordProblems(`${'1234567890'.repeat(6)}1234 violet tractor mumble ocean`, alone))[0]).to.contain('too easy to guess');
  });

  it('does not ask the estimator when a quick rule already refuses the password', async () => {
    let asked = 0;
    const counting: StrengthEstimator = {
      estimate: async () => {
        asked++;
        return estimate(1e20);
      },
    };
    expect(await passwordProblems('short', alone, counting)).to.have.length(1);
    expect(await passwordProblems('passwordpassword', alone, counting)).not.to.be.empty;
    expect(asked).to.equal(0);
    expect(await passwordProblems('violet tractor mumble ocean', alone, counting)).to.deep.equal([]);
    expect(asked).to.equal(1);
  });

  it('charges the requester before each estimate and asks nothing once the charge refuses (429)', async () => {
    const asked: Array<string | undefined> = [];
    const counting: StrengthEstimator = {
      estimate: async (_password, _inputs, requester) => {
        asked.push(requester);
        return estimate(1e20);
      },
    };
    let left = 1;
    const requester = {
      key: 'user:7',
      charge() {
        if (left-- <= 0) throw new AppError('rate-limited', 429, 'Too many password checks.');
      },
    };
    expect(await passwordProblems('short', { ...alone, requester }, counting), 'a quick rule refuses: nothing to pay').to.have.length(1);
    expect(await passwordProblems('violet tractor mumble ocean', { ...alone, requester }, counting)).to.deep.equal([]);
    expect(asked, 'queued under the requester\'s key').to.deep.equal(['user:7']);
    const outcome = await passwordProblems('amber lanterns drift over harbours', { ...alone, requester }, counting).then(
      () => 'accepted',
      (err: unknown) => (err instanceof AppError ? `${err.status} ${err.code}` : 'other error'),
    );
    expect(outcome).to.equal('429 rate-limited');
    expect(asked, 'the estimator was not asked').to.have.length(1);
  });

  it('fails closed: an estimator that cannot answer refuses the password with its error', async () => {
    const broken: StrengthEstimator = { estimate: () => Promise.reject(new AppError('password-check-busy', 503, 'busy')) };
    const outcome = await passwordProblems('violet tractor mumble ocean', alone, broken).then(
      () => 'accepted',
      (err: unknown) => (err instanceof AppError ? `${err.status} ${err.code}` : 'other error'),
    );
    expect(outcome).to.equal('503 password-check-busy');
  });
});
