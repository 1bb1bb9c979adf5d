// Encryption of TOTP secrets at rest: AES-256-GCM (node:crypto), a fresh random 96-bit IV
// per secret and the owner's user id as additional authenticated data.

import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

export interface SealedSecret {
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
}

/** Raised when a sealed secret fails authentication: tampered, moved to another user, or another key. */
export class SecretBoxError extends Error {
  override readonly name = 'SecretBoxError';
}

// Versioned labels: separate keys for separate purposes, so a key can be rotated or a
// purpose added without one output ever being valid as another.
const ENCRYPTION_INFO = 'gatehouse totp secret v1';
const RECOVERY_INFO = 'gatehouse recovery code v1';
const aad = (userId: number): Buffer => Buffer.from(`gatehouse totp v1 user:${userId}`, 'utf8');

function subkey(master: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
}

export class SecretBox {
  private readonly encryptionKey: Buffer;
  private readonly recoveryKey: Buffer;

  /** `masterKey`: the 32-byte base64url `twoFactorKey` from secrets.json. */
  constructor(masterKey: string) {
    const master = Buffer.from(masterKey, 'base64url');
    if (master.length !== 32) throw new RangeError('the two-factor key must be 32 bytes');
    this.encryptionKey = subkey(master, ENCRYPTION_INFO);
    this.recoveryKey = subkey(master, RECOVERY_INFO);
  }

  /** Encrypts `secret` for `userId`: it opens only for that user id, under this key. */
  seal(secret: Uint8Array, userId: number): SealedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, iv);
    cipher.setAAD(aad(userId));
    const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
    return { ciphertext, iv, tag: cipher.getAuthTag() };
  }

  open(sealed: SealedSecret, userId: number): Buffer {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, sealed.iv, { authTagLength: 16 });
      decipher.setAAD(aad(userId));
      decipher.setAuthTag(sealed.tag);
      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
    } catch (err) {
      throw new SecretBoxError(`the TOTP secret of user ${userId} cannot be decrypted (tampered, moved or another key)`, { cause: err });
    }
  }

  /**
   * The stored form of a recovery code: HMAC-SHA-256 over the user id and the normalized
   * code. A fast hash is enough because the codes are random (50 bits), not chosen by
   * people: online guessing is throttled, and offline guessing would first need this key,
   * which is not in the database (with it, 2^50 candidates per code are still far more
   * than a stolen copy is worth). The user id binds a hash to its owner.
   */
  recoveryCodeHash(code: string, userId: number): string {
    return createHmac('sha256', this.recoveryKey).update(`${userId}:${code}`, 'utf8').digest('hex');
  }
}
