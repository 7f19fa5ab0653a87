// Rule 6 with a real crash: the bundled server is SIGKILLed while grants are live, some end
// while it is down, and on restart they are expired at once (audited as recovered), /v1/check
// denies them, and `audit verify` passes. This one runs on the real clock, so it waits a few
// seconds: a grant has to end while nothing is running.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildServer, cli, http, issueToken, spawnServer, tempDir, type TestDatabase, writePolicy } from '../helpers/server.js';
import { testDatabase } from '../helpers/backend.js';
import { TEST_POLICY } from '../helpers/policy.js';

// runs on the real clock, so nothing here may depend on a time window (reports has one)
const POLICY = `${TEST_POLICY}
  - id: scratch
    roles: [read]
    maxDuration: 1h
    approval:
      approvers: [group:dba]
      autoApprove:
        - roles: [read]
          maxDuration: 1h
  - id: quick
    roles: [read]
    maxDuration: 1h
    pendingTtl: 2s
    approval:
      approvers: [group:dba]
`;

let dir: string;
/** the database both tests use (the second restarts on what the first left): SQLite or PostgreSQL */
let db: TestDatabase;
before(async () => {
  buildServer();
  dir = tempDir('elevate-crash-');
  db = await testDatabase(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('crash_grantsThatEndWhileTheServerIsDown_areExpiredAtOnceOnRestart_auditedAsRecovered', { timeout: 60_000 }, async (t) => {
  const policyPath = writePolicy(dir, POLICY);
  const tok = Object.fromEntries(['alice', 'dave', 'carol', 'svc'].map((u) => [u, issueToken(policyPath, db, u)]));

  const first = await spawnServer({ policyPath, db, t });
  const mk = async (user: string, seconds: number, resourceId = 'staging-db') => {
    const r = await http(first.url, tok[user], 'POST', '/v1/requests', { resourceId, role: 'read', durationSeconds: seconds, justification: 'crash test' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  };
  const a = (await mk('alice', 1)).grant; // ends while down
  const b = (await mk('alice', 2, 'scratch')).grant; // ends while down
  const c = (await mk('dave', 600)).grant; // still live after the restart
  const pending = (await mk('alice', 60, 'quick')).request; // lapses while down (pendingTtl 2s)
  assert.equal(pending.status, 'pending');
  assert.equal((await http(first.url, tok.svc, 'GET', '/v1/check?userId=alice&resourceId=staging-db&role=read')).body.allowed, true);

  await first.kill('SIGKILL');
  const killedAt = Date.now();
  // let them end, and stay down more than 5 s past the end so the catch-up counts as a recovery
  await sleep(Math.max(0, Date.parse(b.expiresAt) + 5500 - Date.now()));

  const second = await spawnServer({ policyPath, db, t });
  const startedAt = Date.now();
  // before anything else: the catch-up already happened at start
  const expired = await http(second.url, tok.carol, 'GET', '/v1/audit?action=grant.expired');
  assert.equal(expired.status, 200);
  const byGrant = new Map(expired.body.events.map((e: any) => [e.grantId, e]));
  for (const g of [a, b]) {
    const e: any = byGrant.get(g.id);
    assert.ok(e, `grant.expired for ${g.id}; got ${JSON.stringify(expired.body.events)}`);
    assert.equal(e.actorId, 'system');
    assert.equal(e.details.recovered, true);
    assert.ok(e.details.lateMs > 5000, `lateMs ${e.details.lateMs}`);
    assert.equal(e.details.endedAt, g.expiresAt, 'ended at its expiresAt, not at the restart');
    assert.ok(Date.parse(e.at) >= killedAt && Date.parse(e.at) <= startedAt + 1000, `audited at the restart (${e.at})`);
  }
  assert.ok(!byGrant.has(c.id));

  const lapsed = await http(second.url, tok.carol, 'GET', `/v1/audit?action=request.expired`);
  assert.deepEqual(
    lapsed.body.events.map((e: any) => e.requestId),
    [pending.id],
  );

  for (const [user, res, allowed] of [
    ['alice', 'staging-db', false],
    ['alice', 'scratch', false],
    ['dave', 'staging-db', true],
  ] as const) {
    const r = await http(second.url, tok.svc, 'GET', `/v1/check?userId=${user}&resourceId=${res}&role=read`);
    assert.equal(r.body.allowed, allowed, `${user} ${res}`);
  }
  const ga = await http(second.url, tok.alice, 'GET', `/v1/grants/${a.id}`);
  assert.equal(ga.body.grant.status, 'expired');
  assert.equal((await http(second.url, tok.dave, 'GET', `/v1/grants/${c.id}`)).body.grant.status, 'active');

  const api = await http(second.url, tok.carol, 'GET', '/v1/audit/verify');
  assert.equal(api.body.ok, true);

  // the operator is told what the catch-up did and how long it took
  const caught = second
    .output()
    .split('\n')
    .filter((l) => l.includes('"caught up after downtime"'))
    .map((l) => JSON.parse(l));
  assert.equal(caught.length, 1, second.output());
  assert.equal(caught[0].grants, 2);
  assert.equal(caught[0].requests, 1);
  assert.ok(Number.isInteger(caught[0].ms) && caught[0].ms >= 0, JSON.stringify(caught[0]));

  // structured logs, and no secrets or justifications in them
  const logs = first.output() + second.output();
  for (const t of Object.values(tok)) assert.ok(!logs.includes(t), 'a token leaked into the log');
  assert.ok(!logs.includes('crash test'), 'a justification leaked into the log');
  assert.ok(
    logs
      .split('\n')
      .filter(Boolean)
      .every((l) => l.startsWith('{')),
    'every log line is JSON',
  );

  await second.stop(); // SIGTERM: graceful
  assert.equal(second.proc.exitCode, 0, second.output().slice(-2000));
  const v = cli(['audit', 'verify', ...db.args, '--config', policyPath]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /^ok: \d+ events, head [0-9a-f]{64}\n$/);
});

test('crash_aSecondRestart_doesNotExpireAnythingTwice', { timeout: 30_000 }, async (t) => {
  const policyPath = join(dir, 'elevate.yaml');
  const carol = issueToken(policyPath, db, 'carol');
  const before = cli(['audit', 'export', '--format', 'jsonl', ...db.args, '--config', policyPath]);
  assert.equal(before.code, 0, before.stderr);
  const expiredBefore = before.stdout.split('\n').filter((l) => l.includes('"grant.expired"')).length;
  const s = await spawnServer({ policyPath, db, t });
  const r = await http(s.url, carol, 'GET', '/v1/audit?action=grant.expired&limit=1000');
  assert.equal(r.body.events.length, expiredBefore);
  await s.kill('SIGKILL');
  const v = cli(['audit', 'verify', ...db.args]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});
