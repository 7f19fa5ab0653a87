// The audit chain's hashing and verification (server/store/auditChain.ts, shared by every
// backend; read here through the SQLite store): the hash bytes must be exactly those of the
// original createHash-based code (existing databases must still verify), the cached ISO
// formatting must equal toISOString everywhere, and verify's paged read must catch tampering at,
// around and across page boundaries.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { Database } from 'better-sqlite3';
import fc from 'fast-check';
import { GENESIS, canonicalJson, hashEvent } from '../../server/store/auditChain.js';
import { verifyAudit } from '../../server/store/sqlite/stateCheck.js';
import { SqliteStore } from '../../server/store/sqlite/store.js';
import type { AuditInput, ChainVerification } from '../../server/store/types.js';
import { IsoTimes, iso as sharedIso } from '../../server/domain/clock.js';

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
  const odd = [
    'plain',
    'quote " and \\ backslash',
    'ctl \u0000\u0001\n\t\u001f\u007f',
    'é ü 日本',
    '😀',
    'lone \ud800 high',
    'lone \udc00 low',
    '\u2028\u2029',
    '',
  ];
  let prev = GENESIS;
  let seq = 0;
  for (const s of odd) {
    for (const nulls of [true, false]) {
      seq++;
      const e = {
        seq,
        at: new Date(1_700_000_000_000 + seq).toISOString(),
        actorId: s,
        action: `a.${s}`,
        resourceId: nulls ? null : s,
        requestId: nulls ? null : `r${s}`,
        grantId: nulls ? null : `g${s}`,
      };
      const details = canonicalJson({ text: s, n: seq, nested: { b: [s, null], a: true } });
      const h = hashEvent(prev, e, details);
      assert.equal(h, referenceHash(prev, e, details), JSON.stringify(s));
      prev = h;
    }
  }
  // pinned: the first link of a chain, as every existing database holds it
  assert.equal(
    hashEvent(
      GENESIS,
      { seq: 1, at: '2026-01-02T03:04:05.006Z', actorId: 'alice', action: 'request.created', resourceId: 'db', requestId: 'req_1', grantId: null },
      '{"role":"read"}',
    ),
    referenceHash(
      GENESIS,
      { seq: 1, at: '2026-01-02T03:04:05.006Z', actorId: 'alice', action: 'request.created', resourceId: 'db', requestId: 'req_1', grantId: null },
      '{"role":"read"}',
    ),
  );
});

test('isoTimes_equalsToISOString_forAscendingJumpingAndEdgeTimes', () => {
  const times: number[] = [];
  // ascending runs within and across days, as verify reads them
  for (let t = 1_790_000_000_000, i = 0; i < 20_000; i++) times.push((t += (i * 7919) % 977_777));
  // every millisecond edge of a day, backwards jumps, and the ranges the cache does not cover
  for (const day of [0, 1, 19_000, 20_454, 2_932_896, 2_932_897]) for (const d of [-1, 0, 1, 999, 1000, 59_999, 3_599_999, DAY - 1]) times.push(day * DAY + d);
  times.push(-1, -DAY, -DAY - 1, -62_198_755_200_000, 253_402_300_799_999, 253_402_300_800_000, 8.64e15, -8.64e15, 0, 1.5, 1_700_000_000_000.7, -0.5, 5, 3);
  // an event's times alternating between two and three days (a grant's start, end and maxExpiresAt), both kept days hit
  for (let i = 0, x = 12_345; i < 3000; i++) times.push(20_454 * DAY + ((x = (x * 48_271) % 2_147_483_647) % (i < 1500 ? 2 : 3)) * DAY + (x % DAY));
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
  for (const d of [
    { a: 1, b: 'x', c: null },
    { b: 1, a: 2 },
    { a: undefined, b: 1 },
    { a: { d: 1, c: [2, undefined] } },
    {},
    { a: NaN, b: -0 },
    new Date(0),
    { at: new Date(0) },
    Object.assign(Object.create(null), { b: 1, a: 2 }),
    { c: 1, 'a\u0000b': 2 },
    { 'c\u0000a': 1, b: 2 },
  ]) {
    assert.equal(canonicalJson(d), referenceCanonical(d), JSON.stringify(d));
  }
  const key = fc.oneof(fc.constantFrom('a', 'b', 'userId', 'role', 'Z', '_', 'é', '10', '2', '__proto__x'), fc.string({ maxLength: 6 }));
  const leaf = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.constantFrom(NaN, Infinity, -0));
  const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
    tree: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('tree'), { maxLength: 4 }), fc.dictionary(key, tie('tree'), { maxKeys: 6 })),
  }));
  fc.assert(
    fc.property(fc.dictionary(key, tree, { maxKeys: 8 }), (d) => assert.equal(canonicalJson(d), referenceCanonical(d))),
    { numRuns: 3000 },
  );
});

