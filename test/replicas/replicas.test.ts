// Three `elevate-server start` processes on one PostgreSQL (embedded, started here), driven over
// real HTTP on loopback: what issue 12 promises for several replicas. Each test reads its
// answers from whichever replica it likes; nothing here knows which replica did what.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type SpawnedServer, SERVER_JS, buildServer, cleanEnv, cli, freePortRun, http, spawnServer, tempDir, writePolicy } from '../helpers/server.js';
import { openEvents, type SseStream } from '../helpers/sse.js';
import { isSseType } from '../../server/engine/live.js';
import { startPostgres, type TestPostgres } from '../providers/helpers.js';

const USERS = 50;
const RESOURCES = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let pg: TestPostgres;
let dir: string;
let policyPath: string;
let dbUrl: string;
let pwFile: string;
let hook: Server;
let hookUrl: string;
/** webhook deliveries received, by grant id; the receiver answers after HOOK_DELAY_MS */
const delivered = new Map<string, string[]>();
let HOOK_DELAY_MS = 0;
const replicas: SpawnedServer[] = [];
const tokens: Record<string, string> = {};

const devs = Array.from({ length: USERS }, (_, i) => `u${String(i).padStart(2, '0')}`);
const pool = Array.from({ length: RESOURCES }, (_, i) => `r${i}`);

const POLICY = () => `
users:
  - { id: alice, groups: [developers] }
  - { id: bob, groups: [dba] }
  - { id: carol, groups: [dba] }
  - { id: audrey, roles: [auditor] }
  - { id: root, roles: [admin] }
  - { id: svc, roles: [service] }
${devs.map((u) => `  - { id: ${u}, groups: [developers] }`).join('\n')}
resources:
  - id: db
    roles: [read, write]
    maxDuration: 1h
    approval:
      approvers: [group:dba]
      required: 1
      autoApprove:
        - { roles: [read], maxDuration: 1h, groups: [developers] }
    extension: { maxTotal: 1h30m, withoutApproval: 1h }
  - id: hooked
    roles: [read]
    maxDuration: 1h
    approval:
      approvers: [group:dba]
      autoApprove:
        - { roles: [read], maxDuration: 1h, groups: [developers] }
    provider: { type: webhook, url: "${hookUrl}", secret: { file: "${join(dir, 'hook-secret')}" }, timeout: 5 }
${pool
  .map(
    (r) => `  - id: ${r}
    roles: [read]
    maxDuration: 1h
    approval:
      approvers: [group:dba]
      autoApprove:
        - { roles: [read], maxDuration: 1h, groups: [developers] }`,
  )
  .join('\n')}
`;

const dbArgs = () => ['--db', dbUrl, '--db-password-file', pwFile];

async function startReplica(): Promise<SpawnedServer> {
  return spawnServer({ policyPath, dbPath: dbUrl, args: ['--db-password-file', pwFile], timeoutMs: 30_000 });
}

const as = (user: string) => tokens[user];
const replica = (i: number) => replicas[i % replicas.length];
const api = <T = any>(i: number, user: string, method: string, path: string, body?: unknown) => http<T>(replica(i).url, as(user), method, path, body);

