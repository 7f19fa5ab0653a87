// Backup under load: `elevate-server backup <file>` (SQLite's online backup API) while clients
// keep writing gives a copy that opens, passes integrity_check, whose audit chain verifies, and
// that a server can start from. SQLite only (the reliability-pg suite leaves *.sqlite.test.ts out):
// on PostgreSQL the command refuses and names pg_dump, tested at the end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildServer, cli, spawnServer, tempDir } from '../helpers/server.js';
import { auditVerify, call, cliAsync, HOST, integrityCheck, openSql, pick, report, rnd, sleep, startServer, stateAuditProblems, workspace } from './lib.js';

test('backup_whileUnderLoad_copyOpensVerifiesAndServes', async (t) => {
  buildServer();
  const ws = await workspace('backup');
  t.after(() => rmSync(ws.dir, { recursive: true, force: true }));
  const server = await startServer(ws, { t });
  let stop = false;
  let ops = 0;
  let opsWhileCopying = 0;
  const errors: string[] = [];
  const load = Array.from({ length: 4 }, async () => {
    while (!stop) {
      const who = pick(['alice', 'dave']);
      const r = await call(server.url, ws.tokens[who], 'POST', '/v1/requests', {
        resourceId: 'staging-db',
        role: 'read',
        durationSeconds: rnd(1, 5),
        justification: 'backup load',
      });
      if (r.status !== 201) errors.push(`${r.status} ${r.text}`);
      else if (Math.random() < 0.5) await call(server.url, ws.tokens[who], 'POST', `/v1/grants/${r.body.grant.id}/relinquish`);
      await call(server.url, ws.tokens.svc, 'GET', `/v1/check?userId=${who}&resourceId=staging-db&role=read`);
      ops += 2;
    }
  });
  await sleep(1500);
  const copies: { file: string; ms: number; events: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const file = join(ws.dir, `backup-${i}.db`);
    const t0 = Date.now();
    const during = ops;
    const r = await cliAsync(['backup', file, '--db', ws.db.spec]);
    const ms = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    opsWhileCopying += ops - during;
    const refused = cli(['backup', file, '--db', ws.db.spec]);
    assert.equal(refused.code, 2, 'an existing file is never overwritten');
    assert.equal(integrityCheck(file), 'ok');
    const v = auditVerify(file);
    assert.equal(v.code, 0, v.out);
    const db = await openSql({ spec: file }, { readonly: true });
    assert.deepEqual(await stateAuditProblems(db), [], 'the copy is a consistent snapshot: every row with its events');
    const events = (await db.get<{ n: number }>('SELECT count(*) AS n FROM audit'))!.n;
    await db.close();
    copies.push({ file, ms, events });
    await sleep(500);
  }
  stop = true;
  await Promise.all(load);
  assert.deepEqual(errors, []);
  assert.ok(copies[2].events > copies[0].events, 'the load kept writing between backups');
  // restore: a server starts from the copy, catches up and serves
  const restored = await spawnServer({ policyPath: ws.policyPath, dbPath: copies[2].file, t, args: HOST });
  const me = await call(restored.url, ws.tokens.alice, 'GET', '/v1/me');
  assert.equal(me.status, 200, 'tokens in the copy still work');
  await restored.stop();
  await server.stop();
  const final = auditVerify(copies[2].file);
  assert.equal(final.code, 0, final.out);
  assert.ok(opsWhileCopying > 0, 'clients were writing while the copies were made');
  report('backup', { copies: copies.length, ops, opsWhileCopying, eventsInCopies: copies.map((c) => c.events), backupMs: copies.map((c) => c.ms) });
});

test('backup_ofAPostgresDatabase_exits1AndNamesPgDump_writesNothing', (t) => {
  buildServer();
  const dir = tempDir('elevate-backup-pg-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'copy.db');
  // refused from the URL alone, before any connection: no cluster is needed to test it
  const r = cli(['backup', file, '--db', 'postgres://elevate@127.0.0.1:1/elevate']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /for PostgreSQL use its own tools, e\.g\. pg_dump/);
  assert.equal(existsSync(file), false);
});
