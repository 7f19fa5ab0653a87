// The real built CLI (dist/server.js) as a process: what an operator sees on its output, exit
// codes, and the files it leaves behind. Each command runs on the suite's backend (a SQLite
// file, or a PostgreSQL database in server-pg); the demo keeps its own SQLite files on both.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { SERVER_JS, buildServer, cleanEnv, cli, freePort, issueToken, openTestSql, tempDir, writePolicy, openTestStore } from '../helpers/server.js';
import { onPostgres, testDatabase } from '../helpers/backend.js';
import { tableCount } from '../helpers/rows.js';
import { Tokens } from '../../server/engine/tokens.js';
import { systemClock } from '../../server/domain/clock.js';

let dir: string;
before(() => {
  buildServer();
  dir = tempDir('elevate-cli-');
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A new test database of its own (SQLite: elevate.db in a folder `name` of dir). */
function freshDatabase(name: string) {
  const folder = join(dir, name);
  mkdirSync(folder);
  return testDatabase(folder);
}

test('backup_writesTheCopyMode0600_likeTheDatabase', { skip: onPostgres ? 'SQLite only: backup copies the database file' : false }, () => {
  const policyPath = writePolicy(dir);
  const dbPath = join(dir, 'backup-src.db');
  issueToken(policyPath, dbPath, 'alice');
  const copy = join(dir, 'copies', 'elevate-copy.db');
  const r = cli(['backup', copy, '--db', dbPath], { env: {} });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(statSync(copy).mode & 0o777, 0o600, 'the copy holds token hashes and justifications');
  assert.equal(statSync(dbPath).mode & 0o777, 0o600);
});

test('backup_ofAPostgresDatabase_pointsToPgDump_andWritesNothing', { skip: onPostgres ? false : 'PostgreSQL only' }, async () => {
  const db = await freshDatabase('backup-pg');
  issueToken(writePolicy(dir, undefined, 'backup-pg.yaml'), db, 'alice');
  const copy = join(dir, 'copies', 'elevate-pg-copy.db');
  const r = cli(['backup', copy, ...db.args]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^elevate-server: backup copies a SQLite database; for PostgreSQL use its own tools, e\.g\. pg_dump /);
  assert.equal(existsSync(copy), false);
});

test('readCommands_onAMissingDatabase_exit2WithThePath_andCreateNothing', () => {
  const where = join(dir, 'nothing-here');
  mkdirSync(where);
  const db = join(where, 'missing.db');
  for (const args of [
    ['audit', 'verify'],
    ['audit', 'head'],
    ['audit', 'export'],
    ['token', 'list'],
    ['token', 'revoke', '--user', 'alice'],
    ['backup', join(where, 'copy.db')],
  ]) {
    const r = cli([...args, '--db', db]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr, `elevate-server: no database at ${db}: give --db or ELEVATE_DB (the server creates it on its first start)\n`, args.join(' '));
    assert.equal(r.stdout, '');
    assert.equal(existsSync(db), false, `${args.join(' ')} created the database`);
  }
  // the default path too: nothing appears in the working directory
  const r = cli(['audit', 'verify'], { cwd: where });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no database at .*\.elevate\/elevate\.db/);
  assert.equal(existsSync(join(where, '.elevate')), false);
});

test('readCommands_onADatabaseWithoutElevatesTables_exit2_andCreateNoTable', async () => {
  // PostgreSQL: a database that exists but was never served; SQLite: an empty file
  const db = await freshDatabase('no-tables');
  if (!onPostgres) writeFileSync(db.spec, '');
  for (const args of [
    ['audit', 'verify'],
    ['audit', 'head'],
    ['audit', 'export'],
    ['token', 'list'],
    ['token', 'revoke', '--user', 'alice'],
  ]) {
    const r = cli([...args, ...db.args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.equal(
      r.stderr,
      `elevate-server: no Elevate tables in the database at ${db.spec}: give --db or ELEVATE_DB (the server creates them on its first start)\n`,
      args.join(' '),
    );
    assert.equal(r.stdout, '');
  }
  const sql = await openTestSql(db);
  try {
    assert.equal(await tableCount(sql), 0, 'a read command created tables');
  } finally {
    await sql.close();
  }
});

test('listingAndVerifyCommands_speakJsonWithFormatJson', async () => {
  const policyPath = writePolicy(dir, undefined, 'json.yaml');
  const db = await freshDatabase('json');
  issueToken(policyPath, db, 'alice');
  const json = (args: string[]) => {
    const r = cli([...args, '--format', 'json', ...db.args, '--config', policyPath]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const list = json(['token', 'list']);
  assert.equal(list.tokens.length, 1);
  assert.equal(list.tokens[0].userId, 'alice');
  assert.equal(list.tokens[0].state, 'active');
  const verify = json(['audit', 'verify']);
  assert.deepEqual([verify.ok, verify.count], [true, 1]);
  assert.match(verify.headHash, /^[0-9a-f]{64}$/);
  const head = json(['audit', 'head']);
  assert.deepEqual(head, { seq: 1, hash: verify.headHash });
  const config = json(['check-config']);
  assert.equal(config.ok, true);
  const bad = cli(['check-config', '--format', 'json', '--config', writePolicy(dir, 'users: []\nresources: [{ id: r }]\n', 'bad.yaml')]);
  assert.equal(bad.code, 1);
  assert.equal(JSON.parse(bad.stdout).ok, false);
  assert.ok(JSON.parse(bad.stdout).errors.length >= 2);
  const wrong = cli(['token', 'list', '--format', 'xml', ...db.args]);
  assert.equal(wrong.code, 2);
  assert.equal(wrong.stderr, 'elevate-server: --format: expected text or json, got "xml"\nRun "elevate-server --help" for usage.\n');
});

test('usageErrors_areOneLineAndAHint_notTheWholeUsage', () => {
  const policy = writePolicy(dir, undefined, 'usage.yaml');
  for (const args of [['audit', 'bogus'], ['token'], ['frobnicate'], ['start', '--port', 'x', '--config', policy], ['--no-such-flag']]) {
    const r = cli(args);
    assert.equal(r.code, 2, args.join(' '));
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, `${args.join(' ')}:\n${r.stderr}`);
    assert.match(lines[0], /^elevate-server: /);
    assert.equal(lines[1], 'Run "elevate-server --help" for usage.');
  }
});

test('auditExport_intoAReaderThatStopsEarly_endsQuietly', async () => {
  const db = await freshDatabase('big');
  const store = await openTestStore(db, { role: 'cli' });
  const tokens = new Tokens(store, systemClock);
  // enough events that the export outruns the pipe's buffer after the reader has gone
  for (let i = 0; i < 2000; i++) await tokens.issue('alice', { actorId: 'test', label: `bulk-${i}-${'x'.repeat(60)}` });
  await store.close();
  for (const format of ['jsonl', 'csv']) {
    const r = spawnSync(
      '/bin/bash',
      ['-c', `set -o pipefail; "${process.execPath}" "${SERVER_JS}" audit export --format ${format} ${db.args.map((a) => `"${a}"`).join(' ')} | head -1`],
      { encoding: 'utf8', env: cleanEnv() },
    );
    assert.equal(r.stderr, '', `no stack trace (${format})`);
    assert.equal(r.status, 0, `exit 0 (${format})`);
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 1);
  }
});

test('start_onABusyPort_saysSoInOneLine', async () => {
  const port = await freePort();
  const blocker = createServer();
  await new Promise<void>((ok) => blocker.listen(port, '127.0.0.1', ok));
  try {
    const policyPath = writePolicy(dir, undefined, 'busy.yaml');
    const db = await freshDatabase('busy');
    const r = await new Promise<{ code: number | null; stderr: string }>((ok) => {
      const c = spawn(process.execPath, [SERVER_JS, 'start', '--config', policyPath, ...db.args, '--port', String(port), '--host', '127.0.0.1'], {
        env: cleanEnv(),
      });
      let stderr = '';
      c.stderr.on('data', (d) => (stderr += d));
      c.on('close', (code) => ok({ code, stderr }));
    });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `elevate-server: cannot listen on 127.0.0.1:${port}: the port is already in use (another elevate-server?); choose another with --port or ELEVATE_PORT\n`,
    );
  } finally {
    blocker.close();
  }
});

test('demo_thenTokenIssueInTheSameFolder_usesTheDemosFiles', async () => {
  const folder = join(dir, 'demo-folder');
  mkdirSync(folder);
  const port = await freePort();
  const demo = spawn(process.execPath, [SERVER_JS, 'demo', '--port', String(port)], { cwd: folder, env: cleanEnv() });
  let out = '';
  demo.stdout.on('data', (d) => (out += d));
  demo.stderr.on('data', (d) => (out += d));
  try {
    const end = Date.now() + 20_000;
    while (!/Stop with Ctrl\+C/.test(out)) {
      if (Date.now() > end || demo.exitCode !== null) assert.fail(`the demo did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(out, /More tokens, from this folder \(it uses the demo's policy and database\): node .*server\.js token issue alice/);
  } finally {
    demo.kill('SIGTERM');
    await new Promise((r) => demo.once('close', r));
  }
  const r = cli(['token', 'issue', 'alice'], { cwd: folder });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^elv_[\w-]+\n$/);
  assert.match(r.stderr, /using the demo's files \(\.elevate\/demo-policy\.yaml, \.elevate\/demo\.db\)/);
  const list = cli(['token', 'list', '--format', 'json'], { cwd: folder });
  assert.equal(list.code, 0, list.stderr);
  assert.ok(JSON.parse(list.stdout).tokens.some((t: { userId: string; label: string | null }) => t.userId === 'alice' && t.label !== 'demo'));
  assert.equal(existsSync(join(folder, '.elevate', 'elevate.db')), false, 'no second, empty database');
});
