// `elevate-server demo --replicas N` given bad input: the built CLI (dist/server.js) as a process
// in an empty folder. Each mistake gets one line naming it, the usage hint and exit 2, and
// nothing is created or started (the demo would first make .elevate/ for its PostgreSQL).
// The store is not involved: the same on the SQLite and the PostgreSQL runs.
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { before, test } from 'node:test';
import { checkReplicaDemo, MAX_REPLICAS } from '../../server/demo/replicas.js';
import { buildServer, cli, freePortRun, tempDir } from '../helpers/server.js';

before(() => buildServer());

/** Runs the CLI in a fresh empty folder; returns what it said and what it left there. */
function demo(args: string[], env: Record<string, string> = {}) {
  const cwd = tempDir('elevate-demo-replicas-');
  try {
    const r = cli(args, { cwd, env, timeoutMs: 15_000 });
    return { ...r, left: readdirSync(cwd) };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** The one refusal every case must look like: the problem, the hint, exit 2, nothing left behind. */
function assertRefused(args: string[], problem: string | RegExp, env: Record<string, string> = {}) {
  const r = demo(args, env);
  const what = `${args.join(' ')}:\n${r.stderr}`;
  assert.equal(r.signal, null, `${what} did not exit by itself (it started something)`);
  assert.equal(r.code, 2, what);
  assert.equal(r.stdout, '', what);
  const lines = r.stderr.split('\n');
  assert.equal(lines.length, 3, `one line and the hint, no stack: ${what}`);
  assert.equal(lines[1], 'Run "elevate-server --help" for usage.');
  assert.equal(lines[2], '');
  if (typeof problem === 'string') assert.equal(lines[0], `elevate-server: ${problem}`);
  else assert.match(lines[0], problem);
  assert.deepEqual(r.left, [], `${args.join(' ')} created files in the working directory`);
}

const expectedCount = (got: string) => `--replicas: expected a number of replicas from 1 to ${MAX_REPLICAS}, got "${got}"`;

test('replicas_notAWholeNumberFrom1To9_isRefusedNamingTheValue_andStartsNothing', () => {
  for (const n of ['0', 'three', '', '-1', '2.5', '3.0', '0x3', '1e0', '+2', ' 2', '10', '99999999999999999999'])
    assertRefused(['demo', `--replicas=${n}`, '--port', '7410'], expectedCount(n));
});

test('replicas_withoutAValue_orADashedOneAfterASpace_isRefusedByTheParser_inOneLine', () => {
  assertRefused(['demo', '--replicas'], /^elevate-server: Option '--replicas <value>' argument missing$/);
  assertRefused(['demo', '--replicas', '-1'], /^elevate-server: Option '--replicas' argument is ambiguous\. .*'--replicas=-XYZ'/);
});

test('replicas_withAFlagTheReplicaDemoWouldIgnore_isRefusedNamingTheFlags', () => {
  const why = ': the replica demo runs its own PostgreSQL, on loopback, without TLS';
  assertRefused(['demo', '--replicas', '2', '--with-postgres'], `--replicas cannot go with --with-postgres${why}`);
  assertRefused(['demo', '--replicas', '2', '--with-oidc'], `--replicas cannot go with --with-oidc${why}`);
  assertRefused(
    ['demo', '--replicas', '2', '--db', 'postgresql://elevate@db.internal/elevate', '--db-password-file', 'pw'],
    `--replicas cannot go with --db, --db-password-file${why}`,
  );
  assertRefused(
    ['demo', '--replicas', '2', '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--insecure-listen'],
    `--replicas cannot go with --tls-cert, --tls-key, --insecure-listen${why}`,
  );
});

test('replicas_onANonLoopbackHost_isRefused_fromTheFlagOrTheEnvironment', () => {
  const problem = '--replicas: the demo listens on loopback only (plain HTTP), not on 0.0.0.0: leave --host and ELEVATE_HOST out, or give 127.0.0.1';
  assertRefused(['demo', '--replicas', '2', '--host', '0.0.0.0'], problem);
  assertRefused(['demo', '--replicas', '2'], problem, { ELEVATE_HOST: '0.0.0.0' });
});

test('replicas_withPortsItCannotUse_isRefused', () => {
  assertRefused(['demo', '--replicas', '3', '--port', '0'], '--port 0: the replica demo needs a fixed port (its replicas take the ports after it)');
  assertRefused(['demo', '--replicas', '3', '--port', '65533'], '--port 65533: no room for 3 replicas on the ports after it (at most --port 65532)');
  assertRefused(['demo', '--replicas', '3'], '--port 65535: no room for 3 replicas on the ports after it (at most --port 65532)', { ELEVATE_PORT: '65535' });
  assertRefused(['demo', '--replicas', '3', '--port', '70000'], '--port: expected a port number, got "70000"');
});

test('replicas_onAPortAnotherProcessHolds_isRefusedNamingIt_beforeStartingAnything', async () => {
  // a replica whose port is taken would exit at once and be restarted every 3 s, never serving
  const base = await freePortRun(4);
  const holder = createServer();
  await new Promise<void>((ok) => holder.listen(base + 2, '127.0.0.1', ok));
  try {
    assertRefused(
      ['demo', '--replicas', '3', '--port', String(base)],
      `--port ${base}: port ${base + 2} already in use (the replica demo takes ${base} for its balancer and ${base + 1}-${base + 3} for its replicas); choose another --port`,
    );
  } finally {
    await new Promise((ok) => holder.close(ok));
  }
});

test('replicas_onAnotherCommand_isRefused_insteadOfIgnored', () => {
  assertRefused(['start', '--replicas', '3'], '--replicas goes with demo (elevate-server demo --replicas N), not with start');
  assertRefused(['token', 'list', '--replicas', '3'], '--replicas goes with demo (elevate-server demo --replicas N), not with token');
});

// what passes the check (the demo itself runs in test/replicas: `demo --replicas 3`)
test('checkReplicaDemo_acceptsEveryCountFrom1To9_andTheLastPortsThatFit', () => {
  const ok = { flags: { replicas: '3', port: '7410' }, host: '127.0.0.1', loopback: true, port: 7410 };
  for (let n = 1; n <= MAX_REPLICAS; n++) assert.deepEqual(checkReplicaDemo({ ...ok, replicas: String(n) }), { count: n });
  assert.deepEqual(checkReplicaDemo({ ...ok, replicas: '3', port: 65532 }), { count: 3 });
  assert.deepEqual(checkReplicaDemo({ ...ok, replicas: '3', port: 65533 }), {
    problem: '--port 65533: no room for 3 replicas on the ports after it (at most --port 65532)',
  });
  // the flags that go with it clash with nothing
  assert.deepEqual(checkReplicaDemo({ ...ok, replicas: '2', flags: { config: 'my.yaml', host: 'localhost' }, host: 'localhost' }), { count: 2 });
});
