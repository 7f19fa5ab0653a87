// Group commit (Store.tx): the writes of one event-loop turn share one transaction, each change
// in a savepoint of its own, and nothing is told about a change before its commit. Checked on a
// real SQLite file, from a second connection (what another process, or the file after a crash,
// would see), and through the HTTP API of an in-process server.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openDatabase } from '../../server/db/open.js';
import { Store } from '../../server/db/store.js';
import { makeServer, tempDir, type TestServer } from '../helpers/server.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

/** A store in group-commit mode on a fresh file, a second connection to watch it, and a scratch table. */
function stores() {
  const file = join(tempDir(), 'elevate.db');
  const db = openDatabase(file);
  db.exec('CREATE TABLE t (v TEXT NOT NULL)');
  const store = new Store(db, true);
  const other = new Database(file, { readonly: true });
  open.push(db, other);
  const seen = () => (other.prepare('SELECT v FROM t ORDER BY rowid').all() as { v: string }[]).map((r) => r.v);
  const put = (v: string) => db.prepare('INSERT INTO t (v) VALUES (?)').run(v);
  return { db, store, seen, put };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('group commit: the store', () => {
  test('changesOfOneTurn_commitTogether_atTheEndOfTheTurn', async () => {
    const { store, seen, put } = stores();
    store.tx(() => put('a'));
    store.tx(() => put('b'));
    assert.deepEqual(seen(), [], 'nothing is visible outside before the commit');
    const settled = store.settled();
    assert.ok(settled, 'an open group can be waited for');
    await settled;
    assert.deepEqual(seen(), ['a', 'b']);
    assert.equal(store.settled(), undefined, 'no group is open after the commit');
  });

  test('aFailingChange_undoesOnlyItsOwnWrites', async () => {
    const { store, seen, put } = stores();
    store.tx(() => put('kept-1'));
    assert.throws(
      () =>
        store.tx(() => {
          put('undone');
          throw new Error('conflict found half-way');
        }),
      /half-way/,
    );
    store.tx(() => put('kept-2'));
    await store.settled();
    assert.deepEqual(seen(), ['kept-1', 'kept-2']);
  });

  test('afterCommit_runsOnlyOnceCommitted_andAtOnceWithoutAGroup', async () => {
    const { store, seen, put } = stores();
    const calls: string[] = [];
    store.afterCommit((err) => calls.push(`no group: ${err ?? 'ok'}`));
    assert.deepEqual(calls, ['no group: ok']);
    store.tx(() => put('x'));
    store.afterCommit((err) => calls.push(`after x: ${err ?? 'ok'} seen=${seen().join(',')}`));
    assert.equal(calls.length, 1, 'not before the commit');
    await turn();
    assert.deepEqual(calls, ['no group: ok', 'after x: ok seen=x']);
  });

  test('aFailedCommit_reachesEveryMember_andNothingOfTheGroupPersists', async () => {
    const { db, store, seen, put } = stores();
    // a deferred foreign key is checked at COMMIT: the one way to make a commit fail on demand
    db.exec(`CREATE TABLE parent (id TEXT PRIMARY KEY);
             CREATE TABLE child (ref TEXT REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)`);
    const errors: unknown[] = [];
    store.tx(() => put('first'));
    store.afterCommit((err) => errors.push(err));
    store.tx(() => db.prepare("INSERT INTO child (ref) VALUES ('missing')").run());
    store.tx(() => put('third'));
    store.afterCommit((err) => errors.push(err));
    await assert.rejects(store.settled()!, /FOREIGN KEY/);
    assert.equal(errors.length, 2);
    for (const e of errors) assert.match(String(e), /FOREIGN KEY/);
    assert.deepEqual(seen(), [], 'the whole group was rolled back');
    assert.equal(db.inTransaction, false);
    // and the store goes on: the next turn commits normally
    store.tx(() => put('later'));
    await store.settled();
    assert.deepEqual(seen(), ['later']);
  });

  test('flush_commitsAtOnce_andWithoutGroupCommitEveryTxCommitsOnReturn', async () => {
    const g = stores();
    g.store.tx(() => g.put('now'));
    g.store.flush();
    assert.deepEqual(g.seen(), ['now']);
    const { db, seen, put } = stores();
    const plain = new Store(db, false);
    plain.tx(() => put('cli'));
    assert.deepEqual(seen(), ['cli'], 'the CLI mode commits before tx() returns');
    assert.equal(plain.settled(), undefined);
  });
});

describe('group commit: the HTTP API', () => {
  let s: TestServer;
  afterEach(async () => s && (await s.close()));

  test('concurrentRequests_areAnsweredOnlyAfterTheirCommit', async () => {
    s = await makeServer();
    const other = new Database(s.dbPath, { readonly: true });
    open.push(other);
    const body = { resourceId: 'staging-db', role: 'read', durationSeconds: 600, justification: 'group commit test' };
    const answers = await Promise.all(
      ['alice', 'dave', 'alice', 'dave', 'alice', 'dave'].map((u) =>
        s.call(u, 'POST', '/v1/requests', body).then((r) => {
          // at the moment the answer arrives, another connection must already see what it says
          const row = other.prepare('SELECT status FROM requests WHERE id = ?').get(r.body.request?.id) as { status: string } | undefined;
          return { status: r.status, row };
        }),
      ),
    );
    for (const a of answers) {
      assert.equal(a.status, 201);
      assert.equal(a.row?.status, 'approved');
    }
  });

  test('aCommitThatFails_turnsEveryAnswerOfItsGroupIntoAnError_andTheServerGoesOn', async () => {
    s = await makeServer();
    await s.services.store.settled(); // the tokens makeServer issued: change the schema outside any transaction
    s.db.exec(`CREATE TABLE parent (id TEXT PRIMARY KEY);
               CREATE TABLE child (ref TEXT REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
               CREATE TRIGGER fail_commit AFTER INSERT ON requests BEGIN INSERT INTO child (ref) VALUES ('missing'); END;`);
    const body = { resourceId: 'staging-db', role: 'read', durationSeconds: 600, justification: 'group commit test' };
    const failed = await Promise.all([s.call('alice', 'POST', '/v1/requests', body), s.call('dave', 'POST', '/v1/requests', body)]);
    for (const r of failed) {
      assert.ok(r.status >= 500, `expected an error, got ${r.status}`);
      assert.ok(r.body.error?.code, 'in the error shape');
    }
    assert.equal((s.db.prepare('SELECT COUNT(*) AS n FROM requests').get() as { n: number }).n, 0, 'nothing persisted');
    s.db.exec('DROP TRIGGER fail_commit');
    const again = await s.call('alice', 'POST', '/v1/requests', body);
    assert.equal(again.status, 201);
    const mine = await s.call('alice', 'GET', '/v1/requests');
    assert.equal(mine.body.requests.length, 1, 'only the request that committed exists');
  });
});
