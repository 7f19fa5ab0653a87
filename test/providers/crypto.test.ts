// The server key file and the sealing of credentials at rest.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { open, seal } from '../../server/crypto/aead.js';
import { loadOrCreateServerKey, serverKeyPath } from '../../server/crypto/serverKey.js';

test('serverKey_isCreatedOnFirstStartWithMode0600_nextToTheDatabase_andReusedAfter', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-key-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = serverKeyPath(join(dir, 'elevate.db'));
  assert.equal(path, join(dir, 'server.key'));
  const first = loadOrCreateServerKey(path);
  assert.equal(first.length, 32);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(loadOrCreateServerKey(path), first);
  chmodSync(path, 0o644);
  assert.deepEqual(loadOrCreateServerKey(path), first);
  assert.equal(statSync(path).mode & 0o777, 0o600, 'a key readable by others is tightened back');
  assert.equal(readFileSync(path, 'utf8').includes(first.toString('hex')), false);
});

test('seal_roundTrips_andRefusesAnotherGrantAnotherKeyOrATamperedByte', () => {
  const key = Buffer.alloc(32, 7);
  const blob = seal(key, Buffer.from('{"PGPASSWORD":"s3cret"}'), 'grt_a');
  assert.equal(blob.includes(Buffer.from('s3cret')), false);
  assert.equal(open(key, blob, 'grt_a').toString(), '{"PGPASSWORD":"s3cret"}');
  assert.throws(() => open(key, blob, 'grt_b'));
  assert.throws(() => open(Buffer.alloc(32, 8), blob, 'grt_a'));
  const tampered = Buffer.from(blob);
  tampered[tampered.length - 1] ^= 1;
  assert.throws(() => open(key, tampered, 'grt_a'));
  assert.notDeepEqual(seal(key, Buffer.from('x'), 'g'), seal(key, Buffer.from('x'), 'g'), 'a fresh nonce every time');
});
