// The SQLite store: the Store contract in both of its modes (the server's group commit and the
// CLI's commit per transaction), then what only SQLite has: group commit seen from a second
// connection (what another process, or the file after a crash, would see), the one-server lock,
// the data_version poll, the verification worker, and files written by the previous storage code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { FOLLOWED_SQL } from '../../server/store/auditChain.js';
import { openStore } from '../../server/store/open.js';
import { SqliteStore, type SqliteStoreOptions } from '../../server/store/sqlite/store.js';
import type { Store } from '../../server/store/types.js';
import { FIXED_EVENTS, newGrant, newRequest, storeContract, waitFor } from './contract.js';

const ROOT = resolve(__dirname, '..', '..');
const fastTmp = (() => {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
})();

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function tempFile(): string {
  const dir = mkdtempSync(join(fastTmp, 'elevate-store-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'elevate.db');
}

const SERVER: SqliteStoreOptions = { groupCommit: true, serverLock: true, checkpointer: false, verify: 'worker' };
const CLI: SqliteStoreOptions = { groupCommit: false, serverLock: false, checkpointer: false, verify: 'inline' };

function open(path: string, opts: SqliteStoreOptions = SERVER): SqliteStore {
  const store = new SqliteStore(path, opts);
  cleanups.push(() => store.close());
  return store;
}

/** A read-only connection of its own: what another process sees of the file. */
function watcher(path: string) {
  const other = new Database(path, { readonly: true });
  cleanups.push(() => void other.close());
  return {
    requests: () => (other.prepare('SELECT id FROM requests ORDER BY seq').all() as { id: string }[]).map((r) => r.id),
  };
}

const contractStore = (opts: SqliteStoreOptions) => async () => {
  const dir = mkdtempSync(join(fastTmp, 'elevate-store-'));
  const store: Store = new SqliteStore(join(dir, 'elevate.db'), opts);
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

storeContract('sqlite, server (group commit)', contractStore(SERVER));
storeContract('sqlite, cli (a commit per transaction)', contractStore(CLI));

/** A trigger that makes the COMMIT of any transaction inserting request `id` fail (a deferred foreign key). */
function failCommitsOf(store: SqliteStore, id: string) {
  store.db.exec(`CREATE TABLE parent (id TEXT PRIMARY KEY);
    CREATE TABLE child (ref TEXT REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
    CREATE TRIGGER fail_commit AFTER INSERT ON requests WHEN NEW.id = '${id}' BEGIN INSERT INTO child (ref) VALUES ('missing'); END;`);
}

describe('sqlite: group commit (server)', () => {
  test('transactionsOfOneTurn_commitTogether_andResolveOnlyAfterTheCommit', async () => {
    const path = tempFile();
    const store = open(path);
    const other = watcher(path);
    const a = store.transaction((tx) => tx.requests.insert(newRequest({ id: 'a' })));
    const b = store.transaction((tx) => tx.requests.insert(newRequest({ id: 'b' })));
    await Promise.resolve();
    assert.deepEqual(other.requests(), [], 'nothing is visible outside before the commit');
    await a;
    assert.deepEqual(other.requests(), ['a', 'b'], 'when the first resolves, the whole turn has committed');
    await b;
  });

  test('aFinishedButUncommittedTransaction_isNotSeenByReads', async () => {
    const store = open(tempFile());
    const writing = store.transaction((tx) => tx.requests.insert(newRequest()));
    assert.equal(await store.read((tx) => tx.requests.get('req-1')), undefined, 'read the open group');
    await writing;
    assert.equal((await store.read((tx) => tx.requests.get('req-1')))?.id, 'req-1');
  });

  test('aFailedCommit_rejectsEveryMemberOfTheGroup_nothingPersists_andTheStoreGoesOn', async () => {
    const path = tempFile();
    const store = open(path);
    failCommitsOf(store, 'bad');
    const other = watcher(path);
    const results = await Promise.allSettled(['first', 'bad', 'third'].map((id) => store.transaction((tx) => tx.requests.insert(newRequest({ id })))));
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.match(String((r as PromiseRejectedResult).reason), /FOREIGN KEY/);
    }
    assert.deepEqual(other.requests(), [], 'the whole group was rolled back');
    assert.equal(store.db.inTransaction, false);
    await store.transaction((tx) => tx.requests.insert(newRequest({ id: 'later' })));
    assert.deepEqual(other.requests(), ['later']);
  });

  test('aFnStillRunningWhenTheTurnEnds_isNotCommittedHalfWay_andTheNextWaitsForIt', async () => {
    const path = tempFile();
    const store = open(path);
    const other = watcher(path);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let secondStarted = false;
    const first = store.transaction(async (tx) => {
      await tx.requests.insert(newRequest({ id: 'half-1' }));
      await gate;
      await tx.requests.insert(newRequest({ id: 'half-2' }));
    });
    const second = store.transaction(async (tx) => {
      secondStarted = true;
      await tx.requests.insert(newRequest({ id: 'next' }));
    });
    // several turns pass while the first fn waits
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(other.requests(), [], 'half of a transaction was committed');
    assert.equal(secondStarted, false, 'two transactions interleaved');
    release();
    await first;
    assert.deepEqual(other.requests().slice(0, 2), ['half-1', 'half-2']);
    await second;
    assert.deepEqual(other.requests(), ['half-1', 'half-2', 'next']);
  });

  test('aFullDisk_eachTransactionCommitsWholeOrRejects_andWhatResolvedIsExactlyWhatPersisted', async () => {
    const path = tempFile();
    const store = open(path);
    const db = store.db;
    db.exec('CREATE TABLE ballast (x BLOB)');
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    for (const size of [3000, 1000, 300, 100, 30, 1]) {
      try {
        for (;;) db.prepare(`INSERT INTO ballast VALUES (randomblob(${size}))`).run();
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'SQLITE_FULL');
      }
    }
    const big = 'the disk is full '.repeat(120);
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        store.transaction(async (tx) => {
          await tx.requests.insert(newRequest({ id: `r${i}`, justification: `${i} ${big}` }));
          await tx.audit.append([{ at: 1, actorId: 'alice', action: 'request.created', requestId: `r${i}`, details: { justification: big } }]);
        }),
      ),
    );
    const resolved = results.flatMap((r, i) => (r.status === 'fulfilled' ? [`r${i}`] : []));
    assert.ok(resolved.length < 12, 'the full disk refused nothing');
    for (const r of results) if (r.status === 'rejected') assert.match((r.reason as { code?: string }).code ?? '', /SQLITE_FULL|SQLITE_ABORT_ROLLBACK/);
    db.pragma('max_page_count = 1073741823');
    db.exec('DROP TABLE ballast');
    const stored = await store.read(async (tx) => (await tx.requests.allPending()).map((r) => r.id).sort());
    assert.deepEqual(stored, resolved.sort(), 'the rows are exactly those of the transactions that resolved');
    const events = await store.read(async (tx) => (await tx.audit.query({ limit: 100 })).events.map((e) => e.requestId).sort());
    assert.deepEqual(events, resolved.sort(), 'each with its audit event');
    assert.equal((await store.verifyAudit()).ok, true);
  });

  test('aDatabaseThatRefusesWrites_rejectsEachTransactionWithTheCause_readsGoOn_andWritesResumeAfter', async () => {
    const store = open(tempFile());
    await store.transaction((tx) => tx.requests.insert(newRequest({ id: 'before' })));
    store.db.pragma('query_only = ON');
    const refused = await Promise.allSettled([1, 2].map((i) => store.transaction((tx) => tx.requests.insert(newRequest({ id: `during-${i}` })))));
    for (const r of refused) assert.equal(r.status === 'rejected' && (r.reason as { code?: string }).code, 'SQLITE_READONLY');
    assert.deepEqual(
      (await store.read((tx) => tx.requests.allPending())).map((r) => r.id),
      ['before'],
    );
    store.db.pragma('query_only = OFF');
    await store.transaction((tx) => tx.requests.insert(newRequest({ id: 'after' })));
    assert.deepEqual(
      (await store.read((tx) => tx.requests.allPending())).map((r) => r.id),
      ['before', 'after'],
    );
  });

  test('backup_copiesWhatIsCommitted_notWhatAnOpenTransactionWrote', async () => {
    const path = tempFile();
    const store = open(path);
    await store.transaction((tx) => tx.requests.insert(newRequest({ id: 'committed' })));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = store.transaction(async (tx) => {
      await tx.requests.insert(newRequest({ id: 'uncommitted' }));
      await gate;
    });
    const copy = `${path}.copy`;
    await store.backup(copy);
    release();
    await held;
    assert.deepEqual(watcher(copy).requests(), ['committed']);
  });

  test('reads_cannotWrite', async () => {
    const store = open(tempFile());
    await assert.rejects(
      store.read((tx) => tx.requests.insert(newRequest())),
      /readonly/,
    );
  });

  test('close_commitsWhatWasAskedBeforeIt', async () => {
    const path = tempFile();
    const store = new SqliteStore(path, SERVER);
    const writing = store.transaction((tx) => tx.requests.insert(newRequest()));
    await store.close();
    await writing;
    await assert.rejects(
      store.transaction((tx) => tx.requests.get('req-1')),
      /closed/,
    );
    assert.deepEqual(watcher(path).requests(), ['req-1']);
  });
});

