// Username normalization: one canonical form per person; look-alikes are refused rather
// than allowed to collide with or impersonate an existing user.

import { expect } from 'chai';
import { normalizeUsername, USERNAME_INPUT_MAX, type UsernameCheck } from '../../../src/users/username.js';

function kindOf(check: UsernameCheck): string {
  return check.ok ? `ok:${check.username}` : check.kind;
}

describe('username normalization', () => {
  describe('folds compatibility forms and case into one account', () => {
    for (const [input, expected] of [
      ['admin', 'admin'],
      ['ADMIN', 'admin'],
      ['Admin', 'admin'],
      ['ａｄｍｉｎ', 'admin'], // fullwidth
      ['ＡＤＭＩＮ', 'admin'], // fullwidth capitals
      ['\u212Aevin', 'kevin'], // KELVIN SIGN is a compatibility form of K
      ['ﬁona', 'fiona'], // the "fi" ligature
      ['jo.smith-2_x', 'jo.smith-2_x'],
    ] as const) {
      it(`normalizes ${JSON.stringify(input)} to "${expected}"`, () => {
        expect(normalizeUsername(input)).to.deep.equal({ ok: true, username: expected });
      });
    }
  });

  describe('refuses look-alikes that survive normalization (unsupported)', () => {
    for (const [label, input] of [
      ['dotless i "admın"', 'adm\u0131n'],
      ['Cyrillic a "аdmin"', '\u0430dmin'],
      ['Greek omicron "rοot"', 'r\u03BFot'],
      ['capital I with dot "İsa"', '\u0130sa'],
      ['a combining mark "admi\u0301n"', 'admi\u0301n'],
      ['a variation selector', 'admin\uFE0F'],
    ] as const) {
      it(`refuses ${label}`, () => {
        const check = normalizeUsername(input);
        expect(kindOf(check)).to.equal('unsupported');
      });
    }

    it('refuses "josé" in NFC and in NFD alike, and neither becomes "jose"', () => {
      const nfc = 'jos\u00E9';
      const nfd = 'jose\u0301';
      expect(nfc.normalize('NFD')).to.equal(nfd);
      expect(kindOf(normalizeUsername(nfc))).to.equal('unsupported');
      expect(kindOf(normalizeUsername(nfd))).to.equal('unsupported');
    });

    it('refuses names that do not start and end with a letter or digit, or hold other symbols', () => {
      for (const input of ['.admin', 'admin-', '_x', 'ad min', 'admin@home', 'a/b', '-']) {
        expect(kindOf(normalizeUsername(input)), input).to.equal('unsupported');
      }
    });
  });

  describe('refuses invisible and control characters (malformed)', () => {
    for (const [label, input] of [
      ['a zero-width joiner', 'ad\u200Dmin'],
      ['a zero-width space', 'ad\u200Bmin'],
      ['a zero-width non-joiner', 'ad\u200Cmin'],
      ['a byte order mark', '\uFEFFadmin'],
      ['a soft hyphen', 'ad\u00ADmin'],
      ['a right-to-left override', 'admin\u202Etxt'],
      ['NUL', 'admin\u0000'],
      ['a newline', 'admin\nroot'],
      ['a carriage return', 'admin\r'],
      ['a tab', 'ad\tmin'],
      ['ESC (terminal escapes)', '\u001B[31madmin'],
      ['DEL', 'admin\u007F'],
      ['a line separator', 'admin\u2028'],
    ] as const) {
      it(`refuses ${label}`, () => {
        const check = normalizeUsername(input);
        expect(kindOf(check)).to.equal('malformed');
        expect(check.ok ? '' : check.message).to.include('control or invisible');
      });
    }

    it('refuses an empty username', () => {
      expect(kindOf(normalizeUsername(''))).to.equal('malformed');
    });
  });

  describe('length', () => {
    it('accepts 64 characters and refuses 65', () => {
      expect(normalizeUsername('a'.repeat(64))).to.deep.equal({ ok: true, username: 'a'.repeat(64) });
      expect(kindOf(normalizeUsername('a'.repeat(65)))).to.equal('unsupported');
    });

    it('refuses over-long input as malformed before normalizing it', () => {
      expect(kindOf(normalizeUsername('a'.repeat(USERNAME_INPUT_MAX + 1)))).to.equal('malformed');
      expect(kindOf(normalizeUsername('ａ'.repeat(100_000)))).to.equal('malformed');
    });
  });
});
