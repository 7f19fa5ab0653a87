// The webhook provider against a real HTTP receiver on loopback that checks every signature
// itself (not with Elevate's own verify()) and fails on demand.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { verify } from '../../server/providers/webhook.js';
import { type Elevate, grantVia, startElevate } from './helpers.js';

const SECRET = 'whsec-test-0123456789';
let dir: string;
let server: Server;
let url: string;
interface Delivery {
  headers: IncomingHttpHeaders;
  raw: string;
  body: { event: string; grant: Record<string, string>; sentAt: string };
  signatureOk: boolean;
}
let deliveries: Delivery[] = [];
/** what the receiver answers next, per event; default 200 */
let script: Partial<Record<string, Array<number | 'hang' | { credentials: Record<string, string> }>>> = {};

/** The receiver's own check, as a customer would write it: HMAC-SHA256 over "<t>.<raw body>". */
function checkSignature(raw: string, header: string | undefined): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m || Math.abs(Date.now() / 1000 - Number(m[1])) > 300) return false;
  return createHmac('sha256', SECRET).update(`${m[1]}.${raw}`).digest('hex') === m[2];
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'elevate-wh-'));
  writeFileSync(join(dir, 'secret'), SECRET + '\n', { mode: 0o600 });
  server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const body = JSON.parse(raw) as Delivery['body'];
      const signatureOk = checkSignature(raw, req.headers['elevate-signature'] as string | undefined);
      deliveries.push({ headers: req.headers, raw, body, signatureOk });
      const next = script[body.event]?.shift() ?? 200;
      if (next === 'hang') return; // never answers: the provider's timeout must fire
      if (!signatureOk) return void res.writeHead(401).end();
      if (typeof next === 'number') return void res.writeHead(next).end();
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(next));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/elevate`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const running: Elevate[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop();
  deliveries = [];
  script = {};
});

async function elevate(timeout = '5s') {
  const e = await startElevate(`
users: [{ id: alice }, { id: bob, groups: [dba] }]
resources:
  - id: app
    roles: [deploy]
    maxDuration: 2h
    approval: { approvers: [group:dba] }
    extension: { withoutApproval: 1h }
    provider: { type: webhook, url: "${url}", secret: { file: "${join(dir, 'secret')}" }, timeout: ${timeout} }
