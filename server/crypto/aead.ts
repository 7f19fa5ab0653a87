// AES-256-GCM with a fresh 96-bit nonce per message. The associated data binds a ciphertext to
// what it belongs to (a grant id), so a row copied onto another grant does not decrypt.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const NONCE = 12;
const TAG = 16;
const VERSION = 1;

/** version (1 byte) · nonce (12) · tag (16) · ciphertext */
export function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const nonce = randomBytes(NONCE);
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG });
  c.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([Buffer.from([VERSION]), nonce, c.getAuthTag(), body]);
}

/** Throws when the key, the associated data or a single bit of the blob is wrong. */
export function open(key: Buffer, blob: Buffer, aad: string): Buffer {
  if (blob.length < 1 + NONCE + TAG || blob[0] !== VERSION) throw new Error('not a sealed value');
  const nonce = blob.subarray(1, 1 + NONCE);
  const tag = blob.subarray(1 + NONCE, 1 + NONCE + TAG);
  const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG });
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(tag);
  return Buffer.concat([d.update(blob.subarray(1 + NONCE + TAG)), d.final()]);
}
