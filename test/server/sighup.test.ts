// SIGHUP reloads the policy in the running process, without dropping connections: an invalid
// file is refused (the old policy stays), a removed user loses grants, tokens and streams, and
// everyone else's streams stay open and hear policy.reloaded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { access, buildServer, http, issueToken, spawnServer, tempDir, writePolicy } from '../helpers/server.js';
import { TEST_POLICY } from '../helpers/policy.js';
import { openEvents } from '../helpers/sse.js';
import { testDatabase } from '../helpers/backend.js';

let dir: string;
before(() => {
  buildServer();
  dir = tempDir('elevate-sighup-');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const waitUntil = async (what: string, ok: () => boolean | Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

test('sighup_reloadsThePolicyInPlace_keepingStreamsOpen_andRevokingWhatLeftThePolicy', { timeout: 60_000 }, async (t) => {
  const policyPath = writePolicy(dir, TEST_POLICY);
  const db = await testDatabase(dir);
  const tok = Object.fromEntries(['alice', 'dave', 'carol'].map((u) => [u, issueToken(policyPath, db, u)]));
  const server = await spawnServer({ policyPath, db, t });

  const granted = await http(server.url, tok.dave, 'POST', '/v1/requests', access('staging-db', 'read', 1800));
  assert.equal(granted.status, 201, JSON.stringify(granted.body));
  const carolStream = await openEvents(server.url, tok.carol);
  const daveStream = await openEvents(server.url, tok.dave);
  t.after(() => (carolStream.close(), daveStream.close()));

  // 1. an invalid file is refused; the running policy stays and nothing is revoked
  writeFileSync(policyPath, TEST_POLICY.replace(/maxDuration: 4h/, 'maxDuration: forever'));
  server.proc.kill('SIGHUP');
  await waitUntil('the refusal in the log', () => /policy reload refused/.test(server.output()));
  assert.match(server.output(), /maxDuration/);
  assert.equal((await http(server.url, tok.dave, 'GET', '/v1/me')).status, 200);
  assert.equal((await http(server.url, tok.dave, 'GET', `/v1/grants/${granted.body.grant.id}`)).body.grant.status, 'active');

  // 2. a valid file without dave: his grant is revoked (reason policy), his token and stream end
  writeFileSync(policyPath, TEST_POLICY.replace(/\n  - id: dave\n(    .*\n)+/, '\n'));
  server.proc.kill('SIGHUP');
  const reloaded = await carolStream.waitFor((e) => e.event === 'policy.reloaded', 10_000, 'policy.reloaded');
  assert.ok(reloaded.id);
  await carolStream.waitFor((e) => e.event === 'grant.revoked' && e.data.grant.id === granted.body.grant.id, 10_000, 'grant.revoked');
  await Promise.race([daveStream.ended, new Promise((_, no) => setTimeout(() => no(new Error("dave's stream stayed open")), 10_000))]);
  assert.equal(carolStream.isEnded(), false, "the admin's stream survived the reload");
  assert.equal((await http(server.url, tok.dave, 'GET', '/v1/me')).status, 401);
  const g = await http(server.url, tok.carol, 'GET', `/v1/grants/${granted.body.grant.id}`);
  assert.deepEqual([g.body.grant.status, g.body.grant.endReason], ['revoked', 'policy']);
  // the same connection-level server still answers everyone else
  assert.equal((await http(server.url, tok.alice, 'GET', '/v1/me')).status, 200);
  await server.stop();
});