/** An in-memory SQLite store, its connection (to tamper with), and verify on that connection (inside a tamperer's savepoint too). */
function memoryLog() {
  const store = new SqliteStore(':memory:', { groupCommit: false, serverLock: false, checkpointer: false, verify: 'inline' });
  const db = store.db;
  return {
    store,
    db,
    log: {
      verify: (head?: { seq?: number; hash: string }): ChainVerification => verifyAudit(db, { head }),
      append: (batch: AuditInput[]) => store.transaction((tx) => tx.audit.append(batch)),
      head: () => store.read((tx) => tx.audit.head()),
      query: (f: { limit: number }) => store.read((tx) => tx.audit.query(f)),
    },
  };
}

async function logWith(n: number, { perBatch = 100, stepMs = 37_117 } = {}) {
  const { store, db, log } = memoryLog();
  let at = Date.UTC(2026, 0, 1) - 5 * 60_000; // crosses midnight early on
  for (let done = 0; done < n;) {
    const batch: AuditInput[] = [];
    for (let i = 0; i < perBatch && done < n; i++, done++) {
      at += stepMs;
      batch.push({
        at,
        actorId: `user${done % 13}`,
        action: done % 3 ? 'access.checked' : 'request.created',
        resourceId: done % 5 ? `res${done % 7}` : undefined,
        requestId: done % 2 ? `req_${done}` : undefined,
        subjectId: done % 4 ? `user${done % 5}` : undefined,
        details: { n: done, note: done % 11 ? 'ok' : 'quote " é' },
      });
    }
    await log.append(batch);
  }
  return { store, db, log, head: await log.head() };
}

/** Format 2 as the contract words it: the canonical JSON of the event with subjectId and v: 2. */
function referenceHashV2(prev: string, e: Parameters<typeof referenceHash>[1] & { subjectId: string | null }, details: string): string {
  const body = canonicalJson({ ...e, v: 2, details: JSON.parse(details) });
  return createHash('sha256').update(prev).update(body).digest('hex');
}

/** The chain recomputed the original way (format 1) or by the contract's words (format 2), from the rows as stored. */
function referenceVerify(db: Database): string {
  let prev = GENESIS;
  for (const r of db.prepare('SELECT * FROM audit ORDER BY seq').all() as Array<Record<string, any>>) {
    const fields = {
      seq: r.seq,
      at: new Date(r.at).toISOString(),
      actorId: r.actor_id,
      action: r.action,
      resourceId: r.resource_id,
      requestId: r.request_id,
      grantId: r.grant_id,
    };
    const h = r.v === 2 ? referenceHashV2(prev, { ...fields, subjectId: r.subject_id }, r.details) : referenceHash(prev, fields, r.details);
    assert.equal(r.prev_hash, prev);
    assert.equal(r.hash, h, `seq ${r.seq}`);
    prev = h;
  }
  return prev;
}

test('verify_acceptsAnIntactChain_ofAnyLengthAroundThePageSize', async () => {
  for (const n of [0, 1, 999, 1000, 1001, 2000, 2345]) {
    const { store, db, log, head } = await logWith(n);
    assert.deepEqual(log.verify(), { ok: true, count: n, headHash: n ? head.hash : GENESIS }, `n=${n}`);
    assert.equal(referenceVerify(db), n ? head.hash : GENESIS, 'append writes format 2, as the contract words it');
    if (n) {
      assert.equal(log.verify({ seq: head.seq, hash: head.hash }).ok, true);
      assert.equal(log.verify({ hash: head.hash }).ok, true);
      const r = log.verify({ hash: 'f'.repeat(64) });
      assert.equal(r.ok, false);
      assert.equal(r.problem, 'the expected head is no longer in the chain');
    }
    await store.close();
  }
});