describe('sqlite: any mix of transactions', () => {
  // Each transaction inserts a few rows, then finishes, throws, or waits a turn or two first;
  // they start together or across turns. Whatever the mix, in both modes: a transaction that
  // resolved is in the file (seen from another connection) whole, one that rejected left nothing.
  type Step = { rows: number; wait: number; fails: boolean; gap: boolean };
  const step = fc.record({ rows: fc.integer({ min: 1, max: 3 }), wait: fc.integer({ min: 0, max: 2 }), fails: fc.boolean(), gap: fc.boolean() });
  const turn = () => new Promise((r) => setImmediate(r));

  for (const [mode, opts] of [
    ['server', SERVER],
    ['cli', CLI],
  ] as const) {
    test(`${mode}_whatResolvedIsExactlyWhatPersisted`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps: Step[]) => {
          const path = tempFile();
          const store = new SqliteStore(path, opts);
          try {
            // settled as they start: a rejection must not wait for the loop to be observed
            const runs: Promise<PromiseSettledResult<string[]>>[] = [];
            for (const [i, s] of steps.entries()) {
              if (s.gap) await turn();
              runs.push(
                store
                  .transaction(async (tx) => {
                    const ids = Array.from({ length: s.rows }, (_, k) => `t${i}-${k}`);
                    for (const id of ids) await tx.requests.insert(newRequest({ id }));
                    for (let w = 0; w < s.wait; w++) await turn();
                    if (s.fails) throw new Error(`t${i} refused`);
                    return ids;
                  })
                  .then(
                    (value) => ({ status: 'fulfilled' as const, value }),
                    (reason: unknown) => ({ status: 'rejected' as const, reason }),
                  ),
              );
            }
            const outcomes = await Promise.all(runs);
            const expected = outcomes.flatMap((o) => (o.status === 'fulfilled' ? o.value : [])).sort();
            const other = new Database(path, { readonly: true });
            const persisted = (other.prepare('SELECT id FROM requests').all() as { id: string }[]).map((r) => r.id).sort();
            other.close();
            assert.deepEqual(persisted, expected);
            outcomes.forEach((o, i) => assert.equal(o.status === 'rejected', steps[i].fails, `t${i}`));
          } finally {
            await store.close();
          }
        }),
        { numRuns: 40 },
      );
    });
  }
});

