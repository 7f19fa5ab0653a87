// GET /v1/audit/verify on the real server (dist/server.js): the chain is recomputed off the
// request path (SQLite: in a worker thread; PostgreSQL: page by page in its own snapshot), so a
// long verification neither stalls other requests nor misses tampering.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { testDatabase } from '../helpers/backend.js';
import { dropAuditGuard, withSql } from '../helpers/rows.js';
import { buildServer, http, issueToken, spawnServer, tempDir, type TestDatabase, writePolicy, openTestStore } from '../helpers/server.js';

// enough events that recomputing them takes a good part of a second, even on a fast machine
const EVENTS = 150_000;

let dir: string;
before(() => {
  buildServer();
  dir = tempDir('elevate-verify-');
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Appends `n` access-check events to the chain, as the server would have written them. */
async function fillChain(db: TestDatabase, n: number): Promise<void> {
  const store = await openTestStore(db, { role: 'cli' });
  try {
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    await store.transaction(async (tx) => {
      for (let i = 0; i < n; i += 1000) {
        await tx.audit.append(
          Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({
            at: t0 + (i + k) * 1000,
            actorId: 'svc',
            action: 'access.checked',
            resourceId: 'staging-db',
            subjectId: `user${(i + k) % 50}`,
            details: { userId: `user${(i + k) % 50}`, role: 'read', allowed: (i + k) % 3 === 0 },
          })),
        );
      }
    });
  } finally {
    await store.close();
  }
}

test('auditVerify_overHttp_servesOtherRequestsMeanwhile_answersTwoCallsAtOnceAlike_andFindsTampering', { timeout: 120_000 }, async (t) => {
  const policyPath = writePolicy(dir);
  const db = await testDatabase(dir);
  const auditor = issueToken(policyPath, db, 'audrey'); // creates the database (and audits the issue)
  const alice = issueToken(policyPath, db, 'alice');
  const svc = issueToken(policyPath, db, 'svc');
  await fillChain(db, EVENTS);
  const server = await spawnServer({ policyPath, db, t });

  // while the chain is recomputed, the server keeps answering (on its own thread it could not)
  let verified = false;
  const pending = Promise.all([
    http(server.url, auditor, 'GET', '/v1/audit/verify'),
    http(server.url, auditor, 'GET', '/v1/audit/verify'), // at the same time: the same answer
  ]).finally(() => (verified = true));
  let answeredMeanwhile = 0;
  while (!verified) {
    const h = await http(server.url, null, 'GET', '/healthz');
    assert.equal(h.status, 200);
    if (!verified) answeredMeanwhile++;
  }
  const [first, second] = await pending;
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.ok, true, JSON.stringify(first.body));
  assert.ok(first.body.count >= EVENTS + 3, `count ${first.body.count}`); // + the three token.issued
  assert.match(first.body.headHash, /^[0-9a-f]{64}$/);
  assert.deepEqual(second.body, first.body);
  assert.ok(answeredMeanwhile > 0, 'no other request was answered while the chain was verified');

  // an access check audited just before (batched, not yet written) is in the snapshot verified
  const check = await http(server.url, svc, 'GET', '/v1/check?userId=alice&resourceId=staging-db&role=read');
  assert.equal(check.status, 200);
  const again = await http(server.url, auditor, 'GET', '/v1/audit/verify');
  assert.equal(again.body.ok, true);
  const head = await http(server.url, auditor, 'GET', '/v1/audit?limit=1');
  assert.equal(again.body.count, head.body.events[0].seq, 'the verified count reaches the newest event');

  // the state check runs off the request path too: the three tokens are explained by their events
  const state = await http(server.url, auditor, 'GET', '/v1/audit/verify?state=true');
  assert.equal(state.status, 200);
  assert.equal(state.body.ok, true, JSON.stringify(state.body.state));
  assert.deepEqual(state.body.state, { ok: true, rows: { requests: 0, approvals: 0, grants: 0, tokens: 3, idpUsers: 0 }, problemCount: 0, problems: [] });

  // an edit behind the server's back (the append-only triggers removed by the database's owner)
  // is found, at its seq
  const k = 77_777;
  await withSql(db, async (raw) => {
    await dropAuditGuard(raw);
    await raw.run(`UPDATE audit SET actor_id = 'mallory' WHERE seq = ?`, k);
  });
  const tampered = await http(server.url, auditor, 'GET', '/v1/audit/verify');
  assert.equal(tampered.status, 200);
  assert.equal(tampered.body.ok, false);
  assert.equal(tampered.body.firstBadSeq, k);

  // least privilege still holds on this route
  assert.equal((await http(server.url, alice, 'GET', '/v1/audit/verify')).status, 403);
  await server.stop();
});
