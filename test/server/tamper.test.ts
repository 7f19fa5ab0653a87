// Tampering with the audit log is detected. The attacker owns the database (SQLite: the file;
// PostgreSQL: the tables): they drop or disable the append-only triggers and edit, delete or
// insert rows with SQL (test/helpers/rows.ts speaks the backend's dialect). `audit verify` (the bundled CLI)
// must exit 1 and name the first bad sequence number; truncation and wholesale rewrites, which
// leave a self-consistent chain, are caught with `--head` (a head kept elsewhere).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { canonicalJson, hashEvent } from '../../server/store/auditChain.js';
import { access, buildServer, cli, makeServer, MIN, openTestSql, tempDir, type TestDatabase, type TestSql } from '../helpers/server.js';
import { onPostgres } from '../helpers/backend.js';
import { copyDatabase, dropAuditGuard, withSql } from '../helpers/rows.js';

let dir: string;
let pristine: TestDatabase;
let rows: number;
let head: { seq: number; hash: string };
let n = 0;

before(async () => {
  buildServer();
  dir = tempDir('elevate-tamper-');
  const s = await makeServer({ dir });
  // some activity of every kind
  const auto = await s.call('alice', 'POST', '/v1/requests', access('staging-db', 'read', 1800, { justification: 'debug the nightly job' }));
  const pending = await s.call('alice', 'POST', '/v1/requests', access('prod-db', 'write', 600));
  await s.call('bob', 'POST', `/v1/requests/${pending.body.request.id}/approve`, { comment: 'fine' });
  await s.call('alice', 'POST', `/v1/grants/${auto.body.grant.id}/extend`, { durationSeconds: 600 });
  await s.call('dave', 'POST', '/v1/requests', access('incident', 'admin', 600, { breakGlass: true }));
  await s.call('svc', 'GET', '/v1/check?userId=alice&resourceId=prod-db&role=write');
  await s.advance(40 * MIN);
  await s.close();
  pristine = s.db;
  await withSql(pristine, async (db) => {
    rows = (await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit'))!.n;
    head = (await db.get<{ seq: number; hash: string }>('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'))!;
  });
  assert.ok(rows >= 20, `enough activity (${rows} events)`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the pristine database, tampered with by `attack` after removing the triggers. */
async function tampered(attack: (db: TestSql) => Promise<unknown>): Promise<TestDatabase> {
  const copy = await copyDatabase(pristine, dir, `tampered-${++n}.db`);
  await withSql(copy, async (db) => {
    await dropAuditGuard(db);
    await attack(db);
  });
  return copy;
}

function verify(db: TestDatabase, ...args: string[]) {
  return cli(['audit', 'verify', ...db.args, ...args]);
}

function assertDetected(db: TestDatabase, seq: number, ...args: string[]) {
  const r = verify(db, ...args);
  assert.equal(r.code, 1, `verify should fail: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, new RegExp(`FAILED at seq ${seq}\\b`), r.stdout);
}

const mid = () => Math.floor(rows / 2);

describe('audit verify', () => {
  test('verify_anUntouchedLog_exits0', () => {
    const r = verify(pristine);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, `ok: ${rows} events, head ${head.hash}\n`);
    const h = cli(['audit', 'head', ...pristine.args]);
    assert.equal(h.stdout, `${head.seq} ${head.hash}\n`);
    assert.equal(verify(pristine, '--head', `${head.seq} ${head.hash}`).code, 0);
    assert.equal(verify(pristine, '--head', head.hash).code, 0);
  });

  const edits: [string, string][] = [
    ['details', `UPDATE audit SET details = replace(details, 'debug the nightly job', 'routine') WHERE seq = ?`],
    ['details (same meaning, not canonical)', `UPDATE audit SET details = replace(details, '{', '{ ') WHERE seq = ?`],
    ['actor_id', `UPDATE audit SET actor_id = 'mallory' WHERE seq = ?`],
    ['action', `UPDATE audit SET action = 'request.denied' WHERE seq = ?`],
    ['at', `UPDATE audit SET at = at - 3600000 WHERE seq = ?`],
    ['resource_id', `UPDATE audit SET resource_id = 'reports' WHERE seq = ?`],
    ['request_id', `UPDATE audit SET request_id = 'req_forged' WHERE seq = ?`],
    ['grant_id', `UPDATE audit SET grant_id = 'grt_forged' WHERE seq = ?`],
    // format 2 hashes whom an event is about (it decides who may read it) and the format itself
    ['subject_id', `UPDATE audit SET subject_id = 'mallory' WHERE seq = ?`],
    ['v', `UPDATE audit SET v = 1 WHERE seq = ?`],
    ['hash', `UPDATE audit SET hash = '${'f'.repeat(64)}' WHERE seq = ?`],
    ['prev_hash', `UPDATE audit SET prev_hash = '${'0'.repeat(64)}' WHERE seq = ?`],
  ];
  for (const [field, sql] of edits) {
    test(`tamper_modifying_${field}_isDetectedAtThatSeq`, async () => {
      // the justification lives in the first request.created; other edits hit the middle row
      let target = mid();
      const db = await tampered(async (d) => {
        if (field.startsWith('details') && !field.includes('canonical')) {
          target = (await d.get<{ seq: number }>(`SELECT seq FROM audit WHERE details LIKE '%debug the nightly job%' ORDER BY seq LIMIT 1`))!.seq;
        }
        if (field === 'request_id' || field === 'grant_id') {
          target = (await d.get<{ seq: number }>(`SELECT seq FROM audit WHERE ${field} IS NOT NULL ORDER BY seq DESC LIMIT 1`))!.seq;
        }
        const row = () => d.get('SELECT * FROM audit WHERE seq = ?', target);
        const before = await row();
        await d.run(sql, target);
        assert.notDeepEqual(await row(), before, 'the edit changed the row');
      });
      assertDetected(db, target);
    });
  }

  test('tamper_modifyingTheLastRow_isDetected', async () => {
    const db = await tampered((d) => d.run(`UPDATE audit SET actor_id = 'mallory' WHERE seq = ?`, head.seq));
    assertDetected(db, head.seq);
  });

  test('tamper_deletingARow_isDetectedAsAGap', async () => {
    const db = await tampered((d) => d.run('DELETE FROM audit WHERE seq = ?', mid()));
    assertDetected(db, mid());
  });

  test('tamper_deletingTheFirstRow_isDetected', async () => {
    const db = await tampered((d) => d.run('DELETE FROM audit WHERE seq = 1'));
    assertDetected(db, 1);
  });

  test('tamper_insertingARowAtTheEnd_isDetected', async () => {
    const db = await tampered((d) =>
      d.run(
        `INSERT INTO audit (seq, at, actor_id, action, details, prev_hash, hash) VALUES (?, ?, 'mallory', 'grant.activated', '{}', ?, ?)`,
        head.seq + 1,
        Date.now(),
        head.hash,
        'a'.repeat(64),
      ),
    );
    assertDetected(db, head.seq + 1);
  });

  test('tamper_insertingAWellFormedRowInTheMiddle_isDetectedAtTheNextRow', async () => {
    // the forger shifts every later row up by one and computes a correct hash for their row;
    // the row after it still points at the old predecessor
    const k = mid();
    const db = await tampered(async (d) => {
      const rowsAfter = await d.all<{ seq: number }>('SELECT seq FROM audit WHERE seq >= ? ORDER BY seq DESC', k);
      for (const r of rowsAfter) await d.run('UPDATE audit SET seq = seq + 1 WHERE seq = ?', r.seq);
      const prev = (await d.get<{ hash: string }>('SELECT hash FROM audit WHERE seq = ?', k - 1))!.hash;
      const at = Date.UTC(2026, 0, 5, 9, 0);
      const details = canonicalJson({ userId: 'mallory', role: 'admin' });
      // in the format the server writes now (2: the subject is hashed too)
      const fields = {
        seq: k,
        at: new Date(at).toISOString(),
        actorId: 'mallory',
        action: 'grant.activated',
        resourceId: 'prod-db',
        requestId: null,
        grantId: null,
        subjectId: null,
        v: 2,
      };
      await d.run(
        `INSERT INTO audit (seq, at, actor_id, action, resource_id, details, prev_hash, hash, v) VALUES (?, ?, 'mallory', 'grant.activated', 'prod-db', ?, ?, ?, 2)`,
        k,
        at,
        details,
        prev,
        hashEvent(prev, fields, details),
      );
    });
    assertDetected(db, k + 1);
  });

  test('tamper_truncatingTheTail_passesAPlainVerify_butIsDetectedWithHead', async () => {
    const db = await tampered((d) => d.run('DELETE FROM audit WHERE seq > ?', head.seq - 3));
    const plain = verify(db);
    assert.equal(plain.code, 0, 'a shorter chain is self-consistent: only a kept head can tell');
    assertDetected(db, head.seq, '--head', `${head.seq} ${head.hash}`);
    const hashOnly = verify(db, '--head', head.hash);
    assert.equal(hashOnly.code, 1);
    assert.match(hashOnly.stdout, /FAILED at seq \d+/);
  });

  test('tamper_rewritingTheChainFromARow_isDetectedWithHead', async () => {
    const k = mid();
    const db = await tampered(async (d) => {
      await d.run(`UPDATE audit SET actor_id = 'mallory' WHERE seq = ?`, k);
      // recompute every hash from k on, as a careful attacker would
      const all = await d.all<any>('SELECT * FROM audit WHERE seq >= ? ORDER BY seq', k);
      let prev = (await d.get<{ hash: string }>('SELECT hash FROM audit WHERE seq = ?', k - 1))!.hash;
      for (const r of all) {
        const h = hashEvent(
          prev,
          {
            seq: r.seq,
            at: new Date(r.at).toISOString(),
            actorId: r.actor_id,
            action: r.action,
            resourceId: r.resource_id,
            requestId: r.request_id,
            grantId: r.grant_id,
            subjectId: r.subject_id,
            v: r.v,
          },
          r.details,
        );
        await d.run('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?', prev, h, r.seq);
        prev = h;
      }
    });
    assert.equal(verify(db).code, 0, 'a fully recomputed chain is self-consistent');
    const r = verify(db, '--head', `${head.seq} ${head.hash}`);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAILED at seq \d+/);
  });

  test('tamper_isAlsoReportedByTheApi', async () => {
    const k = mid();
    const file = await tampered((d) => d.run(`UPDATE audit SET actor_id = 'mallory' WHERE seq = ?`, k));
    const sub = tempDir('elevate-tamper-api-');
    const s = await makeServer({ dir: sub, dbSpec: await copyDatabase(file, sub, 'elevate.db') });
    try {
      const r = await s.call('audrey', 'GET', '/v1/audit/verify');
      assert.equal(r.status, 200);
      assert.equal(r.body.ok, false);
      assert.equal(r.body.firstBadSeq, k);
    } finally {
      await s.close();
      rmSync(sub, { recursive: true, force: true });
    }
  });

  test('theAppendOnlyTriggers_stopUpdatesAndDeletesWhileInPlace', async () => {
    const copy = await copyDatabase(pristine, dir, 'triggers.db');
    const d = await openTestSql(copy);
    try {
      await assert.rejects(d.run(`UPDATE audit SET actor_id = 'x' WHERE seq = 1`), /append-only/);
      await assert.rejects(d.run('DELETE FROM audit WHERE seq = 1'), /append-only/);
      // PostgreSQL has TRUNCATE too, which no row trigger sees: a statement trigger refuses it
      if (onPostgres) await assert.rejects(d.run('TRUNCATE audit'), /append-only/);
    } finally {
      await d.close();
    }
  });
});