describe('sqlite: the audit chain under any mix of transactions', () => {
  // The write connection remembers the chain's head between appends of one open transaction.
  // Whatever appends, fails after appending, waits, or lets another process (the CLI) append
  // first: the chain verifies, seq is gapless, and exactly the resolved appends persisted.
  type Step = { events: number; wait: number; fails: boolean; gap: boolean; outside: boolean };
  const step = fc.record({
    events: fc.integer({ min: 1, max: 3 }),
    wait: fc.integer({ min: 0, max: 1 }),
    fails: fc.boolean(),
    gap: fc.boolean(),
    outside: fc.boolean(),
  });
  const turn = () => new Promise((r) => setImmediate(r));
  const event = (action: string) => ({ at: 1_790_000_000_000, actorId: 'svc', action, details: {} });

  test('server_appendsFailingOrWaiting_orAnotherProcessAppendingBetween_leaveAChainThatVerifies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), async (steps: Step[]) => {
        const path = tempFile();
        const store = new SqliteStore(path, SERVER);
        const cli = new SqliteStore(path, CLI);
        try {
          const runs: Promise<string[] | null>[] = [];
          const outside: string[] = [];
          for (const [i, s] of steps.entries()) {
            if (s.gap) await turn();
            if (s.outside) {
              // another process: it can write only between the server's transactions (a group
              // commits at the end of its turn, after its members have settled)
              await Promise.all(runs);
              await turn();
              await cli.transaction((tx) => tx.audit.append([event(`cli.${i}`)]));
              outside.push(`cli.${i}`);
            }
            const actions = Array.from({ length: s.events }, (_, k) => `t${i}.${k}`);
            runs.push(
              store
                .transaction(async (tx) => {
                  for (const a of actions) {
                    await tx.audit.append([event(a)]);
                    for (let w = 0; w < s.wait; w++) await turn();
                  }
                  if (s.fails) throw new Error(`t${i} refused`);
                  return actions;
                })
                .catch(() => null),
            );
          }
          const resolved = (await Promise.all(runs)).flatMap((a) => a ?? []);
          const v = await cli.verifyAudit();
          assert.equal(v.ok, true, JSON.stringify(v));
          const rows = (await cli.read((tx) => tx.audit.query({ limit: 1000 }))).events;
          assert.deepEqual(
            rows.map((e) => e.seq).sort((a, b) => a - b),
            rows.map((_, i) => i + 1),
          );
          assert.deepEqual(rows.map((e) => e.action).sort(), [...resolved, ...outside].sort());
        } finally {
          await store.close();
          await cli.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('sqlite: cli mode', () => {
  test('eachTransactionCommitsOnItsOwn_aFailedCommitTakesNoOtherWithIt', async () => {
    const path = tempFile();
    const store = open(path, CLI);
    failCommitsOf(store, 'bad');
    const results = await Promise.allSettled(['first', 'bad', 'third'].map((id) => store.transaction((tx) => tx.requests.insert(newRequest({ id })))));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(watcher(path).requests(), ['first', 'third']);
  });
});

describe('sqlite: one server process per file', () => {
  test('aSecondServer_isRefusedWithAClearMessage_theCliIsNot', async () => {
    const path = tempFile();
    const server = open(path);
    assert.throws(() => new SqliteStore(path, SERVER), /another elevate-server is already running on .*elevate\.db/);
    const cli = await openStore(path, { role: 'cli', verifyInline: true });
    await cli.transaction((tx) => tx.tokens.revoke('nope', 1));
    await cli.transaction((tx) => tx.requests.insert(newRequest()));
    await cli.close();
    assert.equal((await server.read((tx) => tx.requests.get('req-1')))?.id, 'req-1');
    await server.close();
    const next = open(path);
    assert.equal((await next.read((tx) => tx.requests.get('req-1')))?.id, 'req-1', 'after the first server stopped, another may start');
  });

  test('aServerInAnotherProcess_isRefusedWhileThisOneRuns', async () => {
    const path = tempFile();
    open(path);
    const script = `require(${JSON.stringify(join(ROOT, 'server/store/open.ts'))}).openStore(process.argv[1], { role: 'server' })
      .then(() => process.exit(0), (e) => { process.stderr.write(e.message); process.exit(3); });`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script, path], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /another elevate-server is already running/);
  });
});

describe('sqlite: commits seen', () => {
  test('onCommitted_wakesUpForAnotherConnectionsCommit', async () => {
    const path = tempFile();
    const server = open(path);
    let calls = 0;
    const off = server.onCommitted(() => calls++);
    cleanups.push(off);
    const cli = open(path, CLI);
    await cli.transaction((tx) => tx.tokens.revoke('nope', 1)); // commits, though it changes no row
    await cli.transaction((tx) => tx.requests.insert(newRequest()));
    await waitFor(() => calls > 0, 'the data_version poll');
  });
});

describe('sqlite: listeners and background work', () => {
  test('aListenerThatWritesOnCommit_neverInterleavesWithTheQueue', async () => {
    const path = tempFile();
    const store = open(path);
    let follow: Promise<void> | undefined;
    store.onCommitted(() => {
      follow ??= store.transaction(async (tx) => {
        await tx.requests.insert(newRequest({ id: 'from-listener' }));
        await tx.audit.append([{ at: 1, actorId: 'system', action: 'test.follow', details: {} }]);
      });
    });
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.transaction(async (tx) => {
          await tx.requests.insert(newRequest({ id: `r${i}` }));
          // a stream event (live payload): only commits that log one wake the listeners
          await tx.audit.append([{ at: 1, actorId: 'alice', action: 'test.write', details: { i }, live: '{}' }]);
        }),
      ),
    );
    await waitFor(() => follow !== undefined, 'the listener');
    await follow;
    assert.equal((await store.read((tx) => tx.requests.allPending())).length, 11);
    const v = await store.verifyAudit();
    assert.equal(v.ok, true);
    assert.equal(v.count, 11);
  });

  test('theServersCheckpointer_takesOverFromSqlitesOwnCheckpoints_onceTheServerWrites', async () => {
    const store = open(tempFile(), { ...SERVER, checkpointer: true });
    assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 1000, 'SQLite checkpoints itself at first');
    for (let i = 0; i < 200; i++) await store.transaction((tx) => tx.tokens.touch('none', i));
    assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 10_000, 'only a safety net once the worker runs');
  });

  test('theServersCheckpointer_takesOver_asSoonAsTheWalNearsSqlitesThreshold_afterFewBigCommits', async () => {
    // the catch-up sweep after downtime: a few commits of ~1 MB each would otherwise each cross
    // SQLite's own checkpoint (fsyncs inside a COMMIT on the event loop)
    const store = open(tempFile(), { ...SERVER, checkpointer: true });
    const big = 'x'.repeat(1000);
    for (let b = 0; b < 3; b++) {
      await store.transaction((tx) =>
        tx.audit.append(Array.from({ length: 1000 }, (_, i) => ({ at: 1_790_000_000_000 + i, actorId: 'svc', action: 'test.big', details: { big, i } }))),
      );
    }
    assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 10_000, 'the worker runs after 3 commits of ~1 MB');
  });
});

