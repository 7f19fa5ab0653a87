// The server key: 32 random bytes in a file next to the database, created on first start with
// mode 0600. It encrypts secrets at rest (credentials handed out by providers); losing it only
// makes stored credentials unreadable, which ends nothing but their retrieval.
import { chmodSync, closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

export const KEY_BYTES = 32;

/** `<db dir>/server.key`; an in-memory database gets no key file (callers pass none). */
export const serverKeyPath = (dbPath: string): string => join(dirname(dbPath), 'server.key');

/**
 * Reads the key, creating it first if there is none. Created exclusively (O_EXCL), so two
 * servers starting at once cannot each write their own; a key readable by others is tightened
 * back to 0600 rather than refused, since the owner is who runs the server anyway.
 */
export function loadOrCreateServerKey(path: string): Buffer {
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, randomBytes(KEY_BYTES).toString('base64') + '\n');
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (key.length !== KEY_BYTES) throw new Error(`${path}: expected a base64 ${KEY_BYTES}-byte key`);
  return key;
}
