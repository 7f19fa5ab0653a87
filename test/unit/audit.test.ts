// The audit chain's hashing and verification, after the speed-ups of issue 6: the hash bytes
// must be exactly those of the original createHash-based code (existing databases must still
// verify), the cached ISO formatting must equal toISOString everywhere, and verify's paged read
// must catch tampering at, around and across page boundaries.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { Database } from 'better-sqlite3';
import fc from 'fast-check';
import { AuditLog, GENESIS, canonicalJson, hashEvent, type AuditInput } from '../../server/db/audit.js';
import { IsoTimes, iso as sharedIso } from '../../server/domain/clock.js';
import { openDatabase } from '../../server/db/open.js';

const DAY = 86_400_000;

/** The hash exactly as the first version of the audit log computed it (two update() calls). */
function referenceHash(
  prev: string,
  e: { seq: number; at: string; actorId: string; action: string; resourceId: string | null; requestId: string | null; grantId: string | null },
  details: string,
): string {
  const J = (v: string | null) => (v === null ? 'null' : JSON.stringify(v));
  const body =
    `{"action":${J(e.action)},"actorId":${J(e.actorId)},"at":${J(e.at)},"details":${details},` +
    `"grantId":${J(e.grantId)},"requestId":${J(e.requestId)},"resourceId":${J(e.resourceId)},"seq":${e.seq}}`;
  return createHash('sha256').update(prev).update(body).digest('hex');
}

test('hashEvent_isByteIdenticalToTheOriginalTwoUpdateHash', () => {
  const odd = ['plain', 'quote " and \\ backslash', 'ctl \u0000\u0001\n\t\u001f\u007f', 'é ü 日本', '😀', 'lone \ud800 high', 'lone \udc00 low', '\u2028\u2029', ''];
  let prev = GENESIS;
  let seq = 0;
  for (const s of odd) {
    for (const nulls of [true, false]) {
      seq++;
      const e = { seq, at: new Date(1_700_000_000_000 + seq).toISOString(), actorId: s, action: `a.${s}`, resourceId: nulls ? null : s, requestId: nulls ? null : `r${s}`, grantId: nulls ? null : `g${s}` };
      const details = canonicalJson({ text: s, n: seq, nested: { b: [s, null], a: true } });
      const h = hashEvent(prev, e, details);
      assert.equal(h, referenceHash(prev, e, details), JSON.stringify(s));
      prev = h;
    }
  }
  // pinned: the first link of a chain, as every existing database holds it
  assert.equal(
    hashEvent(GENESIS, { seq: 1, at: '2026-01-02T03:04:05.006Z', actorId: 'alice', action: 'request.created', resourceId: 'db', requestId: 'req_1', grantId: null }, '{"role":"read"}'),
    referenceHash(GENESIS, { seq: 1, at: '2026-01-02T03:04:05.006Z', actorId: 'alice', action: 'request.created', resourceId: 'db', requestId: 'req_1', grantId: null }, '{"role":"read"}'),
  );
});

test('isoTimes_equalsToISOString_forAscendingJumpingAndEdgeTimes', () => {
  const times: number[] = [];
  // ascending runs within and across days, as verify reads them
  for (let t = 1_790_000_000_000, i = 0; i < 20_000; i++) times.push((t += (i * 7919) % 977_777));
  // every millisecond edge of a day, backwards jumps, and the ranges the cache does not cover
  for (const day of [0, 1, 19_000, 20_454, 2_932_896, 2_932_897]) for (const d of [-1, 0, 1, 999, 1000, 59_999, 3_599_999, DAY - 1]) times.push(day * DAY + d);
  times.push(-1, -DAY, -DAY - 1, -62_198_755_200_000, 253_402_300_799_999, 253_402_300_800_000, 8.64e15, -8.64e15, 0, 1.5, 1_700_000_000_000.7, -0.5, 5, 3);
  const iso = new IsoTimes();
  for (const t of times) assert.equal(iso.format(t), new Date(t).toISOString(), String(t));
  // what is not a time throws as toISOString does
  for (const bad of [NaN, 8.64e15 + 1, Infinity]) assert.throws(() => iso.format(bad), RangeError);
  assert.equal(iso.format(1_790_000_000_123), new Date(1_790_000_000_123).toISOString(), 'still right after a throw');
  // the shared formatter every event uses, alternating between days as an event's times can
  for (const t of times) assert.equal(sharedIso(t), new Date(t).toISOString(), String(t));
});

/** canonicalJson exactly as the first version wrote it (what existing chains hold). */
function referenceCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (value === undefined) return 'null';
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(referenceCanonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${referenceCanonical(obj[k])}`).join(',')}}`;
}

test('canonicalJson_equalsTheOriginal_forAnyDetails', () => {
  // flat and already sorted (the fast path), unsorted, undefined fields, nested, not plain, and
  // two key shapes with the same signature (first, before random shapes fill the shape cache)
  for (const d of [{ a: 1, b: 'x', c: null }, { b: 1, a: 2 }, { a: undefined, b: 1 }, { a: { d: 1, c: [2, undefined] } }, {}, { a: NaN, b: -0 }, new Date(0), { at: new Date(0) }, Object.assign(Object.create(null), { b: 1, a: 2 }), { c: 1, 'a\u0000b': 2 }, { 'c\u0000a': 1, b: 2 }]) {
    assert.equal(canonicalJson(d), referenceCanonical(d), JSON.stringify(d));
  }
  const key = fc.oneof(fc.constantFrom('a', 'b', 'userId', 'role', 'Z', '_', 'é', '10', '2', '__proto__x'), fc.string({ maxLength: 6 }));
  const leaf = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.constantFrom(NaN, Infinity, -0));
  const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
    tree: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('tree'), { maxLength: 4 }), fc.dictionary(key, tie('tree'), { maxKeys: 6 })),
  }));
  fc.assert(fc.property(fc.dictionary(key, tree, { maxKeys: 8 }), (d) => assert.equal(canonicalJson(d), referenceCanonical(d))), { numRuns: 3000 });
});

