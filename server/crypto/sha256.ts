// SHA-256 on the hot paths (every audit event, every authenticated request). The one-shot
// crypto.hash skips the Hash object, about a third of the cost for inputs this short; it needs
// Node ≥ 20.12, and package.json allows any Node 20, so older ones use createHash.
import * as crypto from 'node:crypto';

const oneShot = typeof crypto.hash === 'function';

export const sha256Hex = (data: string | Buffer): string =>
  oneShot ? crypto.hash('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');

export const sha256Bytes = (data: string): Buffer =>
  oneShot ? (crypto.hash('sha256', data, 'buffer') as Buffer) : crypto.createHash('sha256').update(data).digest();
