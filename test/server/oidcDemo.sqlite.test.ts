// SQLite only by construction: the demo keeps its data in its own SQLite files, whatever the suite.
// `elevate-server demo --with-oidc` and `elevate-server user disable`, as real processes: the
// bundled CLI starts the demo IdP and the server, a browser signs in as a demo user, and the
// operator's disable command (another process) ends the session on the running server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, field, formAction } from '../helpers/browser.js';
import { DeviceAuthorizationResponse, DeviceTokenResponse } from '../../server/protocol/auth.js';
import { SERVER_JS, buildServer, cleanEnv, cli, freePort, tempDir } from '../helpers/server.js';

let dir: string;
let proc: ChildProcess;
let out = '';
let url: string;
let port: number;

before(async () => {
  buildServer();
  // the demo listens on --port and its IdP on the next port: another process on this shared
  // machine may take either after freePort() looked, so a start that finds one taken is retried
  for (let attempt = 1; ; attempt++) {
    dir = tempDir('elevate-oidc-demo-');
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    out = '';
    proc = spawn(process.execPath, [SERVER_JS, 'demo', '--with-oidc', '--port', String(port)], {
      cwd: dir,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => proc.once('exit', r));
    let i = 0;
    while (!out.includes('Stop with Ctrl+C') && proc.exitCode === null && i++ < 300) await new Promise((r) => setTimeout(r, 100));
    if (out.includes('Stop with Ctrl+C')) return;
    if (proc.exitCode === null) throw new Error(`demo did not start:\n${out}`);
    await exited;
    if (!out.includes('EADDRINUSE') || attempt === 3) throw new Error(`demo exited:\n${out}`);
    rmSync(dir, { recursive: true, force: true });
  }
});

after(async () => {
  if (proc.exitCode === null) {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

async function signInAs(user: string, password: string): Promise<string> {
  const d = DeviceAuthorizationResponse.parse(await fetch(`${url}/v1/auth/device`, form({ client_name: 'test' })).then((r) => r.json()));
  const b = new Browser();
  const page = await b.browse(d.verification_uri_complete);
  const confirm = await b.request(
    'POST',
    `${url}/auth/device`,
    { user_code: field(page.text, 'user_code'), csrf: field(page.text, 'csrf') },
    { origin: url, 'sec-fetch-site': 'same-origin' },
  );
  const login = await b.browse(new URL(confirm.headers.get('location')!, url).href);
  const done = await b.submit(formAction(login.text, login.url), { username: user, password });
  assert.equal(done.status, 200, done.text);
  assert.match(done.text, new RegExp(`Signed in as <strong>${user}</strong>`));
  const t = DeviceTokenResponse.parse(
    await fetch(`${url}/v1/auth/token`, form({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: d.device_code })).then((r) => r.json()),
  );
  return t.access_token;
}

const me = (token: string) => fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });

test('demoWithOidc_printsTheDemoUsers_andKeepsTheClientSecretOutOfThePolicy', () => {
  assert.match(out, new RegExp(`Sign-in through the demo identity provider at http://127.0.0.1:${port + 1}`));
  assert.match(out, /alice\s+password alice-demo\s+\(engineering, developers\)/);
  const policy = readFileSync(join(dir, '.elevate/demo-oidc-policy.yaml'), 'utf8');
  assert.match(policy, /clientSecret:\s+file: .*demo-oidc-client-secret/);
  assert.equal(statSync(join(dir, '.elevate/demo-oidc-client-secret')).mode & 0o777, 0o600);
});

test('demoWithOidc_aNewcomerSignsInThroughTheBrowser_andCanRequestAccess', async () => {
  const token = await signInAs('alice', 'alice-demo');
  const r = await me(token);
  assert.equal(r.status, 200);
  const body = (await r.json()) as { user: { groups: string[] } };
  assert.deepEqual(body.user.groups, ['developers', 'engineering']);
  const req = await fetch(`${url}/v1/requests`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ resourceId: 'prod-db', role: 'read', durationSeconds: 900, justification: 'look at the slow query' }),
  });
  assert.equal(req.status, 201, await req.text());
});

test('userDisable_fromAnotherProcess_endsTheSessionOnTheRunningServer_andIsAudited', async () => {
  const token = await signInAs('dave', 'dave-demo');
  assert.equal((await me(token)).status, 200);
  const r = cli(['user', 'disable', 'dave', '--db', '.elevate/demo.db', '--reason', 'left the team'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /disabled dave; revoked \d+ token\(s\)/);
  // the server hears of another process's commit (SQLite: its data_version poll, every 500 ms)
  // and reads the user.disabled event from the log: from then on the token is refused
  const deadline = Date.now() + 5000;
  let status = (await me(token)).status;
  while (status !== 401 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    status = (await me(token)).status;
  }
  assert.equal(status, 401);
  const exported = cli(['audit', 'export', '--format', 'jsonl', '--db', '.elevate/demo.db'], { cwd: dir });
  const disabled = exported.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((e) => e.action === 'user.disabled');
  assert.equal(disabled.length, 1);
  assert.equal(disabled[0].details.reason, 'left the team');
  const again = cli(['user', 'disable', 'dave', '--db', '.elevate/demo.db'], { cwd: dir });
  assert.match(again.stderr, /dave was already disabled; revoked 0 token\(s\)/);
});

test('userDisable_withoutAnId_isAUsageError', () => {
  const r = cli(['user', 'disable', '--db', '.elevate/demo.db'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /user disable: give the user id/);
});