function logWith(n: number, { perBatch = 100, stepMs = 37_117 } = {}): { db: Database; log: AuditLog; head: { seq: number; hash: string } } {
  const db = openDatabase(':memory:');
  const log = new AuditLog(db);
  let at = Date.UTC(2026, 0, 1) - 5 * 60_000; // crosses midnight early on
  for (let done = 0; done < n; ) {
    const batch: AuditInput[] = [];
    for (let i = 0; i < perBatch && done < n; i++, done++) {
      at += stepMs;
      batch.push({ at, actorId: `user${done % 13}`, action: done % 3 ? 'access.checked' : 'request.created', resourceId: done % 5 ? `res${done % 7}` : undefined, requestId: done % 2 ? `req_${done}` : undefined, details: { n: done, note: done % 11 ? 'ok' : 'quote " é' } });
    }
    db.transaction(() => log.append(batch))();
  }
  return { db, log, head: log.head() };
}

/** The chain recomputed the original way, from the rows as stored. */
function referenceVerify(db: Database): string {
  let prev = GENESIS;
  for (const r of db.prepare('SELECT * FROM audit ORDER BY seq').all() as Array<Record<string, any>>) {
    const h = referenceHash(prev, { seq: r.seq, at: new Date(r.at).toISOString(), actorId: r.actor_id, action: r.action, resourceId: r.resource_id, requestId: r.request_id, grantId: r.grant_id }, r.details);
    assert.equal(r.prev_hash, prev);
    assert.equal(r.hash, h, `seq ${r.seq}`);
    prev = h;
  }
  return prev;
}

test('verify_acceptsAnIntactChain_ofAnyLengthAroundThePageSize', () => {
  for (const n of [0, 1, 999, 1000, 1001, 2000, 2345]) {
    const { db, log, head } = logWith(n);
    assert.deepEqual(log.verify(), { ok: true, count: n, headHash: n ? head.hash : GENESIS }, `n=${n}`);
    assert.equal(referenceVerify(db), n ? head.hash : GENESIS, 'append writes the original chain format');
    if (n) {
      assert.equal(log.verify({ seq: head.seq, hash: head.hash }).ok, true);
      assert.equal(log.verify({ hash: head.hash }).ok, true);
      const r = log.verify({ hash: 'f'.repeat(64) });
      assert.equal(r.ok, false);
      assert.equal(r.problem, 'the expected head is no longer in the chain');
    }
    db.close();
  }
});

test('verify_findsTheFirstBadRow_atAndAroundPageBoundaries', () => {
  const { db, log } = logWith(2345);
  db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
  const attack = (sql: string, ...args: unknown[]) => {
    db.exec('SAVEPOINT t');
    try {
      db.prepare(sql).run(...args);
      return log.verify();
    } finally {
      db.exec('ROLLBACK TO t; RELEASE t');
    }
  };
  for (const seq of [1, 999, 1000, 1001, 2000, 2345]) {
    assert.deepEqual(pick(attack(`UPDATE audit SET details = '{"n":-1}' WHERE seq = ?`, seq)), { ok: false, count: seq - 1, firstBadSeq: seq, problem: 'hash mismatch' }, `details @${seq}`);
    assert.deepEqual(pick(attack('UPDATE audit SET at = at + 1 WHERE seq = ?', seq)), { ok: false, count: seq - 1, firstBadSeq: seq, problem: 'hash mismatch' }, `at @${seq}`);
    assert.deepEqual(pick(attack(`UPDATE audit SET prev_hash = ? WHERE seq = ?`, 'e'.repeat(64), seq)), { ok: false, count: seq - 1, firstBadSeq: seq, problem: 'hash mismatch' }, `prev_hash @${seq}`);
  }
  for (const seq of [1, 1000, 1001, 2000]) {
    assert.deepEqual(pick(attack('DELETE FROM audit WHERE seq = ?', seq)), { ok: false, count: seq - 1, firstBadSeq: seq, problem: `sequence gap: expected ${seq}, found ${seq + 1}` }, `delete @${seq}`);
  }
  // a row below the first sequence number is read too
  for (const seq of [0, -5]) {
    const r = attack(`INSERT INTO audit (seq, at, actor_id, action, details, prev_hash, hash) VALUES (?, 0, 'x', 'x', '{}', ?, ?)`, seq, GENESIS, GENESIS);
    assert.deepEqual(pick(r), { ok: false, count: 0, firstBadSeq: 1, problem: `sequence gap: expected 1, found ${seq}` });
  }
  assert.equal(log.verify().ok, true, 'every attack was rolled back');
  db.close();
});

function pick(r: ReturnType<AuditLog['verify']>) {
  return { ok: r.ok, count: r.count, firstBadSeq: r.firstBadSeq, problem: r.problem };
}
