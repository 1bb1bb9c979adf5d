// Mocha's spec reporter plus one plain closing line, "N passed, N failed[, N skipped]",
// also written to $GATEHOUSE_TEST_COUNTS so .ci/run can end with it.
'use strict';
const { writeFileSync } = require('node:fs');
const Mocha = require('mocha');

class CountingReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const { passes, failures, pending } = this.stats;
      const line = `${passes} passed, ${failures} failed${pending ? `, ${pending} skipped` : ''}`;
      if (process.env.GATEHOUSE_TEST_COUNTS) writeFileSync(process.env.GATEHOUSE_TEST_COUNTS, `${line}\n`);
      process.stdout.write(`${line}\n`);
    });
  }
}

module.exports = CountingReporter;