describe('sqlite: audit verification', () => {
  test('verifyAudit_onAWorker_answersAsTheInlineVerification', async () => {
    const path = tempFile();
    const store = open(path);
    const events = await store.transaction((tx) => tx.audit.append(FIXED_EVENTS));
    await store.transaction((tx) => tx.grants.insert(newGrant({ id: 'unexplained' })));
    const onWorker = await store.verifyAudit({ state: true, head: { seq: 2, hash: events[1].hash } });
    const inline = await open(path, CLI).verifyAudit({ state: true, head: { seq: 2, hash: events[1].hash } });
    assert.deepEqual(onWorker, inline);
    assert.equal(onWorker.ok, true);
    assert.equal(onWorker.state?.ok, false);
  });

  test('verifyAudit_runsBesideTheWriters_notBeforeThem', async () => {
    const store = open(tempFile());
    for (let b = 0; b < 20; b++) {
      await store.transaction((tx) =>
        tx.audit.append(
          Array.from({ length: 1000 }, (_, i) => ({ at: 1_790_000_000_000 + b * 1000 + i, actorId: 'svc', action: 'access.checked', details: { i } })),
        ),
      );
    }
    let written = 0;
    const verifying = store.verifyAudit().then((v) => ({ v, written }));
    for (let i = 0; i < 20; i++) {
      await store.transaction((tx) => tx.tokens.touch('none', i));
      written++;
    }
    const { v, written: whenVerified } = await verifying;
    assert.equal(v.ok, true);
    assert.equal(v.count, 20_000);
    // on this thread the whole verification would run before the first of these transactions
    assert.equal(whenVerified, 20, 'the writers waited for the verification');
  });

  test('verify_findsAnEditedEvent', async () => {
    const path = tempFile();
    const store = open(path);
    await store.transaction((tx) => tx.audit.append(FIXED_EVENTS));
    store.db.exec('DROP TRIGGER audit_no_update');
    store.db.prepare(`UPDATE audit SET details = '{"comment":"edited"}' WHERE seq = 2`).run();
    const v = await store.verifyAudit();
    assert.equal(v.ok, false);
    assert.equal(v.firstBadSeq, 2);
    assert.equal(v.problem, 'hash mismatch');
  });
});

