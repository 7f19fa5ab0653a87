// Host header (issue 14, item 8): the server answers only to the names it is reached by, so a
// DNS-rebinding page (its own name resolving to 127.0.0.1) is refused instead of being served
// as same-origin. Real HTTP against the built server, with the Host header set by hand.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildServer, issueToken, spawnServer, tempDir, writePolicy, type SpawnedServer } from '../helpers/server.js';
import { TEST_POLICY } from '../helpers/policy.js';
import { testDatabase } from '../helpers/backend.js';
import { hostName, isAllowedHost } from '../../server/http/host.js';

let dir: string;
before(() => {
  buildServer();
  dir = tempDir('elevate-host-');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const withPublicUrl = (url: string) => `${TEST_POLICY}\nserver:\n  publicUrl: ${url}\n`;

function get(server: SpawnedServer, path: string, host: string, token?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host, accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = request({ host: '127.0.0.1', port: server.port, path, method: 'GET', headers, setHost: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        // an accepted event stream never ends by itself: its status is the answer
        if (path === '/v1/events') res.destroy();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? safeJson(text) : undefined }));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body: safeJson(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}
const safeJson = (t: string) => {
  try {
    return JSON.parse(t);
  } catch {
    return t;
  }
};

test('host_loopbackNamesAddressesAndThePublicUrlHost_areServed_anyOtherNameIs421WithAClearError', { timeout: 60_000 }, async (t) => {
  const policyPath = writePolicy(dir, withPublicUrl('https://elevate.example.com'));
  const db = await testDatabase(mkdtempSync(join(dir, 'host-')));
  const alice = issueToken(policyPath, db, 'alice');
  const server = await spawnServer({ policyPath, db, t });
  const p = server.port;

  for (const host of [
    `localhost:${p}`,
    'localhost',
    `127.0.0.1:${p}`,
    `[::1]:${p}`,
    'elevate.example.com',
    'ELEVATE.example.com:443',
    'app.localhost',
    `10.1.2.3:${p}`,
  ]) {
    assert.equal((await get(server, '/v1/me', host, alice)).status, 200, host);
  }
  for (const host of ['attacker.example', `attacker.example:${p}`, 'elevate.example.com.attacker.example', 'example.com', 'localhost.attacker.example', '']) {
    const r = await get(server, '/v1/me', host, alice);
    assert.equal(r.status, 421, `Host "${host}" must be refused`);
    assert.equal(r.body.error.code, 'invalid_request');
    assert.match(r.body.error.message, /does not answer to the host name/);
    assert.match(r.body.error.message, /server\.publicUrl/);
  }
  // nothing is served under a foreign name: not the event stream, not health, not the API document
  for (const path of ['/v1/events', '/healthz', '/openapi.json', '/v1/resources']) {
    assert.equal((await get(server, path, 'rebind.attacker.example', alice)).status, 421, path);
  }
  assert.equal((await get(server, '/v1/events', `localhost:${p}`, alice)).status, 200);
  await server.stop();
});

test('host_followsThePolicy_aReloadedPublicUrlIsServed_andTheOldOneNoLonger', { timeout: 60_000 }, async (t) => {
  const policyPath = writePolicy(dir, withPublicUrl('https://old.example.com'), 'reload.yaml');
  const server = await spawnServer({ policyPath, db: await testDatabase(mkdtempSync(join(dir, 'reload-'))), t });
  assert.equal((await get(server, '/healthz', 'old.example.com')).status, 200);
  assert.equal((await get(server, '/healthz', 'new.example.com')).status, 421);
  writeFileSync(policyPath, withPublicUrl('https://new.example.com'));
  server.proc.kill('SIGHUP');
  const end = Date.now() + 10_000;
  while ((await get(server, '/healthz', 'new.example.com')).status !== 200) {
    if (Date.now() > end) assert.fail('the reloaded publicUrl host was never served');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await get(server, '/healthz', 'old.example.com')).status, 421);
  await server.stop();
});

test('hostName_parsesPortsAndIpv6_andRefusesWhatIsNotAHost', () => {
  assert.equal(hostName('Example.COM:8443'), 'example.com');
  assert.equal(hostName('[::1]:7410'), '::1');
  assert.equal(hostName('example.com.'), 'example.com');
  for (const bad of ['', 'a b', 'user@host', 'host/path', '[zz]', 'host:port', 'host:123456']) assert.equal(hostName(bad), null, bad);
  assert.equal(isAllowedHost(undefined, []), false);
  assert.equal(isAllowedHost('evil.example', ['elevate.example.com']), false);
  assert.equal(isAllowedHost('elevate.example.com:8443', ['elevate.example.com']), true);
});
