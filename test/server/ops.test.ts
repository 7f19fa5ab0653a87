// Operating the server (issue 14, item 14): /healthz reports the policy's hash, /readyz says
// whether it can serve, /metrics speaks Prometheus to a service token. Over real HTTP against
// the built server, and in-process where readiness has to be broken on purpose.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { access, buildServer, cli, http, issueToken, makeServer, openTestStore, policyOf, spawnServer, tempDir, writePolicy } from '../helpers/server.js';
import { TEST_POLICY } from '../helpers/policy.js';
import { createServices } from '../../server/services.js';
import { FakeClock } from '../../server/domain/clock.js';
import { silentLogger } from '../../server/logger.js';
import { openEvents } from '../helpers/sse.js';
import { testDatabase } from '../helpers/backend.js';

let dir: string;
before(() => {
  buildServer();
  dir = tempDir('elevate-ops-');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const metricValue = (text: string, name: string, labels = ''): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  if (!line) assert.fail(`no ${name}${labels} in:\n${text.slice(0, 3000)}`);
  return Number(line.split(' ').at(-1));
};

test('healthz_readyz_andMetrics_overHttp', { timeout: 60_000 }, async (t) => {
  const policyPath = writePolicy(dir);
  const db = await testDatabase(dir);
  const tok = Object.fromEntries(['alice', 'svc', 'carol', 'audrey'].map((u) => [u, issueToken(policyPath, db, u)]));
  const server = await spawnServer({ policyPath, db, t });

  // healthz: alive, with the hash check-config computes for the same file
  const health = await http(server.url, null, 'GET', '/healthz');
  assert.equal(health.status, 200);
  const checked = JSON.parse(cli(['check-config', '--format', 'json', '--config', policyPath]).stdout);
  assert.deepEqual(health.body, { ok: true, policyHash: checked.policyHash });
  assert.match(checked.policyHash, /^[0-9a-f]{64}$/);

  const ready = await http(server.url, null, 'GET', '/readyz');
  assert.deepEqual([ready.status, ready.body], [200, { ready: true, checks: { database: true, migrations: true, caughtUp: true } }]);

  // metrics need a service (or admin) token: not anonymous, not any user
  assert.equal((await http(server.url, null, 'GET', '/metrics')).status, 401);
  assert.equal((await http(server.url, tok.alice, 'GET', '/metrics')).status, 403);
  assert.equal((await http(server.url, tok.audrey, 'GET', '/metrics')).status, 403);

  // something to count: an active grant, a pending request, an open stream, a grant that expires
  assert.equal((await http(server.url, tok.alice, 'POST', '/v1/requests', access('staging-db', 'read', 3600))).status, 201);
  assert.equal((await http(server.url, tok.alice, 'POST', '/v1/requests', access('staging-db', 'write', 3600))).status, 201);
  const short = await http(server.url, tok.alice, 'POST', '/v1/requests', access('staging-db', 'read', 1));
  assert.equal(short.status, 201);
  const stream = await openEvents(server.url, tok.carol);
  t.after(() => stream.close());
  await stream.waitFor((e) => e.event === 'grant.expired' && e.data.grant.id === short.body.grant.id, 10_000, 'grant.expired');

  const m = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${tok.svc}` } });
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await m.text();
  assert.equal(metricValue(text, 'elevate_active_grants'), 1);
  assert.equal(metricValue(text, 'elevate_pending_requests'), 1);
  assert.equal(metricValue(text, 'elevate_sse_clients'), 1);
  assert.equal(metricValue(text, 'elevate_outbox_depth'), 0);
  assert.equal(metricValue(text, 'elevate_outbox_oldest_age_seconds'), 0);
  assert.equal(metricValue(text, 'elevate_revocation_failures_total'), 0);
  assert.equal(metricValue(text, 'elevate_expiry_lag_seconds_count'), 1);
  assert.ok(metricValue(text, 'elevate_expiry_lag_seconds_bucket', '{le="2"}') === 1, "ended within rule 1's second (plus the sweep tick)");
  // latency by route pattern, never by raw path (no ids in labels)
  assert.ok(metricValue(text, 'elevate_http_request_duration_seconds_count', '{method="POST",route="/v1/requests",status="201"}') >= 3);
  assert.doesNotMatch(text, /route="[^"]*(grt|req)_/);
  assert.match(text, /^elevate_process_resident_memory_bytes /m);
  await server.stop();
});

test('readyz_is503WhileTheCatchUpHasNotRun_orTheSchemaIsNotThisServers', async () => {
  const db = await testDatabase(mkdtempSync(join(dir, 'ready-')));
  const store = await openTestStore(db);
  const services = await createServices({ store, policy: policyOf(TEST_POLICY), clock: new FakeClock(), logger: silentLogger });
  const early = await services.app.request('/readyz');
  assert.equal(early.status, 503);
  assert.deepEqual(((await early.json()) as { checks: unknown }).checks, { database: true, migrations: true, caughtUp: false });
  await services.start();
  assert.equal((await services.app.request('/readyz')).status, 200);
  await services.stop();
  await store.close();

  const s = await makeServer();
  try {
    const ok = await s.call(null, 'GET', '/readyz');
    assert.equal(ok.status, 200);
    await s.sql.setSchemaVersion(2);
    const stale = await s.call(null, 'GET', '/readyz');
    assert.equal(stale.status, 503);
    assert.deepEqual(stale.body.checks, { database: true, migrations: false, caughtUp: true });
    assert.match(stale.body.problems[0], /^database schema is version 2, this server expects \d+$/);
  } finally {
    await s.close();
  }
});
