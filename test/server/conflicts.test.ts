// A conditional update that does not apply (another writer changed the row after this change
// read it) is a 409 and rolls the whole change back: no approval, grant, audit event or outbox
// row without the state change they belong to. Another writer is stood in for by a trigger
// that makes the update match no row, exactly as a concurrent commit would.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeServer, type TestServer } from '../helpers/server.js';

const access = (resourceId: string, role: string, durationSeconds = 600) => ({ resourceId, role, durationSeconds, justification: 'conflict test' });

async function counts(s: TestServer) {
  return {
    audit: await s.sql.count('audit'),
    grants: await s.sql.count('grants'),
    approvals: await s.sql.count('approvals'),
    outbox: await s.sql.count('outbox'),
  };
}

const otherWriterWins = (s: TestServer, table: 'requests' | 'grants', when: string) => s.sql.ignoreUpdates(table, when);

test('approve_whenTheRequestWasDecidedMeanwhile_is409_andWritesNothing', async (t) => {
  const s = await makeServer();
  t.after(() => s.close());
  const r = await s.call('alice', 'POST', '/v1/requests', access('prod-db', 'read'));
  const id = r.body.request.id as string;
  await s.services.batcher.flush();
  const before = await counts(s);
  const undo = await otherWriterWins(s, 'requests', `NEW.status = 'approved'`);
  const approve = await s.call('bob', 'POST', `/v1/requests/${id}/approve`, { comment: 'race' });
  assert.deepEqual([approve.status, approve.body.error?.code], [409, 'conflict']);
  assert.deepEqual(await counts(s), before, 'no approval, grant or event without the decision');
  await undo();
  assert.equal((await s.call('bob', 'POST', `/v1/requests/${id}/approve`, {})).body.request.status, 'approved', 'the next try goes through');
});

test('relinquish_whenTheGrantEndedMeanwhile_is409_andWritesNothing', async (t) => {
  const s = await makeServer();
  t.after(() => s.close());
  const { grant } = (await s.call('alice', 'POST', '/v1/requests', access('staging-db', 'read'))).body;
  await s.services.batcher.flush();
  const before = await counts(s);
  await otherWriterWins(s, 'grants', `NEW.status <> 'active'`);
  const r = await s.call('alice', 'POST', `/v1/grants/${grant.id}/relinquish`);
  assert.deepEqual([r.status, r.body.error?.code], [409, 'conflict']);
  assert.deepEqual(await counts(s), before);
});

test('extend_whenTheGrantEndedMeanwhile_is409_andWritesNothing', async (t) => {
  const s = await makeServer();
  t.after(() => s.close());
  const { grant } = (await s.call('alice', 'POST', '/v1/requests', access('staging-db', 'read'))).body;
  await s.services.batcher.flush();
  const before = await counts(s);
  await otherWriterWins(s, 'grants', `NEW.expires_at <> OLD.expires_at`);
  const r = await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 600 });
  assert.deepEqual([r.status, r.body.error?.code], [409, 'conflict']);
  assert.deepEqual(await counts(s), before);
});