describe('sqlite: following the log', () => {
  test('theFollowQuery_seeksTheFollowedRowsIndex_notEveryAccessCheck', () => {
    // SQLite uses the partial index only while the query repeats its WHERE word for word (migration 7)
    const store = open(tempFile());
    for (const controlsOnly of ['', ' AND live IS NULL']) {
      const sql = `EXPLAIN QUERY PLAN SELECT seq FROM audit WHERE seq > ? AND (${FOLLOWED_SQL})${controlsOnly} ORDER BY seq LIMIT ?`;
      const plan = store.db.prepare(sql).all(0, 500) as { detail: string }[];
      assert.match(plan.map((r) => r.detail).join('\n'), /USING (COVERING )?INDEX audit_followed/, controlsOnly);
    }
  });
});

describe('sqlite: files written before the Store interface', () => {
  // test/store/fixtures/migration6.db was written once by server/db, the storage code of the last
  // release before the Store interface (since deleted; the script that wrote the file is
  // test/store/fixtures/writeMigration6.ts at commit 9305afc): what a server upgraded in place
  // finds on its disk. The values below are what that code was given; the hashes what it computed.
  const FIXTURE = join(ROOT, 'test', 'store', 'fixtures', 'migration6.db');
  const FIXTURE_SHA256 = '49201ef452b8517c0db4ba758bc52150bc6e5034d633055640c8c11d5e0a23be';
  const OLD_HEAD = { seq: 3, hash: '485f5a0161e044666744537dac3a9b207f039decfecac6d283d22c432e680e13' };
  const T = Date.UTC(2026, 0, 1);

  /** A copy of the fixture (opening migrates and writes): the committed file stays as the old code left it. */
  function oldDatabase(): string {
    assert.equal(
      createHash('sha256').update(readFileSync(FIXTURE)).digest('hex'),
      FIXTURE_SHA256,
      'the fixture was changed: regenerate nothing, it stands for old files',
    );
    const path = tempFile();
    copyFileSync(FIXTURE, path);
    return path;
  }

  test('aDatabaseOfMigration6_writtenByTheOldStorageCode_opensAndReadsBackTheSameRecords', async () => {
    const store = open(oldDatabase());
    assert.deepEqual(await store.schema(), { version: 7, expected: 7 });
    await store.read(async (tx) => {
      assert.deepEqual(await tx.requests.get('r1'), {
        seq: 1,
        id: 'r1',
        kind: 'access',
        requesterId: 'alice',
        resourceId: 'prod-db',
        role: 'read',
        durationS: 1800,
        justification: 'old',
        ticket: 'INC-1',
        status: 'approved',
        grantId: 'g1',
        required: 2,
        autoApproved: false,
        breakGlass: true,
        evaluation: { autoApproveRule: 1, reasons: ['r'] },
        createdAt: T,
        decidedAt: T + 1,
        pendingUntil: T + 3600_000,
      });
      const r2 = await tx.requests.get('r2');
      assert.deepEqual([r2?.autoApproved, r2?.breakGlass, r2?.ticket, r2?.justification, r2?.evaluation], [true, false, null, 'deploy ü', { reasons: [] }]);
      assert.deepEqual(
        (await tx.requests.allPending()).map((r) => [r.id, r.requesterId, r.pendingUntil]),
        [['r3', 'carol', T + 64 * 60_000]],
      );
      assert.deepEqual(await tx.approvals.of('r1'), [{ requestId: 'r1', approverId: 'bob', decision: 'approve', comment: 'fine', at: T + 1 }]);
      assert.deepEqual(await tx.grants.get('g1'), {
        seq: 1,
        id: 'g1',
        requestId: 'r1',
        userId: 'alice',
        resourceId: 'prod-db',
        role: 'read',
        startsAt: T,
        expiresAt: T + 1800_000,
        maxExpiresAt: T + 7200_000,
        status: 'active',
        extensions: 0,
        revokePending: false,
        endedAt: null,
        endedBy: null,
        endReason: null,
        warned: 1,
      });
      const g2 = await tx.grants.get('g2');
      assert.deepEqual([g2?.status, g2?.revokePending, g2?.endedAt, g2?.endedBy, g2?.endReason], ['revoked', true, T + 3, 'bob', 'done']);
      assert.deepEqual(await tx.tokens.list(), [
        { id: 't1', userId: 'alice', hash: Buffer.alloc(32, 7), label: 'old laptop', createdAt: T, expiresAt: null, revokedAt: null, lastUsedAt: T + 5 },
        { id: 't2', userId: 'bob', hash: Buffer.alloc(32, 8), label: null, createdAt: T + 1, expiresAt: T + 86_400_000, revokedAt: T + 6, lastUsedAt: null },
      ]);
      assert.equal((await tx.tokens.byHash(Buffer.alloc(32, 7)))?.id, 't1');
      assert.deepEqual(await tx.users.list(), [
        { id: 'alice', name: 'Alice', groups: ['dev'], roles: [], active: true },
        { id: 'bob', name: 'Bob', groups: ['sre'], roles: ['approver'], active: true },
        { id: 'carol', name: 'Carol', groups: ['dev'], roles: [], active: false },
      ]);
      assert.deepEqual(
        (await tx.outbox.openForGrant('g1')).map((o) => [o.kind, o.payload, o.attempts]),
        [['provision', { grantId: 'g1' }, 0]],
      );
      assert.deepEqual(await tx.identity.user('bob'), {
        id: 'bob',
        issuer: 'https://idp',
        subject: 's2',
        name: 'Bob',
        email: 'bob@example.com',
        groups: ['sre'],
        roles: ['approver'],
        lastSignInAt: T + 1,
        disabledAt: null,
      });
      assert.deepEqual(await tx.credentials.sealed('g1'), Buffer.from('sealed'));
      const { events } = await tx.audit.query({ limit: 10 });
      assert.deepEqual(
        events.map((e) => [e.seq, e.action, e.subjectId, e.details, e.hash]),
        [
          [3, 'token.revoked', undefined, { tokenId: 'none' }, OLD_HEAD.hash],
          [2, 'request.approved', 'alice', { comment: 'fine ü\u2028' }, '05b06ee21b4054b30df6fbece12d0df68c9e2aa2ccb80d23ed5591e17c11e2f3'],
          [1, 'test.old', 'alice', { a: 'x', b: 1 }, 'cd46bc7b5b2b6588e9de70ed9e6065beb64a9b2d9419bf8de8a937e9f1adc728'],
        ],
      );
      assert.deepEqual(await tx.audit.head(), OLD_HEAD);
    });
    assert.deepEqual(await store.verifyAudit(), { ok: true, count: 3, headHash: OLD_HEAD.hash });
  });

  test('aDatabaseOfMigration6_goesOnWithTheOldChain_andTheOldRows', async () => {
    const store = open(oldDatabase());
    const [next] = await store.transaction(async (tx) => {
      // the old rows take part in today's rules: r3 decided, g1 ended, t1 revoked
      assert.equal(await tx.requests.decide('r3', 'denied', T + 10, null), true);
      assert.equal(await tx.grants.end('g1', 'relinquished', T + 10, 'alice', null, false), true);
      assert.equal(await tx.tokens.revoke('t1', T + 10), true);
      return tx.audit.append([{ at: T + 10, actorId: 'alice', action: 'test.new', details: {} }]);
    });
    assert.equal(next.seq, 4);
    assert.equal(next.prevHash, OLD_HEAD.hash);
    assert.deepEqual(await store.verifyAudit(), { ok: true, count: 4, headHash: next.hash });
    assert.deepEqual(await store.verifyAudit({ head: OLD_HEAD }), { ok: true, count: 4, headHash: next.hash });
    await store.read(async (tx) => {
      assert.equal((await tx.requests.get('r3'))?.status, 'denied');
      assert.equal((await tx.grants.get('g1'))?.status, 'relinquished');
      assert.equal((await tx.tokens.byHash(Buffer.alloc(32, 7)))?.revokedAt, T + 10);
    });
  });

  test('aDatabaseNewerThanThisServer_isRefusedWithAClearMessage', () => {
    const path = tempFile();
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    assert.throws(() => new SqliteStore(path, CLI), /schema version 99 is newer than this server/);
  });
});
