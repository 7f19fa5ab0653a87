// Tampering with the audit log is detected. The attacker has the database file: they drop the
// append-only triggers and edit, delete or insert rows with SQL. `audit verify` (the bundled CLI)
// must exit 1 and name the first bad sequence number; truncation and wholesale rewrites, which
// leave a self-consistent chain, are caught with `--head` (a head kept elsewhere).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { canonicalJson, hashEvent } from '../../server/store/auditChain.js';
import { access, buildServer, cli, makeServer, MIN, tempDir } from '../helpers/server.js';

let dir: string;
let pristine: string;
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
  pristine = join(dir, 'elevate.db');
  const db = new Database(pristine, { readonly: true });
  rows = (db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n;
  head = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string };
  db.close();
  assert.ok(rows >= 20, `enough activity (${rows} events)`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the pristine database, tampered with by `attack` after dropping the triggers. */
function tampered(attack: (db: Database.Database) => void): string {
  const file = join(dir, `tampered-${++n}.db`);
  copyFileSync(pristine, file);
  const db = new Database(file);
  db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
  attack(db);
  db.close();
  return file;
}

function verify(db: string, ...args: string[]) {
  return cli(['audit', 'verify', '--db', db, ...args]);
}

function assertDetected(db: string, seq: number, ...args: string[]) {
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
    const h = cli(['audit', 'head', '--db', pristine]);
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
    test(`tamper_modifying_${field}_isDetectedAtThatSeq`, () => {
      // the justification lives in the first request.created; other edits hit the middle row
      let target = mid();
      const db = tampered((d) => {
        if (field.startsWith('details') && !field.includes('canonical')) {
          target = (d.prepare(`SELECT seq FROM audit WHERE details LIKE '%debug the nightly job%' ORDER BY seq LIMIT 1`).get() as { seq: number }).seq;
        }
        if (field === 'request_id' || field === 'grant_id') {
          target = (d.prepare(`SELECT seq FROM audit WHERE ${field} IS NOT NULL ORDER BY seq DESC LIMIT 1`).get() as { seq: number }).seq;
        }
        assert.equal(d.prepare(sql).run(target).changes, 1);
      });
      assertDetected(db, target);
    });
  }

  test('tamper_modifyingTheLastRow_isDetected', () => {
    const db = tampered((d) => d.prepare(`UPDATE audit SET actor_id = 'mallory' WHERE seq = ?`).run(head.seq));
    assertDetected(db, head.seq);
  });

  test('tamper_deletingARow_isDetectedAsAGap', () => {
    const db = tampered((d) => d.prepare('DELETE FROM audit WHERE seq = ?').run(mid()));
    assertDetected(db, mid());
  });

  test('tamper_deletingTheFirstRow_isDetected', () => {
    const db = tampered((d) => d.prepare('DELETE FROM audit WHERE seq = 1').run());
    assertDetected(db, 1);
  });

  test('tamper_insertingARowAtTheEnd_isDetected', () => {
    const db = tampered((d) =>
      d
        .prepare(`INSERT INTO audit (seq, at, actor_id, action, details, prev_hash, hash) VALUES (?, ?, 'mallory', 'grant.activated', '{}', ?, ?)`)
        .run(head.seq + 1, Date.now(), head.hash, 'a'.repeat(64)),
    );
    assertDetected(db, head.seq + 1);
  });

  test('tamper_insertingAWellFormedRowInTheMiddle_isDetectedAtTheNextRow', () => {
    // the forger shifts every later row up by one and computes a correct hash for their row;
    // the row after it still points at the old predecessor
    const k = mid();
    const db = tampered((d) => {
      const rowsAfter = d.prepare('SELECT seq FROM audit WHERE seq >= ? ORDER BY seq DESC').all(k) as { seq: number }[];
      for (const r of rowsAfter) d.prepare('UPDATE audit SET seq = seq + 1 WHERE seq = ?').run(r.seq);
      const prev = (d.prepare('SELECT hash FROM audit WHERE seq = ?').get(k - 1) as { hash: string }).hash;
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
      d.prepare(
        `INSERT INTO audit (seq, at, actor_id, action, resource_id, details, prev_hash, hash, v) VALUES (?, ?, 'mallory', 'grant.activated', 'prod-db', ?, ?, ?, 2)`,
      ).run(k, at, details, prev, hashEvent(prev, fields, details));
    });
    assertDetected(db, k + 1);
  });

  test('tamper_truncatingTheTail_passesAPlainVerify_butIsDetectedWithHead', () => {
    const db = tampered((d) => d.prepare('DELETE FROM audit WHERE seq > ?').run(head.seq - 3));
    const plain = verify(db);
    assert.equal(plain.code, 0, 'a shorter chain is self-consistent: only a kept head can tell');
    assertDetected(db, head.seq, '--head', `${head.seq} ${head.hash}`);
    const hashOnly = verify(db, '--head', head.hash);
    assert.equal(hashOnly.code, 1);
    assert.match(hashOnly.stdout, /FAILED at seq \d+/);
  });

  test('tamper_rewritingTheChainFromARow_isDetectedWithHead', () => {
    const k = mid();
    const db = tampered((d) => {
      d.prepare(`UPDATE audit SET actor_id = 'mallory' WHERE seq = ?`).run(k);
      // recompute every hash from k on, as a careful attacker would
      const all = d.prepare('SELECT * FROM audit WHERE seq >= ? ORDER BY seq').all(k) as any[];
      let prev = (d.prepare('SELECT hash FROM audit WHERE seq = ?').get(k - 1) as { hash: string }).hash;
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
        d.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, h, r.seq);
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
    const file = tampered((d) => d.prepare(`UPDATE audit SET actor_id = 'mallory' WHERE seq = ?`).run(k));
    const sub = tempDir('elevate-tamper-api-');
    copyFileSync(file, join(sub, 'elevate.db'));
    const s = await makeServer({ dir: sub });
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

  test('theAppendOnlyTriggers_stopUpdatesAndDeletesWhileInPlace', () => {
    const file = join(dir, 'triggers.db');
    copyFileSync(pristine, file);
    const d = new Database(file);
    try {
      assert.throws(() => d.prepare(`UPDATE audit SET actor_id = 'x' WHERE seq = 1`).run(), /append-only/);
      assert.throws(() => d.prepare('DELETE FROM audit WHERE seq = 1').run(), /append-only/);
    } finally {
      d.close();
    }
  });
});