test('verify_findsTheFirstBadRow_atAndAroundPageBoundaries', async () => {
  const { store, db, log } = await logWith(2345);
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
    assert.deepEqual(
      pick(attack(`UPDATE audit SET details = '{"n":-1}' WHERE seq = ?`, seq)),
      { ok: false, count: seq - 1, firstBadSeq: seq, problem: 'hash mismatch' },
      `details @${seq}`,
    );
    assert.deepEqual(
      pick(attack('UPDATE audit SET at = at + 1 WHERE seq = ?', seq)),
      { ok: false, count: seq - 1, firstBadSeq: seq, problem: 'hash mismatch' },
      `at @${seq}`,
    );
    assert.deepEqual(
      pick(attack(`UPDATE audit SET prev_hash = ? WHERE seq = ?`, 'e'.repeat(64), seq)),
      { ok: false, count: seq - 1, firstBadSeq: seq, problem: 'hash mismatch' },
      `prev_hash @${seq}`,
    );
  }
  for (const seq of [1, 1000, 1001, 2000]) {
    assert.deepEqual(
      pick(attack('DELETE FROM audit WHERE seq = ?', seq)),
      { ok: false, count: seq - 1, firstBadSeq: seq, problem: `sequence gap: expected ${seq}, found ${seq + 1}` },
      `delete @${seq}`,
    );
  }
  // a row below the first sequence number is read too
  for (const seq of [0, -5]) {
    const r = attack(`INSERT INTO audit (seq, at, actor_id, action, details, prev_hash, hash) VALUES (?, 0, 'x', 'x', '{}', ?, ?)`, seq, GENESIS, GENESIS);
    assert.deepEqual(pick(r), { ok: false, count: 0, firstBadSeq: 1, problem: `sequence gap: expected 1, found ${seq}` });
  }
  assert.equal(log.verify().ok, true, 'every attack was rolled back');
  await store.close();
});

function pick(r: ChainVerification) {
  return { ok: r.ok, count: r.count, firstBadSeq: r.firstBadSeq, problem: r.problem };
}

// ---------- hash formats: 1 (every chain written before subject_id was hashed) and 2 ----------

const E1 = { seq: 1, at: '2026-01-02T03:04:05.006Z', actorId: 'alice', action: 'request.created', resourceId: 'db', requestId: 'req_1', grantId: null };

test('hashFormats_arePinned_format1WithoutSubject_format2WithSubjectAndV', () => {
  // format 1: the first link of a chain as every database written before format 2 holds it
  assert.equal(hashEvent(GENESIS, E1, '{"role":"read"}'), referenceHash(GENESIS, E1, '{"role":"read"}'));
  assert.equal(
    hashEvent(GENESIS, { ...E1, v: 1, subjectId: 'alice' }, '{"role":"read"}'),
    referenceHash(GENESIS, E1, '{"role":"read"}'),
    'format 1 ignores subjectId',
  );
  // format 2: subjectId and v are hashed, in the canonical key order
  const v2 = hashEvent(GENESIS, { ...E1, v: 2, subjectId: 'alice' }, '{"role":"read"}');
  assert.equal(v2, referenceHashV2(GENESIS, { ...E1, subjectId: 'alice' }, '{"role":"read"}'));
  assert.equal(v2, PINNED_V2);
  assert.notEqual(hashEvent(GENESIS, { ...E1, v: 2, subjectId: 'bob' }, '{"role":"read"}'), v2, 'the subject is under the hash');
  assert.notEqual(hashEvent(GENESIS, { ...E1, v: 2, subjectId: null }, '{"role":"read"}'), v2);
  assert.notEqual(hashEvent(GENESIS, E1, '{"role":"read"}'), v2, 'the formats never hash alike');
});
const PINNED_V2 = createHash('sha256')
  .update(GENESIS)
  .update(
    '{"action":"request.created","actorId":"alice","at":"2026-01-02T03:04:05.006Z","details":{"role":"read"},"grantId":null,"requestId":"req_1","resourceId":"db","seq":1,"subjectId":"alice","v":2}',
  )
  .digest('hex');

