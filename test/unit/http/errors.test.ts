// Mapping errors to answers: codes, statuses, safe messages.

import { expect } from 'chai';
import { toAppError } from '../../../src/http/errors.js';
import { SessionEndedError } from '../../../src/sessions/store.js';

describe('error mapping', () => {
  it('a session that ended while the request ran is a 401 "session-ended", never a 500', () => {
    for (const why of ['predecessor-ended', 'epoch-moved', 'user-mismatch'] as const) {
      const error = toAppError(new SessionEndedError(why));
      expect(error).to.include({ code: 'session-ended', status: 401 });
      expect(error.publicMessage).to.not.include(why);
    }
  });
});
