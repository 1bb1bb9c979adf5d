// Background jobs: run at once and then on their interval, never two runs at a time, a
// failure logged (not thrown), and stopping aborts the run in progress.

import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { createLogger } from '../../../src/lib/log.js';
import { periodic } from '../../../src/lib/periodic.js';

describe('periodic background jobs', () => {
  it('runs at once, never overlaps a run still going, logs a failure, and stops by aborting the run', async () => {
    let lines = '';
    const log = createLogger('error', new Writable({ write: (chunk: Buffer, _enc, done) => ((lines += chunk.toString()), done()) }));
    let runs = 0;
    let running = 0;
    let most = 0;
    let aborted = false;
    let thirdStarted: () => void = () => {};
    const third = new Promise<void>((resolve) => (thirdStarted = resolve));
    const stop = periodic(
      'test job',
      5,
      async (signal) => {
        runs += 1;
        running += 1;
        most = Math.max(most, running);
        try {
          if (runs === 1) throw new Error('first run fails');
          if (runs === 3) thirdStarted();
          await sleep(30);
          aborted ||= signal.aborted;
        } finally {
          running -= 1;
        }
      },
      log,
    );
    expect(runs, 'ran at once').to.equal(1);
    await third;
    stop();
    await sleep(60);
    expect(most, 'never two at once').to.equal(1);
    expect(runs, 'nothing after stop').to.equal(3);
    expect(aborted, 'the run in progress saw the abort').to.equal(true);
    expect(lines).to.contain('test job failed').and.contain('first run fails');
  });
});
