// The hash gate: never more than maxConcurrent hashes at once, a bounded FIFO queue, and a
// fast 503 'busy' refusal beyond it.

import { expect } from 'chai';
import { AppError } from '../../../src/lib/errors.js';
import { HashGate } from '../../../src/throttle/hash-gate.js';

/** A job the test finishes by hand, recording how many jobs ran at once. */
function jobs() {
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const finishers: Array<() => void> = [];
  const make = (id: number) => () =>
    new Promise<number>((resolve) => {
      running += 1;
      peak = Math.max(peak, running);
      started.push(id);
      finishers[id] = () => {
        running -= 1;
        resolve(id);
      };
    });
  return { make, started, finish: (id: number) => finishers[id]?.(), peak: () => peak };
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return expect.fail('expected a rejection');
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('hash gate', () => {
  it('runs at most maxConcurrent at once and starts the queued ones in order', async () => {
    const gate = new HashGate(2, 10);
    const j = jobs();
    const results = Array.from({ length: 6 }, (_, i) => gate.run(j.make(i)));
    await tick();
    expect(j.started).to.deep.equal([0, 1]);
    expect([gate.active, gate.queued]).to.deep.equal([2, 4]);
    for (let i = 0; i < 6; i++) {
      j.finish(i);
      await tick();
    }
    expect(await Promise.all(results)).to.deep.equal([0, 1, 2, 3, 4, 5]);
    expect(j.started).to.deep.equal([0, 1, 2, 3, 4, 5]);
    expect(j.peak()).to.equal(2);
    expect([gate.active, gate.queued]).to.deep.equal([0, 0]);
  });

  it('refuses at once with AppError 503 busy when the queue is full', async () => {
    const gate = new HashGate(1, 2);
    const j = jobs();
    const accepted = [0, 1, 2].map((i) => gate.run(j.make(i)));
    const error = await errorOf(gate.run(j.make(3)));
    expect(error).to.be.instanceOf(AppError);
    expect(error).to.include({ status: 503, code: 'busy' });
    expect((error as AppError).publicMessage).to.match(/busy.*try again/i);
    for (let i = 0; i < 3; i++) {
      await tick();
      j.finish(i);
    }
    expect(await Promise.all(accepted)).to.deep.equal([0, 1, 2]);
    expect(j.started).to.not.include(3);
  });

  it('with no queue, refuses anything beyond the running ones', async () => {
    const gate = new HashGate(1, 0);
    const j = jobs();
    const first = gate.run(j.make(0));
    expect(await errorOf(gate.run(j.make(1)))).to.include({ status: 503, code: 'busy' });
    await tick();
    j.finish(0);
    expect(await first).to.equal(0);
  });

  it('frees the slot when a job fails', async () => {
    const gate = new HashGate(1, 1);
    const failing = gate.run(() => Promise.reject(new Error('argon2 exploded')));
    const next = gate.run(() => Promise.resolve('ran'));
    const error = await errorOf(failing);
    expect((error as Error).message).to.equal('argon2 exploded');
    expect(await next).to.equal('ran');
    expect([gate.active, gate.queued]).to.deep.equal([0, 0]);
  });

  it('refuses nonsense limits', () => {
    expect(() => new HashGate(0, 1)).to.throw(RangeError);
    expect(() => new HashGate(1, -1)).to.throw(RangeError);
  });
});