/** Every audit event, through the CLI (reads the database itself, not a replica). */
function exportAudit(): { seq: number; action: string; grantId?: string; requestId?: string; details: Record<string, unknown> }[] {
  // the whole log: more than cli()'s 1 MB of output
  const r = spawnSync(process.execPath, [SERVER_JS, 'audit', 'export', '--format', 'jsonl', ...dbArgs(), '--config', policyPath], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 512 * 1024 * 1024,
    env: cleanEnv(),
  });
  assert.equal(r.status, 0, `${r.error ?? ''} ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function assertChainIntact(): void {
  const v = cli(['audit', 'verify', ...dbArgs(), '--config', policyPath], { timeoutMs: 60_000 });
  assert.equal(v.code, 0, `audit verify: ${v.stdout}${v.stderr}`);
  const events = exportAudit();
  events.forEach((e, i) => assert.equal(e.seq, i + 1, 'seq is gapless'));
}

before(async () => {
  buildServer();
  dir = tempDir('elevate-replicas-');
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      setTimeout(() => {
        const b = JSON.parse(body) as { event: string; grant: { id: string } };
        delivered.set(b.grant.id, [...(delivered.get(b.grant.id) ?? []), b.event]);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      }, HOOK_DELAY_MS);
    });
  });
  await new Promise<void>((ok) => hook.listen(0, '127.0.0.1', ok));
  hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
  pg = await startPostgres();
  // the password in a 0600 file, never on a command line
  const password = new URL(pg.adminUrl()).password;
  pwFile = join(dir, 'db-password');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  const u = new URL(pg.adminUrl());
  u.password = '';
  dbUrl = u.toString();
  writeFileSync(join(dir, 'hook-secret'), 'whsec-replicas-0123456789\n', { mode: 0o600 });
  policyPath = writePolicy(dir, POLICY());
  for (const user of ['alice', 'bob', 'carol', 'audrey', 'root', 'svc', ...devs]) {
    const r = cli(['token', 'issue', user, ...dbArgs(), '--config', policyPath]);
    assert.equal(r.code, 0, r.stderr);
    tokens[user] = r.stdout.trim();
  }
  for (let i = 0; i < 3; i++) replicas.push(await startReplica());
});

after(async () => {
  for (const r of replicas) await r.stop().catch(() => {});
  await pg?.destroy();
  await new Promise<void>((ok) => hook?.close(() => ok()));
});

test('replicas_startOnOnePostgres_reportReadyAndTheSamePolicyHash', async () => {
  const hashes = new Set<string>();
  for (const r of replicas) {
    const ready = await fetch(`${r.url}/readyz`);
    assert.equal(ready.status, 200, await ready.text());
    const h = (await (await fetch(`${r.url}/healthz`)).json()) as { policyHash: string };
    hashes.add(h.policyHash);
  }
  assert.equal(hashes.size, 1);
});

test('concurrentApprovals_onTwoReplicas_createExactlyOneGrant', async () => {
  for (let round = 0; round < 5; round++) {
    const created = await api(0, 'alice', 'POST', '/v1/requests', { resourceId: 'db', role: 'write', durationSeconds: 600, justification: `race ${round}` });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.request.id as string;
    const [b, c] = await Promise.all([api(1, 'bob', 'POST', `/v1/requests/${id}/approve`, {}), api(2, 'carol', 'POST', `/v1/requests/${id}/approve`, {})]);
    const statuses = [b.status, c.status].sort();
    assert.deepEqual(statuses, [200, 409], `one approval wins, the other is a conflict: ${JSON.stringify([b.body, c.body])}`);
    const grants = (await api(0, 'alice', 'GET', '/v1/grants?status=active')).body.grants as { id: string; requestId: string }[];
    assert.equal(grants.filter((g) => g.requestId === id).length, 1);
    const activated = exportAudit().filter((e) => e.action === 'grant.activated' && e.requestId === id);
    assert.equal(activated.length, 1);
    await api(0, 'alice', 'POST', `/v1/grants/${grants.find((g) => g.requestId === id)!.id}/relinquish`, {});
  }
});

test('racingExtensions_acrossReplicas_neverPassMaxTotal', async () => {
  const created = await api(0, 'alice', 'POST', '/v1/requests', { resourceId: 'db', role: 'read', durationSeconds: 1800, justification: 'extend race' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const grant = created.body.grant as { id: string; startsAt: string };
  // maxTotal 1h30m: 30m granted, so at most four 15m extensions fit; twelve race on three replicas
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => api(i, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 900 })));
  for (const r of results) assert.ok([200, 409, 422].includes(r.status), `${r.status} ${JSON.stringify(r.body)}`);
  const g = (await api(1, 'alice', 'GET', `/v1/grants/${grant.id}`)).body.grant as { startsAt: string; expiresAt: string };
  const totalS = (Date.parse(g.expiresAt) - Date.parse(g.startsAt)) / 1000;
  assert.ok(totalS <= 5400, `total ${totalS}s exceeds maxTotal`);
  const applied = results.filter((r) => r.status === 200).length;
  assert.equal(totalS, 1800 + applied * 900, 'every applied extension counted once');
  await api(2, 'alice', 'POST', `/v1/grants/${grant.id}/relinquish`, {});
});

test('streamOnReplicaA_receivesChangesMadeOnBAndC_inOrder', async () => {
  const stream = await openEvents(replica(0).url, as('alice'));
  try {
    assert.equal(stream.status, 200);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await api(1 + (i % 2), 'alice', 'POST', '/v1/requests', {
        resourceId: 'db',
        role: 'write',
        durationSeconds: 600,
        justification: `stream ${i}`,
      });
      assert.equal(r.status, 201);
      ids.push(r.body.request.id);
      await api(2 - (i % 2), 'bob', 'POST', `/v1/requests/${r.body.request.id}/deny`, { reason: 'no' });
    }
    await stream.waitFor((e) => e.event === 'request.denied' && e.data.request?.id === ids[5], 10_000, 'the last denial');
    const seqs = stream.events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'in log order',
    );
    assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
    for (const id of ids) {
      const mine = stream.events.filter((e) => e.data.request?.id === id).map((e) => e.event);
      assert.deepEqual(mine, ['request.created', 'request.denied']);
    }
  } finally {
    stream.close();
  }
});

test('fiveHundredGrantsEndingOverTenSeconds_expireExactlyOnceEach_andNoCheckAllowsAfterTheEnd', async () => {
  const made: { id: string; user: string; resource: string; expiresAt: number }[] = [];
  const t0 = Date.now();
  // 500 grants (50 users x 10 resources) whose ends spread over 10 s, starting ~8 s from now
  const jobs = devs.flatMap((user, u) => pool.map((resource, r) => ({ user, resource, n: u * RESOURCES + r })));
  for (let i = 0; i < jobs.length; i += 25) {
    await Promise.all(
      jobs.slice(i, i + 25).map(async ({ user, resource, n }) => {
        const elapsed = (Date.now() - t0) / 1000;
        const durationSeconds = Math.max(1, Math.round(8 + (n % 10) - elapsed));
        const res = await api(n, user, 'POST', '/v1/requests', { resourceId: resource, role: 'read', durationSeconds, justification: 'expiry' });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        made.push({ id: res.body.grant.id, user, resource, expiresAt: Date.parse(res.body.grant.expiresAt) });
      }),
    );
  }
  assert.equal(made.length, 500);
  // checkers on every replica, around each grant's end, until the last has ended
  const last = Math.max(...made.map((g) => g.expiresAt));
  let violations = 0;
  let checks = 0;
  const checker = async (i: number) => {
    while (Date.now() < last + 1500) {
      const now = Date.now();
      const near = made.filter((g) => Math.abs(g.expiresAt - now) < 300);
      const g = near[Math.floor(Math.random() * near.length)] ?? made[checks % made.length];
      const sentAt = Date.now();
      const r = await api(i, 'svc', 'GET', `/v1/check?userId=${g.user}&resourceId=${g.resource}&role=read`);
      checks++;
      if (r.status === 200 && r.body.allowed === true && sentAt >= g.expiresAt) violations++;
    }
  };
  await Promise.all([0, 1, 2, 0, 1, 2].map(checker));
  assert.ok(checks > 100, `only ${checks} checks ran`);
  assert.equal(violations, 0, 'a check allowed a grant at or after its end');
  // every grant has ended, once
  const deadline = Date.now() + 10_000;
  let expired: Map<string, number>;
  for (;;) {
    expired = new Map();
    for (const e of exportAudit()) if (e.action === 'grant.expired' && e.grantId) expired.set(e.grantId, (expired.get(e.grantId) ?? 0) + 1);
    if (made.every((g) => expired.has(g.id)) || Date.now() > deadline) break;
    await sleep(500);
  }
  for (const g of made) assert.equal(expired.get(g.id), 1, `grant ${g.id} expired ${expired.get(g.id) ?? 0} times`);
});

test('sigkillOfOneReplicaUnderLoad_losesNothingAcknowledged_andItsWorkAndStreamsGoOnElsewhere', async () => {
  // the webhook answers slowly, so the replica dies with provisioning in hand
  HOOK_DELAY_MS = 1500;
  const victim = replicas[2];
  // an admin's stream carries every stream event: the one to check for gaps
  const streams: SseStream[] = [await openEvents(victim.url, as('root'))];
  const acknowledged: string[] = [];
  // 40 people ask for the hooked resource over 4 s, across the kill at 2 s; their grants stay
  // active, so every one of them must be provisioned, the victim's claimed work included
  const load = async (user: string, i: number) => {
    await sleep(i * 100);
    const r = await http(replica(i).url, as(user), 'POST', '/v1/requests', {
      resourceId: 'hooked',
      role: 'read',
      durationSeconds: 3600,
      justification: 'load',
    }).catch(() => null);
    if (r?.status === 201) acknowledged.push(r.body.grant.id);
  };
  const loads = devs.slice(0, 40).map((u, i) => load(u, i));
  await sleep(2000);
  const lastSeen = () => Number(streams[0].events.filter((e) => e.id !== undefined).at(-1)?.id ?? 0);
  await victim.kill('SIGKILL');
  const resumeFrom = lastSeen();
  replicas.splice(2, 1);
  await Promise.all(loads);
  assert.ok(acknowledged.length > 10, `only ${acknowledged.length} requests went through`);
  // the killed replica's client resumes on another from its last event id, with no gap
  const resumed = await openEvents(replicas[0].url, as('root'), resumeFrom);
  streams.push(resumed);
  try {
    const events = exportAudit();
    const granted = new Set(events.filter((e) => e.action === 'grant.activated').map((e) => e.grantId));
    for (const id of acknowledged) assert.ok(granted.has(id), `acknowledged grant ${id} is in the log`);
    // every grant's provisioning reaches the receiver, also the work the dead replica held
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && !acknowledged.every((id) => delivered.get(id)?.includes('grant'))) await sleep(500);
    for (const id of acknowledged) assert.ok(delivered.get(id)?.includes('grant'), `grant ${id} was provisioned`);
    // the resumed stream holds every stream event after its Last-Event-ID, once, in order
    const expected = events.filter((e) => e.seq > resumeFrom && isSseType(e.action)).map((e) => e.seq);
    assert.ok(expected.length > 0);
    await resumed.waitFor((e) => Number(e.id) === expected.at(-1), 20_000, 'the last stream event');
    const got = resumed.events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
    assert.deepEqual(got.slice(0, expected.length), expected);
    // and before the kill, the stream on the victim had no gap either
    const before = streams[0].events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
    const first = before[0];
    assert.deepEqual(
      before,
      events.filter((e) => e.seq >= first && e.seq <= resumeFrom && isSseType(e.action)).map((e) => e.seq),
    );
  } finally {
    for (const s of streams) s.close();
    HOOK_DELAY_MS = 0;
    replicas.push(await startReplica());
  }
});

test('postgresRestartUnderLoad_answers503WhileDown_halfWritesNothing_andReplicasRecoverByThemselves', async () => {
  let stop = false;
  const statuses = new Map<number, number>();
  const acknowledged: string[] = [];
  const load = async (user: string, i: number) => {
    for (let n = 0; !stop; n++) {
      const r = await http(replica(i + n).url, as(user), 'POST', '/v1/requests', {
        resourceId: pool[n % RESOURCES],
        role: 'read',
        durationSeconds: 3600,
        justification: 'outage',
      }).catch(() => null);
      if (r) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r?.status === 201) {
        acknowledged.push(r.body.grant.id);
        await http(replica(i + n).url, as(user), 'POST', `/v1/grants/${r.body.grant.id}/relinquish`, {}).catch(() => null);
      }
      if (!r || r.status === 503) await sleep(100);
    }
  };
  const loads = devs.slice(10, 16).map((u, i) => load(u, i));
  await sleep(1500);
  await pg.stop();
  await sleep(3000);
  const during = (await Promise.all(replicas.map((r) => fetch(`${r.url}/readyz`).then((x) => x.status)))).sort();
  await pg.start();
  // the replicas come back without a restart
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await Promise.all(replicas.map((r) => fetch(`${r.url}/readyz`).then((x) => x.status)));
    if (ready.every((s) => s === 200)) break;
    assert.ok(Date.now() < deadline, `replicas not ready after the restart: ${ready}`);
    await sleep(250);
  }
  await sleep(1500);
  stop = true;
  await Promise.all(loads);
  assert.deepEqual(during, [503, 503, 503], 'not ready while the database is down');
  assert.ok((statuses.get(503) ?? 0) > 0, `503s while down: ${JSON.stringify([...statuses])}`);
  for (const s of statuses.keys()) assert.ok(s < 500 || s === 503, `only 503 as a server error, saw ${s}`);
  const events = exportAudit();
  const granted = new Set(events.filter((e) => e.action === 'grant.activated').map((e) => e.grantId));
  for (const id of acknowledged) assert.ok(granted.has(id), `acknowledged grant ${id} is in the log`);
  const after = await api(0, 'alice', 'POST', '/v1/requests', { resourceId: 'db', role: 'read', durationSeconds: 60, justification: 'after' });
  assert.equal(after.status, 201);
});

test('afterEverything_theChainVerifies_seqIsGapless_andTheStateMatchesTheLog', async () => {
  assertChainIntact();
  const v = cli(['audit', 'verify', '--state', ...dbArgs(), '--config', policyPath], { timeoutMs: 60_000 });
  assert.equal(v.code, 0, `${v.stdout}${v.stderr}`);
});

test('demoWithThreeReplicas_servesOneUrl_andKillingAnyReplicaGoesUnnoticed', async () => {
  const folder = tempDir('elevate-replica-demo-');
  // the balancer on port, the replicas on the three after it: a replica whose port is taken
  // exits at once and is restarted every 3 s, never ready (CI once lost a replica this way, it seems)
  const port = await freePortRun(4);
  const demo = spawn(process.execPath, [SERVER_JS, 'demo', '--replicas', '3', '--port', String(port)], {
    cwd: folder,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  demo.stdout!.on('data', (d) => (out += d));
  demo.stderr!.on('data', (d) => (out += d));
  try {
    const deadline = Date.now() + 90_000;
    while (!/Stop with Ctrl\+C/.test(out)) {
      assert.ok(demo.exitCode === null, `demo exited:\n${out}`);
      assert.ok(Date.now() < deadline, `demo not up after 90 s:\n${out}`);
      await sleep(200);
    }
    const { url, tokens: t } = JSON.parse(readFileSync(join(folder, '.elevate', 'demo-tokens.json'), 'utf8')) as {
      url: string;
      tokens: Record<string, string>;
    };
    assert.equal(url, `http://127.0.0.1:${port}`);
    const pids = [...out.matchAll(/replica \d+: port (\d+), pid (\d+)/g)].map((m) => Number(m[2]));
    assert.equal(pids.length, 3, out);
    const stream = await openEvents(url, t.bob);
    const made = await http(url, t.alice, 'POST', '/v1/requests', { resourceId: 'prod-db', role: 'read', durationSeconds: 600, justification: 'demo' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    await stream.waitFor((e) => e.event === 'request.created', 10_000);
    // kill one replica after another; every request in between is answered by the others
    for (const pid of pids.slice(0, 2)) {
      // a replica gone before we kill it died by itself: say what the demo printed (CI once saw ESRCH here)
      try {
        process.kill(pid, 'SIGKILL');
      } catch (e) {
        throw new Error(`replica pid ${pid} could not be killed (${String(e)}); the demo printed:\n${out}`);
      }
      for (let i = 0; i < 6; i++) {
        const r = await http(url, t.alice, 'GET', '/v1/me');
        assert.equal(r.status, 200, `request ${i} after killing ${pid}`);
      }
    }
    const approved = await http(url, t.bob, 'POST', `/v1/requests/${made.body.request.id}/approve`, {});
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    stream.close();
  } finally {
    demo.kill('SIGINT');
    await new Promise((r) => demo.once('exit', r));
  }
});
