// The real built CLI (dist/server.js) as a process: what an operator sees on its output, exit
// codes, and the files it leaves behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildServer, cli, issueToken, tempDir, writePolicy } from '../helpers/server.js';

let dir: string;
before(() => {
  buildServer();
  dir = tempDir('elevate-cli-');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('backup_writesTheCopyMode0600_likeTheDatabase', () => {
  const policyPath = writePolicy(dir);
  const dbPath = join(dir, 'backup-src.db');
  issueToken(policyPath, dbPath, 'alice');
  const copy = join(dir, 'copies', 'elevate-copy.db');
  const r = cli(['backup', copy, '--db', dbPath], { env: {} });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(statSync(copy).mode & 0o777, 0o600, 'the copy holds token hashes and justifications');
  assert.equal(statSync(dbPath).mode & 0o777, 0o600);
});
