// The command provider with a small real script: the grant arrives in its environment, exit
// codes decide, stdout of "grant" carries credentials, a hung script is killed.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { type Elevate, grantVia, startElevate } from './helpers.js';

let dir: string;
let script: string;
const running: Elevate[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'elevate-cmd-'));
  script = join(dir, 'provision.mjs');
  // Appends what it was given to events.jsonl. Behaviour per event comes from files the test
  // writes: fail-<event> (exit 3 while it exists), hang-<event> (sleep), creds (printed on grant).
  writeFileSync(
    script,
    `import { appendFileSync, existsSync, readFileSync } from 'node:fs';
const dir = ${JSON.stringify(dir)};
const env = { ...process.env };
appendFileSync(dir + '/events.jsonl', JSON.stringify({ argv: process.argv.slice(2), env }) + '\\n');
const ev = process.env.ELEVATE_EVENT;
if (existsSync(dir + '/hang-' + ev)) { setTimeout(() => {}, 60_000); }
else if (existsSync(dir + '/fail-' + ev)) { console.error('target unavailable'); process.exit(3); }
else if (ev === 'grant' && existsSync(dir + '/creds')) process.stdout.write(readFileSync(dir + '/creds', 'utf8'));
`,
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop();
  for (const f of ['events.jsonl', 'creds', 'fail-grant', 'fail-revoke', 'hang-grant']) rmSync(join(dir, f), { force: true });
});

async function elevate() {
  const e = await startElevate(`
users: [{ id: alice }, { id: bob, groups: [dba] }]
resources:
  - id: vm
    roles: [ssh]
    maxDuration: 2h
    approval: { approvers: [group:dba] }
    provider: { type: command, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(script)}, --target, vm-1], timeout: 2s, env: [TARGET_REGION, NOT_SET_ANYWHERE] }
`);
  running.push(e);
  return e;
}
const events = () =>
  existsSync(join(dir, 'events.jsonl'))
    ? readFileSync(join(dir, 'events.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { argv: string[]; env: Record<string, string> })
    : [];
const actions = (e: Elevate, grantId: string) => {
  const db = new Database(e.dbPath, { readonly: true });
  try {
    return db.prepare('SELECT action, details FROM audit WHERE grant_id = ? ORDER BY seq').all(grantId) as { action: string; details: string }[];
  } finally {
    db.close();
  }
};

test('grant_runsTheCommandWithTheGrantInItsEnvironment_andStdoutBecomesCredentials', async (t) => {
  // the server's own secrets stay in the server; only PATH and the policy's env: list pass
  const saved = { ...process.env };
  t.after(() => {
    for (const k of ['SERVER_SECRET_FOR_TEST', 'ELEVATE_DB', 'TARGET_REGION']) delete process.env[k];
    Object.assign(process.env, saved);
  });
  process.env.SERVER_SECRET_FOR_TEST = 'webhook-key-123';
  process.env.ELEVATE_DB = 'postgres://admin:pw@db/elevate';
  process.env.TARGET_REGION = 'eu-west-1';
  writeFileSync(join(dir, 'creds'), JSON.stringify({ SSH_CERT: 'ssh-ed25519-cert-v01 AAAA' }));
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'vm', 'ssh');
  const [ev] = events();
  assert.deepEqual(ev.argv, ['--target', 'vm-1']);
  assert.deepEqual(ev.env, {
    PATH: process.env.PATH,
    TARGET_REGION: 'eu-west-1',
    ELEVATE_EVENT: 'grant',
    ELEVATE_GRANT_ID: grant.id,
    ELEVATE_USER_ID: 'alice',
    ELEVATE_RESOURCE_ID: 'vm',
    ELEVATE_ROLE: 'ssh',
    ELEVATE_STARTS_AT: ev.env.ELEVATE_STARTS_AT,
    ELEVATE_EXPIRES_AT: grant.expiresAt,
  });
  const creds = await e.api('alice', 'GET', `/v1/grants/${grant.id}/credentials`);
  assert.deepEqual(creds.body.credentials, { SSH_CERT: 'ssh-ed25519-cert-v01 AAAA' });

  await e.api('alice', 'POST', `/v1/grants/${grant.id}/relinquish`);
  await e.settle();
  assert.deepEqual(
    events().map((x) => x.env.ELEVATE_EVENT),
    ['grant', 'revoke'],
  );
});

test('revoke_whenTheCommandExitsNonZero_isAFailure_retriedUntilItSucceeds', async () => {
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'vm', 'ssh');
  writeFileSync(join(dir, 'fail-revoke'), '');
  await e.api('bob', 'POST', `/v1/grants/${grant.id}/revoke`, { reason: 'r' });
  await e.settle();
  assert.equal((await e.api('alice', 'GET', `/v1/grants/${grant.id}`)).body.grant.revokePending, true);
  const failed = actions(e, grant.id).find((a) => a.action === 'grant.revoke_failed');
  assert.match(JSON.parse(failed!.details).error, /exited with code 3/);
  rmSync(join(dir, 'fail-revoke'));
  await e.advance(2_000);
  assert.equal((await e.api('alice', 'GET', `/v1/grants/${grant.id}`)).body.grant.revokePending, false);
  assert.equal(events().filter((x) => x.env.ELEVATE_EVENT === 'revoke').length, 2);
});

test('grant_whenTheCommandHangs_isKilledAtTheTimeout_andTheGrantFails', async () => {
  writeFileSync(join(dir, 'hang-grant'), '');
  const e = await elevate();
  const started = Date.now();
  const grant = await grantVia(e, 'alice', 'bob', 'vm', 'ssh');
  assert.ok(Date.now() - started < 5_000, 'killed at the 2 s timeout, not left to run for a minute');
  const g = (await e.api('alice', 'GET', `/v1/grants/${grant.id}`)).body.grant;
  assert.equal(g.status, 'failed');
  const failed = actions(e, grant.id).find((a) => a.action === 'grant.failed');
  assert.match(JSON.parse(failed!.details).error, /timed out/);
});

test('grant_whenStdoutIsNotAJsonObjectOfStrings_failsWithoutEchoingIt', async () => {
  writeFileSync(join(dir, 'creds'), 'password=hunter2');
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'vm', 'ssh');
  const failed = actions(e, grant.id).find((a) => a.action === 'grant.failed');
  assert.ok(failed);
  assert.equal(failed.details.includes('hunter2'), false);
  assert.equal(e.logs.join('\n').includes('hunter2'), false);
});
