// The strength estimator: zxcvbn in one worker thread, never on the event loop; a bounded
// queue no single requester can fill, a time limit, and a clear 503 (never a skipped
// check) when busy or broken.

import { expect } from 'chai';
import { AppError } from '../../../src/lib/errors.js';
import { sharedStrengthEstimator, WorkerStrengthEstimator } from '../../../src/passwords/strength-estimator.js';
import { ANALYSED_CHARS, estimateStrength } from '../../../src/passwords/zxcvbn.js';

/**
 * A stand-in worker (plain JavaScript): answers an estimate that names the password and
 * the thread, never answers "hang", dies on "crash"; with `broken` it fails while starting.
 */
function standIn({ broken = false } = {}): URL {
  const code = `
    import { parentPort, threadId } from 'node:worker_threads';
    ${broken ? "throw new Error('cannot load the dictionaries');" : ''}
    parentPort.on('message', (m) => {
      if (m.password === 'hang') return;
      if (m.password === 'crash') process.exit(3);
      parentPort.postMessage({ type: 'estimate', id: m.id, estimate: { guesses: 1e12, score: 4, warning: String(threadId), suggestions: [m.password] } });
    });
    parentPort.postMessage({ type: 'ready' });`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

/** What a promise settles to: the value, or "<status> <code>" of an AppError. */
async function outcome<T>(p: Promise<T>): Promise<T | string> {
  return p.catch((err: unknown) => (err instanceof AppError ? `${err.status} ${err.code}` : `not an AppError: ${String(err)}`));
}

describe('strength estimator (worker thread)', () => {
  let estimator: WorkerStrengthEstimator | null = null;
  afterEach(async () => {
    await estimator?.close();
    estimator = null;
  });

  it('never runs zxcvbn on the main thread', () => {
    expect(() => estimateStrength('violet tractor mumble ocean', [])).to.throw(/worker only/);
  });

  it('estimates in its worker: passphrases high, sequences low, with advice', async () => {
    const shared = sharedStrengthEstimator();
    const strong = await shared.estimate('violet tractor mumble ocean', ['alice']);
    expect(strong.guesses).to.be.above(1e10);
    expect(strong.score).to.equal(4);
    const weak = await shared.estimate('abcdefghijklmno', ['alice']);
    expect(weak.guesses).to.be.below(1e3);
    expect(weak.warning).to.contain('Sequences');
  });

  it(`analyses only the first ${ANALYSED_CHARS} characters`, async () => {
    const shared = sharedStrengthEstimator();
    const head = 'k7!Qz '.repeat(20).slice(0, ANALYSED_CHARS);
    const [short, long] = await Promise.all([shared.estimate(head, []), shared.estimate(`${head}${'p@ssw0rd'.repeat(24)}`, [])]);
    expect(long).to.deep.equal(short);
  });

  it('answers checks in order, one at a time', async () => {
    estimator = new WorkerStrengthEstimator({ script: standIn() });
    const answers = await Promise.all(['one', 'two', 'three'].map((p) => estimator!.estimate(p, [])));
    expect(answers.map((a) => a.suggestions[0])).to.deep.equal(['one', 'two', 'three']);
  });

  it('refuses a check beyond the queue bound with 503 password-check-busy', async () => {
    estimator = new WorkerStrengthEstimator({ script: standIn(), maxQueued: 2, timeoutMs: 60_000 });
    await estimator.estimate('started', []);
    const running = outcome(estimator.estimate('hang', []));
    const queued = [outcome(estimator.estimate('a', [])), outcome(estimator.estimate('b', []))];
    expect(await outcome(estimator.estimate('c', []))).to.equal('503 password-check-busy');
    await estimator.close();
    expect(await running).to.equal('503 password-check-unavailable');
    expect(await Promise.all(queued)).to.deep.equal(['503 password-check-unavailable', '503 password-check-unavailable']);
    estimator = null;
  });

  it('lets one requester have at most 2 checks waiting or running; the others are still served in order', async () => {
    estimator = new WorkerStrengthEstimator({ script: standIn(), timeoutMs: 300 });
    await estimator.estimate('started', []);
    const hung = outcome(estimator.estimate('hang', [], 'user:1'));
    const waiting = estimator.estimate('mallory waits', [], 'user:1');
    expect(await outcome(estimator.estimate('mallory again', [], 'user:1')), 'a third check of the same requester').to.equal('503 password-check-busy');
    const served: string[] = [];
    const record = (p: Promise<{ suggestions: string[] }>) => p.then((e) => served.push(e.suggestions[0] as string));
    await Promise.all([record(waiting), record(estimator.estimate('alice', [], 'user:2')), record(estimator.estimate('no requester', []))]);
    expect(await hung).to.equal('503 password-check-unavailable');
    expect(served, 'first come, first served once the hung check is given up').to.deep.equal(['mallory waits', 'alice', 'no requester']);
    // Once answered, the requester's places are free again.
    expect((await estimator.estimate('mallory later', [], 'user:1')).suggestions).to.deep.equal(['mallory later']);
  });

  it('gives up a check that takes too long (503) and serves the next ones from a fresh worker', async () => {
    estimator = new WorkerStrengthEstimator({ script: standIn(), timeoutMs: 200 });
    const before = await estimator.estimate('before', []);
    const hung = estimator.estimate('hang', []);
    const next = estimator.estimate('after', []);
    expect(await outcome(hung)).to.equal('503 password-check-unavailable');
    const after = await next;
    expect(after.suggestions).to.deep.equal(['after']);
    expect(after.warning, 'a new worker thread').not.to.equal(before.warning);
  });

  it('fails a check whose worker dies (503) and starts a new one for the next', async () => {
    estimator = new WorkerStrengthEstimator({ script: standIn() });
    expect(await outcome(estimator.estimate('crash', []))).to.equal('503 password-check-unavailable');
    expect((await estimator.estimate('again', [])).suggestions).to.deep.equal(['again']);
  });

  it('fails every waiting check (503) when the worker cannot start, and tries again later', async () => {
    estimator = new WorkerStrengthEstimator({ script: standIn({ broken: true }) });
    const results = await Promise.all([outcome(estimator.estimate('a', [])), outcome(estimator.estimate('b', []))]);
    expect(results).to.deep.equal(['503 password-check-unavailable', '503 password-check-unavailable']);
    expect(await outcome(estimator.estimate('c', []))).to.equal('503 password-check-unavailable');
  });

  it('stops an idle worker and starts it again when needed', async () => {
    estimator = new WorkerStrengthEstimator({ script: standIn(), idleMs: 50 });
    const first = await estimator.estimate('first', []);
    const soon = await estimator.estimate('soon', []);
    expect(soon.warning, 'the same worker while busy').to.equal(first.warning);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const later = await estimator.estimate('later', []);
    expect(later.suggestions).to.deep.equal(['later']);
    expect(later.warning, 'a new worker thread').not.to.equal(first.warning);
  });
});
