// openStore(spec): --db / ELEVATE_DB picks the backend. A path is a SQLite file; a postgres://
// or postgresql:// URL is PostgreSQL (loaded only then), whose errors never show the password.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isPostgresUrl, openStore } from '../../server/store/open.js';

test('aPath_opensSqlite_inTheRoleAsked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-open-'));
  try {
    const server = await openStore(join(dir, 'elevate.db'), { role: 'server', verifyInline: true });
    assert.equal(server.kind, 'sqlite');
    // the server role holds the file: a second server is refused, a CLI command is not
    await assert.rejects(openStore(join(dir, 'elevate.db'), { role: 'server' }), /another elevate-server is already running/);
    const cli = await openStore(join(dir, 'elevate.db'), { role: 'cli', verifyInline: true });
    assert.equal(cli.kind, 'sqlite');
    await cli.close();
    await server.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readOnlyCommands_migrateFalse_refuseAMissingOrForeignSqliteFile_andCreateNothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-open-'));
  try {
    const missing = join(dir, 'sub', 'missing.db');
    await assert.rejects(openStore(missing, { role: 'cli', migrate: false }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'NO_DATABASE');
      assert.match(e.message, /no Elevate database at .*missing\.db/);
      return true;
    });
    assert.equal(existsSync(join(dir, 'sub')), false, 'nothing created');
    const empty = join(dir, 'empty.db');
    writeFileSync(empty, '');
    await assert.rejects(openStore(empty, { role: 'cli', migrate: false }), { code: 'NO_DATABASE' });
    const real = join(dir, 'elevate.db');
    await (await openStore(real, { role: 'cli' })).close();
    const reopened = await openStore(real, { role: 'cli', migrate: false, verifyInline: true });
    assert.deepEqual(await reopened.schema(), { version: 7, expected: 7 });
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('postgresUrls_areRecognisedInBothSpellings_andNothingElse', () => {
  assert.equal(isPostgresUrl('postgres://elevate@db/elevate'), true);
  assert.equal(isPostgresUrl('postgresql://elevate@db/elevate'), true);
  assert.equal(isPostgresUrl('POSTGRES://elevate@db/elevate'), true);
  assert.equal(isPostgresUrl('/var/lib/elevate/postgres://x.db'), false);
  assert.equal(isPostgresUrl('postgres.db'), false);
  assert.equal(isPostgresUrl('./postgresql/elevate.db'), false);
});

test('aPostgresUrl_opensPostgres_andAFailureNeverShowsThePassword', async () => {
  // nothing listens on port 1: the PostgreSQL store is loaded and tries to connect
  await assert.rejects(openStore('postgresql://elevate:hunter2-secret@127.0.0.1:1/elevate', { role: 'server' }), (e: Error) => {
    assert.match(e.message, /PostgreSQL/);
    assert.doesNotMatch(e.message + String(e.stack), /hunter2-secret/);
    return true;
  });
});
