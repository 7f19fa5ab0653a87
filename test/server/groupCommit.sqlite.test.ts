// SQLite only (*.sqlite.test.ts: group commit is how the SQLite store batches its writes).
// Group commit through the HTTP API of an in-process server: the writes of one event-loop turn
// share one SQLite transaction, and nothing is answered about a change before its commit, as a
// second connection (what another process, or the file after a crash, would see) shows. The
// store's own group commit is tested in test/store/sqlite.test.ts.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { makeServer, type TestServer } from '../helpers/server.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
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
    s.sqlite.exec(`CREATE TABLE parent (id TEXT PRIMARY KEY);
               CREATE TABLE child (ref TEXT REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
               CREATE TRIGGER fail_commit AFTER INSERT ON requests BEGIN INSERT INTO child (ref) VALUES ('missing'); END;`);
    const body = { resourceId: 'staging-db', role: 'read', durationSeconds: 600, justification: 'group commit test' };
    const failed = await Promise.all([s.call('alice', 'POST', '/v1/requests', body), s.call('dave', 'POST', '/v1/requests', body)]);
    for (const r of failed) {
      assert.ok(r.status >= 500, `expected an error, got ${r.status}`);
      assert.ok(r.body.error?.code, 'in the error shape');
    }
    assert.equal((s.sqlite.prepare('SELECT COUNT(*) AS n FROM requests').get() as { n: number }).n, 0, 'nothing persisted');
    s.sqlite.exec('DROP TRIGGER fail_commit');
    const again = await s.call('alice', 'POST', '/v1/requests', body);
    assert.equal(again.status, 201);
    const mine = await s.call('alice', 'GET', '/v1/requests');
    assert.equal(mine.body.requests.length, 1, 'only the request that committed exists');
  });
});