/** A chain an older server wrote (format 1, v column at its default), then `m` events appended now. */
async function mixedChain(n: number, m: number) {
  const { store, db, log } = memoryLog();
  const ins = db.prepare(
    'INSERT INTO audit (seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)',
  );
  let prev = GENESIS;
  for (let seq = 1; seq <= n; seq++) {
    const at = Date.UTC(2025, 11, 1) + seq * 1000;
    const details = canonicalJson({ n: seq });
    const h = referenceHash(
      prev,
      { seq, at: new Date(at).toISOString(), actorId: 'alice', action: 'request.created', resourceId: 'db', requestId: `req_${seq}`, grantId: null },
      details,
    );
    ins.run(seq, at, 'alice', 'request.created', 'db', `req_${seq}`, 'alice', details, prev, h);
    prev = h;
  }
  for (let i = 0; i < m; i++)
    await log.append([{ at: Date.UTC(2026, 0, 1) + i, actorId: 'bob', action: 'request.created', resourceId: 'db', subjectId: 'bob', details: { i } }]);
  return { store, db, log };
}

test('verify_aChainStartedInFormat1_andContinuedInFormat2_isIntact', async () => {
  const { store, db, log } = await mixedChain(1500, 1500);
  const formats = db.prepare('SELECT v, COUNT(*) AS n FROM audit GROUP BY v ORDER BY v').all();
  assert.deepEqual(formats, [
    { v: 1, n: 1500 },
    { v: 2, n: 1500 },
  ]);
  assert.equal(log.verify().ok, true);
  assert.equal(referenceVerify(db), (await log.head()).hash);
  await store.close();
});

test('verify_subjectIdEdits_areDetectedInFormat2_only', async () => {
  const { store, db, log } = await mixedChain(10, 10);
  db.exec('DROP TRIGGER audit_no_update');
  db.prepare(`UPDATE audit SET subject_id = 'mallory' WHERE seq = 5`).run();
  assert.equal(log.verify().ok, true, 'format 1 leaves subject_id outside the hash (the state check reports it)');
  db.prepare(`UPDATE audit SET subject_id = 'mallory' WHERE seq = 15`).run();
  assert.deepEqual(pick(log.verify()), { ok: false, count: 14, firstBadSeq: 15, problem: 'hash mismatch' });
  await store.close();
});

test('verify_anEventPassedOffAsAnOlderOrUnknownFormat_fails', async () => {
  const { store, db, log } = await mixedChain(10, 10);
  db.exec('DROP TRIGGER audit_no_update');
  db.exec('SAVEPOINT t');
  // a format-1 event relabelled format 2 no longer matches its hash
  db.prepare('UPDATE audit SET v = 2 WHERE seq = 5').run();
  assert.deepEqual(pick(log.verify()), { ok: false, count: 4, firstBadSeq: 5, problem: 'hash mismatch' });
  db.exec('ROLLBACK TO t');
  // a format-2 event relabelled format 1: refused for its format (its hash would not match either)
  db.prepare('UPDATE audit SET v = 1 WHERE seq = 15').run();
  assert.deepEqual(pick(log.verify()), { ok: false, count: 14, firstBadSeq: 15, problem: 'hash format 1 after format 2' });
  db.exec('ROLLBACK TO t');
  // even rehashed as format 1 (with every later hash recomputed), it may not follow format 2
  const rows = db.prepare('SELECT * FROM audit WHERE seq >= 15 ORDER BY seq').all() as Array<Record<string, any>>;
  let prev = (db.prepare('SELECT hash FROM audit WHERE seq = 14').get() as { hash: string }).hash;
  for (const r of rows) {
    const v = r.seq === 15 ? 1 : 2;
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
        v,
      },
      r.details,
    );
    db.prepare('UPDATE audit SET v = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(v, prev, h, r.seq);
    prev = h;
  }
  assert.deepEqual(pick(log.verify()), { ok: false, count: 14, firstBadSeq: 15, problem: 'hash format 1 after format 2' });
  db.exec('ROLLBACK TO t');
  db.prepare('UPDATE audit SET v = 3 WHERE seq = 12').run();
  assert.deepEqual(pick(log.verify()), { ok: false, count: 11, firstBadSeq: 12, problem: 'unknown hash format 3' });
  db.exec('ROLLBACK TO t; RELEASE t');
  assert.equal(log.verify().ok, true);
  await store.close();
});

test('storedEvents_showSubjectAndFormat_forFormat2Only', async () => {
  const { store, log } = await mixedChain(1, 1);
  const [newer, older] = (await log.query({ limit: 10 })).events;
  assert.equal(newer.v, 2);
  assert.equal(newer.subjectId, 'bob');
  assert.equal(older.v, undefined);
  assert.equal(older.subjectId, undefined, 'format 1 does not hash it, so the event does not vouch for it');
  await store.close();
});
