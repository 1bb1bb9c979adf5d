// A software WebAuthn authenticator for tests (ES256, attestation "none"): creates a
// credential and answers authentication requests, as a browser would send them.

import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

export const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest();

/** A platform authenticator in software: one ES256 key, a signature counter. */
export class SoftAuthenticator {
  readonly credentialId = randomBytes(16);
  private readonly keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  counter = 0;
  /** countUp: a signature counter (else always 0); uv: the user verification flag (PIN, biometric). */
  constructor(
    private readonly countUp = true,
    private readonly uv = true,
  ) {}

  private cose(): Map<number, number | Uint8Array> {
    const jwk = this.keys.publicKey.export({ format: 'jwk' });
    return new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x as string, 'base64url')],
      [-3, Buffer.from(jwk.y as string, 'base64url')],
    ]);
  }

  private authData(rpID: string, attested: boolean): Buffer {
    if (this.countUp) this.counter += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(this.counter);
    const flags = Buffer.from([0x01 | (this.uv ? 0x04 : 0) | (attested ? 0x40 : 0)]); // UP, UV, AT
    const parts = [sha256(rpID), flags, counter];
    if (attested) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(this.credentialId.length);
      parts.push(Buffer.alloc(16), len, this.credentialId, Buffer.from(isoCBOR.encode(this.cose())));
    }
    return Buffer.concat(parts);
  }

  create(options: { challenge: string; rp: { id: string } }, origin: string): Record<string, unknown> {
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin, crossOrigin: false }));
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', this.authData(options.rp.id, true)]]) as never);
    const id = b64url(this.credentialId);
    return { id, rawId: id, type: 'public-key', clientExtensionResults: {}, response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal'] } };
  }

  get(options: { challenge: string; rpId: string }, origin: string, key: KeyObject = this.keys.privateKey): Record<string, unknown> {
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin, crossOrigin: false }));
    const authenticatorData = this.authData(options.rpId, false);
    const signature = sign('sha256', Buffer.concat([authenticatorData, sha256(clientDataJSON)]), key);
    const id = b64url(this.credentialId);
    return {
      id,
      rawId: id,
      type: 'public-key',
      clientExtensionResults: {},
      response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authenticatorData), signature: b64url(signature) },
    };
  }
}