`);
  running.push(e);
  return e;
}
const actions = (e: Elevate, grantId: string) => {
  const db = new Database(e.dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT action, details FROM audit WHERE grant_id = ? ORDER BY seq').all(grantId) as { action: string; details: string }[]).map((a) => ({
      action: a.action,
      details: JSON.parse(a.details),
    }));
  } finally {
    db.close();
  }
};

test('grant_isPostedSigned_withIdempotencyKey_andCredentialsInTheAnswerReachTheOwner', async () => {
  script.grant = [{ credentials: { API_TOKEN: 'tok-123' } }];
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'app', 'deploy');
  assert.equal(deliveries.length, 1);
  const d = deliveries[0];
  assert.equal(d.signatureOk, true);
  assert.equal(verify(SECRET, d.raw, d.headers['elevate-signature'] as string, Math.floor(Date.now() / 1000)), true);
  assert.equal(verify('wrong', d.raw, d.headers['elevate-signature'] as string, Math.floor(Date.now() / 1000)), false);
  assert.equal(d.headers['content-type'], 'application/json');
  assert.equal(d.headers['elevate-idempotency-key'], `${grant.id}:grant:${grant.expiresAt}`);
  assert.equal(d.body.event, 'grant');
  assert.deepEqual(d.body.grant, {
    id: grant.id,
    userId: 'alice',
    resourceId: 'app',
    role: 'deploy',
    startsAt: d.body.grant.startsAt,
    expiresAt: grant.expiresAt,
  });
  const creds = await e.api('alice', 'GET', `/v1/grants/${grant.id}/credentials`);
  assert.equal(creds.status, 200);
  assert.deepEqual(creds.body.credentials, { API_TOKEN: 'tok-123' });
});

test('grant_onceTheReceiverConfirms_isAnnouncedAsProvisioned_sayingWhetherCredentialsCame', async () => {
  script.grant = [{ credentials: { API_TOKEN: 'tok-123' } }, 200];
  const e = await elevate();
  const withCreds = await grantVia(e, 'alice', 'bob', 'app', 'deploy');
  await e.settle();
  assert.deepEqual(
    actions(e, withCreds.id)
      .filter((a) => a.action === 'grant.provisioned')
      .map((a) => a.details),
    [{ provider: 'webhook', credentials: true }],
  );
  const resources = (await e.api('alice', 'GET', '/v1/resources')).body.resources as { id: string; provider?: { type: string } }[];
  assert.deepEqual(resources.find((r) => r.id === 'app')?.provider, { type: 'webhook' });
});

test('grant_whenProvisioningFails_isNeverAnnouncedAsProvisioned', async () => {
  script.grant = [500, 500, 500, 500, 500, 500];
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'app', 'deploy');
  await e.settle();
  const seen = actions(e, grant.id).map((a) => a.action);
  assert.ok(seen.includes('grant.failed'), seen.join(', '));
  assert.ok(!seen.includes('grant.provisioned'), seen.join(', '));
});

test('extend_isPosted_withTheNewEnd', async () => {
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'app', 'deploy', 1800);
  const ext = await e.api('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 600 });
  assert.equal(ext.status, 200);
  await e.settle();
  const d = deliveries.find((x) => x.body.event === 'extend');
  assert.ok(d && d.signatureOk);
  assert.equal(d.body.grant.expiresAt, ext.body.grant.expiresAt);
  assert.equal(d.headers['elevate-idempotency-key'], `${grant.id}:extend:${ext.body.grant.expiresAt}`);
});

test('revoke_whenTheReceiverFailsTwice_isRetriedWithBackoff_untilItSucceeds', async () => {
  script.revoke = [500, 500, 200];
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'app', 'deploy');
  assert.equal((await e.api('bob', 'POST', `/v1/grants/${grant.id}/revoke`, { reason: 'done' })).status, 200);
  await e.settle();
  const revokes = () => deliveries.filter((d) => d.body.event === 'revoke');
  assert.equal(revokes().length, 1);
  assert.equal((await e.api('alice', 'GET', `/v1/grants/${grant.id}`)).body.grant.revokePending, true);
  const failed = actions(e, grant.id).filter((a) => a.action === 'grant.revoke_failed');
  assert.equal(failed.length, 1);
  assert.match(failed[0].details.error, /HTTP 500/);

  await e.advance(500); // not yet: the first retry waits about a second
  assert.equal(revokes().length, 1);
  await e.advance(1_000);
  assert.equal(revokes().length, 2);
  await e.advance(3_000);
  assert.equal(revokes().length, 3);
  assert.equal((await e.api('alice', 'GET', `/v1/grants/${grant.id}`)).body.grant.revokePending, false);
  const done = actions(e, grant.id).find((a) => a.action === 'grant.deprovisioned');
  assert.equal(done?.details.attempts, 3);
  // every attempt is the same event: one idempotency key, each one signed
  assert.deepEqual(new Set(revokes().map((d) => d.headers['elevate-idempotency-key'])).size, 1);
  assert.ok(revokes().every((d) => d.signatureOk));
});

test('grant_whenTheReceiverDoesNotAnswerInTime_failsTheGrant', async () => {
  script.grant = ['hang'];
  const e = await elevate('1s');
  const grant = await grantVia(e, 'alice', 'bob', 'app', 'deploy');
  const g = (await e.api('alice', 'GET', `/v1/grants/${grant.id}`)).body.grant;
  assert.equal(g.status, 'failed');
  const failed = actions(e, grant.id).find((a) => a.action === 'grant.failed');
  assert.match(failed?.details.error, /timed out/);
  // the clean-up revoke is sent for whatever the receiver may have half-done
  await e.settle();
  assert.ok(deliveries.some((d) => d.body.event === 'revoke'));
});
