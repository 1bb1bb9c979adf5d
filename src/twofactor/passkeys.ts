// Passkeys (WebAuthn credentials) as a second factor, via @simplewebauthn/server:
// registration (options → verify → store), listing, naming, removal, and verifying an
// authentication response against the stored public key and signature counter.
// Challenges are kept by the caller (in the session), single use, 5 minutes.

import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Statement } from 'better-sqlite3';
import { durably, type Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import type { Who } from './limiter.js';
import type { Audit } from '../audit/events.js';

/** How long a challenge may be answered. */
export const CHALLENGE_LIFETIME_MS = 5 * 60_000;

export interface Passkey {
  id: number;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  backedUp: boolean;
}

/** Where the ceremony runs: rpID = hostname, origin compared exactly. */
export interface RelyingParty {
  rpID: string;
  origin: string;
}

interface Row {
  id: number;
  user_id: number;
  credential_id: string;
  public_key: Buffer;
  counter: number;
  transports: string;
  name: string;
  backed_up: number;
  created_at: number;
  last_used_at: number | null;
}

/**
 * Who the passkeys belong to: portal_url's host when set, else the request's hostname; the
 * browser's origin is compared exactly with the matching origin.
 */
export function relyingPartyFor(portalUrl: string | undefined, req: { hostname: string; protocol: string; get(name: string): string | undefined }): RelyingParty {
  if (portalUrl) {
    const u = new URL(portalUrl);
    return { rpID: u.hostname, origin: u.origin };
  }
  return { rpID: req.hostname, origin: `${req.protocol}://${req.get('host') ?? req.hostname}` };
}

export type PasskeyVerdict = { ok: true; passkey: Passkey } | { ok: false; reason: 'invalid' | 'unknown-credential' | 'counter-regression' };

const toPasskey = (r: Row): Passkey => ({ id: r.id, name: r.name, createdAt: r.created_at, lastUsedAt: r.last_used_at, backedUp: r.backed_up === 1 });

function transportsOf(r: Row): AuthenticatorTransport[] {
  try {
    const t = JSON.parse(r.transports) as unknown;
    return Array.isArray(t) ? (t.filter((x) => typeof x === 'string') as AuthenticatorTransport[]) : [];
  } catch {
    return [];
  }
}

/** A user-given name: printable, 1-64 characters. */
export function cleanPasskeyName(name: unknown, fallback: string): string {
  const s = typeof name === 'string' ? name.replace(/[\p{C}]/gu, '').trim().slice(0, 64) : '';
  return s.length > 0 ? s : fallback;
}

export class Passkeys {
  private readonly sql: Record<'byUser' | 'byCredential' | 'insert' | 'use' | 'rename' | 'remove' | 'removeAll' | 'count', Statement>;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly events: Audit,
    private readonly rpName = 'gatehouse',
  ) {
    this.sql = {
      byUser: db.prepare('SELECT * FROM webauthn_credentials WHERE user_id = ? ORDER BY id'),
      byCredential: db.prepare('SELECT * FROM webauthn_credentials WHERE credential_id = ?'),
      insert: db.prepare(
        'INSERT INTO webauthn_credentials (user_id, credential_id, public_key, counter, transports, name, device_type, backed_up, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      // Compare-and-set: of two answers verified against the same stored counter (parallel
      // requests), only the first to write wins; the other finds the counter moved.
      use: db.prepare('UPDATE webauthn_credentials SET counter = @counter, last_used_at = @now WHERE id = @id AND counter = @old'),
      rename: db.prepare('UPDATE webauthn_credentials SET name = ? WHERE id = ? AND user_id = ?'),
      remove: db.prepare('DELETE FROM webauthn_credentials WHERE id = ? AND user_id = ?'),
      removeAll: db.prepare('DELETE FROM webauthn_credentials WHERE user_id = ?'),
      count: db.prepare('SELECT count(*) AS n FROM webauthn_credentials WHERE user_id = ?'),
    };
  }

  list(userId: number): Passkey[] {
    return (this.sql.byUser.all(userId) as Row[]).map(toPasskey);
  }

  count(userId: number): number {
    return (this.sql.count.get(userId) as { n: number }).n;
  }

  registrationOptions(user: Who, rp: RelyingParty): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const rows = this.sql.byUser.all(user.id) as Row[];
    return generateRegistrationOptions({
      rpName: this.rpName,
      rpID: rp.rpID,
      userName: user.username,
      userID: new TextEncoder().encode(`gatehouse-user-${user.id}`),
      attestationType: 'none',
      timeout: CHALLENGE_LIFETIME_MS,
      excludeCredentials: rows.map((r) => ({ id: r.credential_id, transports: transportsOf(r) })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    });
  }

  /**
   * Verifies a registration response for the challenge this session was given; stores the
   * key. `inTransaction` runs in the storing transaction, after the insert (TwoFactor: was
   * this the account's first factor?).
   */
  async register(
    user: Who,
    response: RegistrationResponseJSON,
    challenge: string,
    rp: RelyingParty,
    name: string,
    ip: string | null,
    inTransaction?: () => void,
  ): Promise<Passkey | null> {
    let info;
    try {
      const result = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: rp.origin,
        expectedRPID: rp.rpID,
        requireUserVerification: false,
      });
      if (!result.verified || !result.registrationInfo) return null;
      info = result.registrationInfo;
    } catch {
      return null;
    }
    const { credential } = info;
    if (this.sql.byCredential.get(credential.id)) return null;
    const now = this.clock.now();
    const id = durably(this.db, () =>
      this.db.transaction(() => {
        const r = this.sql.insert.run(
          user.id,
          credential.id,
          Buffer.from(credential.publicKey),
          credential.counter,
          JSON.stringify(credential.transports ?? []),
          name,
          info.credentialDeviceType,
          info.credentialBackedUp ? 1 : 0,
          now,
        );
        this.events.passkeyRegistered({ userId: user.id, username: user.username, ip, passkey: Number(r.lastInsertRowid), name });
        inTransaction?.();
        return Number(r.lastInsertRowid);
      })(),
    );
    return { id, name, createdAt: now, lastUsedAt: null, backedUp: info.credentialBackedUp };
  }

  authenticationOptions(userId: number, rp: RelyingParty): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const rows = this.sql.byUser.all(userId) as Row[];
    return generateAuthenticationOptions({
      rpID: rp.rpID,
      timeout: CHALLENGE_LIFETIME_MS,
      userVerification: 'preferred',
      allowCredentials: rows.map((r) => ({ id: r.credential_id, transports: transportsOf(r) })),
    });
  }

  /**
   * Checks an authentication response of `user`: the credential must be theirs, the
   * signature valid for the challenge, and the counter must grow (both 0: no counter).
   */
  async authenticate(user: Who, response: AuthenticationResponseJSON, challenge: string, rp: RelyingParty, ip: string | null): Promise<PasskeyVerdict> {
    const row = typeof response?.id === 'string' ? (this.sql.byCredential.get(response.id) as Row | undefined) : undefined;
    if (!row || row.user_id !== user.id) {
      this.events.secondFactorFailed({ userId: user.id, username: user.username, ip, method: 'passkey', reason: 'unknown-credential' });
      return { ok: false, reason: 'unknown-credential' };
    }
    let newCounter: number;
    try {
      const result = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: rp.origin,
        expectedRPID: rp.rpID,
        requireUserVerification: false,
        credential: { id: row.credential_id, publicKey: new Uint8Array(row.public_key), counter: row.counter, transports: transportsOf(row) },
      });
      if (!result.verified) throw new Error('not verified');
      newCounter = result.authenticationInfo.newCounter;
    } catch (err) {
      const regression = err instanceof Error && /counter/i.test(err.message);
      this.events.secondFactorFailed({ userId: user.id, username: user.username, ip, method: 'passkey', reason: regression ? 'counter-regression' : 'invalid', passkey: row.id });
      return { ok: false, reason: regression ? 'counter-regression' : 'invalid' };
    }
    // Clone detection: a counter that does not grow, unless the authenticator has none (0 and 0).
    if ((newCounter > 0 || row.counter > 0) && newCounter <= row.counter) {
      this.events.secondFactorFailed({ userId: user.id, username: user.username, ip, method: 'passkey', reason: 'counter-regression', passkey: row.id });
      return { ok: false, reason: 'counter-regression' };
    }
    const now = this.clock.now();
    if (this.sql.use.run({ counter: newCounter, now, id: row.id, old: row.counter }).changes !== 1) {
      this.events.secondFactorFailed({ userId: user.id, username: user.username, ip, method: 'passkey', reason: 'counter-regression', passkey: row.id });
      return { ok: false, reason: 'counter-regression' };
    }
    this.events.passkeyUsed({ userId: user.id, username: user.username, ip, passkey: row.id });
    return { ok: true, passkey: { ...toPasskey(row), lastUsedAt: now } };
  }

  rename(user: Who, id: number, name: string): boolean {
    return this.sql.rename.run(name, id, user.id).changes > 0;
  }

  remove(user: Who, id: number, by: string, ip: string | null): boolean {
    return durably(this.db, () =>
      this.db.transaction(() => {
        const removed = this.sql.remove.run(id, user.id).changes > 0;
        if (removed) this.events.passkeyRemoved({ userId: user.id, username: user.username, ip, passkey: id, by });
        return removed;
      })(),
    );
  }

  /** Every passkey of a user (second-factor reset); returns how many. */
  removeAll(userId: number): number {
    return this.sql.removeAll.run(userId).changes;
  }
}
