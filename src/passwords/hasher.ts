// Password hashing and verification with argon2id. Input limits are checked before any
// hashing, and unknown users cost the same hash as known ones. Every hash and verification
// goes through the hash gate (at most a few at once; a login storm is refused, not queued
// without bound).

import argon2 from 'argon2';
import type { HashGate } from '../throttle/hash-gate.js';

export interface Argon2Params {
  memoryKib: number;
  iterations: number;
  parallelism: number;
}

/** NIST asks for at least 64; we accept up to 256 characters and 1024 UTF-8 bytes. */
export const PASSWORD_MAX_CHARS = 256;
export const PASSWORD_MAX_BYTES = 1024;

export type PasswordInput = { ok: true; password: string } | { ok: false; message: string };

const withinLimits = (s: string): boolean => [...s].length <= PASSWORD_MAX_CHARS && Buffer.byteLength(s, 'utf8') <= PASSWORD_MAX_BYTES;

/**
 * Shape checks done before hashing: length and NUL. The result is NFKC-normalized; the
 * limits hold for the typed text and for the normalized text (NFKC can expand a character
 * up to 18 times, and it is the normalized text that gets hashed).
 */
export function checkPasswordInput(raw: string): PasswordInput {
  if (raw.length === 0) return { ok: false, message: 'Enter a password.' };
  const tooLong: PasswordInput = { ok: false, message: `Passwords are at most ${PASSWORD_MAX_CHARS} characters.` };
  if (raw.length > 2 * PASSWORD_MAX_CHARS || !withinLimits(raw)) return tooLong;
  if (raw.includes('\0')) return { ok: false, message: 'The password contains a NUL character.' };
  const password = raw.normalize('NFKC');
  return withinLimits(password) ? { ok: true, password } : tooLong;
}

export class PasswordHasher {
  private dummyHash: Promise<string> | null = null;

  /** `gate` caps concurrent argon2 runs; without one (unit tests) nothing is capped. */
  constructor(
    private readonly params: Argon2Params,
    private readonly gate: HashGate | null = null,
  ) {}

  private gated<T>(work: () => Promise<T>): Promise<T> {
    return this.gate ? this.gate.run(work) : work();
  }

  private get options() {
    return {
      type: argon2.argon2id,
      memoryCost: this.params.memoryKib,
      timeCost: this.params.iterations,
      parallelism: this.params.parallelism,
    } as const;
  }

  /** Hashes an already-checked, normalized password. */
  hash(password: string): Promise<string> {
    return this.gated(() => argon2.hash(password, this.options));
  }

  /** Verifies; `rehash` says the stored hash is weaker than configured (never stronger). */
  async verify(storedHash: string, password: string): Promise<{ ok: boolean; rehash: boolean }> {
    const ok = await this.gated(async () => {
      try {
        return await argon2.verify(storedHash, password);
      } catch {
        return false; // a malformed stored hash fails closed
      }
    });
    return { ok, rehash: ok && this.isWeaker(storedHash) };
  }

  /** argon2's needsRehash also fires for *stronger* hashes; only upgrade, never downgrade. */
  private isWeaker(storedHash: string): boolean {
    // PHC string: $argon2id$v=19$m=19456,t=2,p=1$salt$hash (parameter order varies).
    const [, variant, version, list] = storedHash.split('$');
    const params = new Map((list ?? '').split(',').map((kv) => kv.split('=') as [string, string]));
    const num = (key: string) => Number(params.get(key) ?? Number.NaN);
    return (
      variant !== 'argon2id' ||
      version !== 'v=19' ||
      !(num('m') >= this.params.memoryKib) ||
      !(num('t') >= this.params.iterations)
    );
  }

  /**
   * The stand-in hash for unknown users, computed once. Outside the gate: it is a one-time
   * cost, and callers waiting for it must then queue for (or be refused by) the gate one by
   * one rather than all hang on a single queued job.
   */
  private dummy(): Promise<string> {
    this.dummyHash ??= argon2.hash('gatehouse-timing-equalizer', this.options).catch((err: unknown) => {
      this.dummyHash = null; // try again next time rather than fail forever
      throw err;
    });
    return this.dummyHash;
  }

  /** Computes the stand-in hash for unknown users now, so the first one costs no extra hash. */
  async prepare(): Promise<void> {
    await this.dummy();
  }

  /**
   * Spends one verification's worth of work for a user that does not exist. It goes through
   * verify(), so through the gate like a real check: a refusal (busy) looks the same too.
   */
  async verifyNobody(password: string): Promise<false> {
    await this.verify(await this.dummy(), password);
    return false;
  }
}
