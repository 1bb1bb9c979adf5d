// Why a session ended, as its owner reads it: the end reason with who ended it, so an
// administrator's action never reads as the owner's own.

import { expect } from 'chai';
import { endedWhy } from '../../../src/account/ended-why.js';

describe('account: why a session ended', () => {
  const why = (deleteReason: Parameters<typeof endedWhy>[0]['deleteReason'], endedBy: string | null) => endedWhy({ deleteReason, endedBy }, 'alice');

  it('the owner ending a session from another of their sessions is "Signed out from another device"', () => {
    expect(why('revoked', 'user:alice')).to.equal('Signed out from another device');
    expect(why('revoked', 'admin:alice'), 'an administrator ending their own session').to.equal('Signed out from another device');
  });

  it('an administrator is named, on the pages, through the API or on the command line', () => {
    expect(why('revoked', 'admin:root')).to.equal('Ended by an administrator (root)');
    expect(why('revoked', 'api:root')).to.equal('Ended by an administrator (root)');
    expect(why('revoked', 'token:12')).to.equal('Ended by an administrator, through the API');
    expect(why('revoked', 'cli:pat')).to.equal('Ended by an administrator, on the command line');
  });

  it('a password, second factors or the account changed by an administrator say so', () => {
    expect(why('password-changed', 'admin:root')).to.equal('Password reset by an administrator (root)');
    expect(why('password-changed', 'user:alice')).to.equal('Password changed');
    expect(why('second-factor-reset', 'admin:root')).to.equal('Second factors reset by an administrator (root)');
    expect(why('second-factor-reset', 'cli:pat')).to.equal('Second factors reset by an administrator, on the command line');
    expect(why('user-disabled', 'token:3')).to.equal('Account disabled by an administrator, through the API');
  });

  it('without a recorded actor (older rows) claims neither the owner nor an administrator', () => {
    expect(why('revoked', null)).to.equal('Ended from another device or by an administrator');
    expect(why('revoked', 'system')).to.equal('Ended from another device or by an administrator');
    expect(why('logout', null)).to.equal('Signed out');
    expect(why('ip-mismatch', null)).to.equal('Ended for safety: used from another network');
    expect(why(null, null)).to.equal('Ended');
  });
});
