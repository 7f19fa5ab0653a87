// Backup under load: `elevate-server backup <file>` (SQLite's online backup API) while clients
// keep writing gives a copy that opens, passes integrity_check, whose audit chain verifies, and
// that a server can start from.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildServer, cli, spawnServer } from '../helpers/server.js';
import { auditVerify, call, cliAsync, HOST, integrityCheck, pick, report, rnd, sleep, stateAuditProblems, workspace } from './lib.js';

test('backup_whileUnderLoad_copyOpensVerifiesAndServes', async (t) => {
  buildServer();
  const ws = workspace('backup');
  t.after(() => rmSync(ws.dir, { recursive: true, force: true }));
  const server = await spawnServer({ policyPath: ws.policyPath, dbPath: ws.dbPath, t, args: HOST });
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
    const r = await cliAsync(['backup', file, '--db', ws.dbPath]);
    const ms = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    opsWhileCopying += ops - during;
    const refused = cli(['backup', file, '--db', ws.dbPath]);
    assert.equal(refused.code, 2, 'an existing file is never overwritten');
    assert.equal(integrityCheck(file), 'ok');
    const v = auditVerify(file);
    assert.equal(v.code, 0, v.out);
    const db = new Database(file, { readonly: true });
    assert.deepEqual(stateAuditProblems(db), [], 'the copy is a consistent snapshot: every row with its events');
    const events = (db.prepare('SELECT count(*) AS n FROM audit').get() as { n: number }).n;
    db.close();
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
