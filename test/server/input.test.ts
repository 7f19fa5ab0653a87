// Bad input gets a clear 4xx with the one error shape, never a 5xx; nothing is half-written and
// the server keeps serving (rule 5). Also the command line's handling of bad configuration.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  access,
  buildServer,
  cli,
  cleanEnv,
  freePort,
  http,
  makeServer,
  SERVER_JS,
  ROOT,
  spawnServer,
  tempDir,
  writePolicy,
  type Reply,
  type TestServer,
} from '../helpers/server.js';
import { spawn } from 'node:child_process';
import { testDatabase } from '../helpers/backend.js';

let s: TestServer;
let requestId: string;
let grantId: string;
before(async () => {
  s = await makeServer();
  const r = await s.call('alice', 'POST', '/v1/requests', access('prod-db', 'read', 600));
  requestId = r.body.request.id;
  const g = await s.call('alice', 'POST', '/v1/requests', access('staging-db', 'read', 600));
  grantId = g.body.grant.id;
});
after(async () => {
  await s?.close();
});

const counts = async () => ({ requests: await s.sql.count('requests'), grants: await s.sql.count('grants'), approvals: await s.sql.count('approvals') });

function assertClientError(r: Reply, what: string, status?: number, code?: string) {
  assert.ok(r.status >= 400 && r.status < 500, `${what}: expected 4xx, got ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  const e = r.body?.error;
  assert.ok(
    e && typeof e.code === 'string' && typeof e.message === 'string' && e.message.length > 0,
    `${what}: error shape: ${JSON.stringify(r.body).slice(0, 300)}`,
  );
  if (e.details !== undefined) assert.ok(Array.isArray(e.details), `${what}: details is a list`);
  if (status !== undefined) assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
  if (code !== undefined) assert.equal(e.code, code, what);
}

/** A raw call: any body bytes, any headers. */
async function raw(
  method: string,
  path: string,
  body: string | Uint8Array | ReadableStream<Uint8Array> | undefined,
  headers: Record<string, string>,
  user: string | null = 'alice',
): Promise<Reply> {
  const h: Record<string, string> = { ...(user && { authorization: `Bearer ${s.tokens[user]}` }), ...headers };
  const res = await s.services.app.request(path, { method, headers: h, body, ...(body instanceof ReadableStream && { duplex: 'half' }) } as RequestInit);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* keep */
  }
  return { status: res.status, body: parsed as any, headers: res.headers };
}
const json = { 'content-type': 'application/json' };

describe('bad input over HTTP', () => {
  test('malformedJson_is400', async () => {
    const before = await counts();
    for (const body of ['{"resourceId":', '{', 'nope', '{"a":1,}', "{'a':1}", '\u0000', '{"resourceId":"prod-db"} trailing']) {
      assertClientError(await raw('POST', '/v1/requests', body, json), `body ${JSON.stringify(body)}`, 400, 'invalid_request');
    }
    assert.deepEqual(await counts(), before);
  });

  test('jsonThatIsNotAnObject_is400', async () => {
    for (const body of ['[]', '"text"', 'null', '42', 'true', '[{"resourceId":"prod-db"}]']) {
      assertClientError(await raw('POST', '/v1/requests', body, json), `body ${body}`, 400, 'invalid_request');
      assertClientError(await raw('POST', `/v1/grants/${grantId}/extend`, body, json), `extend ${body}`, 400, 'invalid_request');
    }
  });

  test('wrongTypesMissingAndUnknownFields_are400_namingEachField', async () => {
    const before = await counts();
    const good = access('prod-db', 'read', 600);
    const cases: [Record<string, unknown>, string[]][] = [
      [{ ...good, durationSeconds: '600' }, ['body.durationSeconds']],
      [{ ...good, durationSeconds: 6.5 }, ['body.durationSeconds']],
      [{ ...good, durationSeconds: -1 }, ['body.durationSeconds']],
      [{ ...good, durationSeconds: 0 }, ['body.durationSeconds']],
      [{ ...good, durationSeconds: true }, ['body.durationSeconds']],
      [{ ...good, durationSeconds: null }, ['body.durationSeconds']],
      [{ ...good, resourceId: 42 }, ['body.resourceId']],
      [{ ...good, resourceId: '' }, ['body.resourceId']],
      [{ ...good, justification: null }, ['body.justification']],
      [{ ...good, justification: '' }, ['body.justification']],
      [{ ...good, breakGlass: 'yes' }, ['body.breakGlass']],
      [{ ...good, ticket: 7 }, ['body.ticket']],
      [{ ...good, isAdmin: true }, ['body']],
      [{}, ['body.resourceId', 'body.role', 'body.durationSeconds', 'body.justification']],
      [{ resourceId: 7, role: [], durationSeconds: {}, justification: 1 }, ['body.resourceId', 'body.role', 'body.durationSeconds', 'body.justification']],
    ];
    for (const [body, fields] of cases) {
      const r = await s.call('alice', 'POST', '/v1/requests', body);
      assertClientError(r, JSON.stringify(body), 400, 'invalid_request');
      const paths = (r.body.error.details as { path: string }[]).map((d) => d.path);
      for (const f of fields)
        assert.ok(
          paths.some((p) => p === f || p.startsWith(`${f}.`) || (f === 'body' && p.startsWith('body'))),
          `${JSON.stringify(body)}: details ${JSON.stringify(paths)} should name ${f}`,
        );
    }
    assertClientError(await s.call('alice', 'POST', `/v1/grants/${grantId}/extend`, { durationSeconds: 60, extra: 1 }), 'extend unknown field', 400);
    assertClientError(await s.call('bob', 'POST', `/v1/requests/${requestId}/approve`, { comment: 5 }), 'approve comment type', 400);
    assertClientError(await s.call('bob', 'POST', `/v1/requests/${requestId}/deny`, { reason: ['x'] }), 'deny reason type', 400);
    assertClientError(await s.call('bob', 'POST', `/v1/grants/${grantId}/revoke`, {}), 'revoke without reason', 400);
    assert.deepEqual(await counts(), before);
  });

  test('hugeNumbers_are400', async () => {
    for (const n of ['1e400', '1e308', '9007199254740993', '-0', '315360001', '1.0000000000000002', '1e-400']) {
      const body = `{"resourceId":"prod-db","role":"read","durationSeconds":${n},"justification":"x"}`;
      const r = await raw('POST', '/v1/requests', body, json);
      assertClientError(r, `durationSeconds ${n}`);
      const ext = await raw('POST', `/v1/grants/${grantId}/extend`, `{"durationSeconds":${n}}`, json);
      assertClientError(ext, `extend ${n}`);
    }
    for (const q of ['limit=1e309', 'limit=99999999999999999999', 'limit=-1', 'limit=abc', 'limit=1.5', 'limit=']) {
      assertClientError(await s.call('carol', 'GET', `/v1/grants?scope=all&${q}`), q, 400);
      assertClientError(await s.call('carol', 'GET', `/v1/audit?${q}`), `audit ${q}`, 400);
    }
  });

  test('nulBytes_areRefusedWith4xx_inBodiesPathsAndQueries', async () => {
    const before = await counts();
    for (const field of ['resourceId', 'role', 'justification', 'ticket']) {
      const body = { ...access('payments', 'read', 600, { ticket: 'T-1' }), [field]: 'a\u0000b' };
      assertClientError(await s.call('alice', 'POST', '/v1/requests', body), `NUL in ${field}`, 400);
    }
    assertClientError(await s.call('bob', 'POST', `/v1/requests/${requestId}/deny`, { reason: 'x\u0000' }), 'NUL in reason', 400);
    assertClientError(await s.call('alice', 'GET', '/v1/requests/req%00x'), 'NUL in path id');
    assertClientError(await s.call('alice', 'POST', '/v1/grants/grt%00x/relinquish'), 'NUL in path id (POST)');
    assertClientError(await s.call('svc', 'GET', '/v1/check?userId=alice%00&resourceId=prod-db&role=read'), 'NUL in query', 400);
    assertClientError(await s.call('carol', 'GET', '/v1/audit?actorId=%00'), 'NUL in audit filter', 400);
    assert.deepEqual(await counts(), before);
  });

  test('unknownIds_are404_andOverlongOrOddIds_are4xx', async () => {
    for (const id of ['req_nope', 'grt_nope', '%F0%9F%92%A3', '..%2F..%2Fetc%2Fpasswd', "1' OR '1'='1", 'x'.repeat(200)]) {
      for (const [method, path, body] of [
        ['GET', `/v1/requests/${id}`],
        ['POST', `/v1/requests/${id}/approve`, {}],
        ['POST', `/v1/requests/${id}/deny`, { reason: 'x' }],
        ['POST', `/v1/requests/${id}/cancel`],
        ['GET', `/v1/grants/${id}`],
        ['POST', `/v1/grants/${id}/extend`, { durationSeconds: 60 }],
        ['POST', `/v1/grants/${id}/relinquish`],
        ['POST', `/v1/grants/${id}/revoke`, { reason: 'x' }],
      ] as [string, string, unknown?][]) {
        const r = await s.call('carol', method, path, body);
        assertClientError(r, `${method} ${path}`, 404, 'not_found');
      }
    }
    assertClientError(await s.call('carol', 'GET', `/v1/requests/${'x'.repeat(201)}`), 'overlong id', 400);
    assertClientError(await s.call('alice', 'POST', '/v1/requests', access('no-such-resource', 'read', 60)), 'unknown resource');
    assertClientError(await s.call('carol', 'GET', '/v1/nope'), 'unknown route', 404, 'not_found');
    assertClientError(await s.call('carol', 'DELETE', `/v1/requests/${requestId}`), 'unknown method', 404);
    assertClientError(await s.call('carol', 'PUT', '/v1/requests'), 'unknown method', 404);
  });

  test('wrongContentType_is400_andNothingIsCreated', async () => {
    const before = await counts();
    const body = JSON.stringify(access('prod-db', 'read', 600));
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', '']) {
      const r = await raw('POST', '/v1/requests', body, type ? { 'content-type': type } : {});
      assertClientError(r, `content-type ${type || '(none)'}`, 400, 'invalid_request');
    }
    assertClientError(
      await raw('POST', '/v1/requests', 'resourceId=prod-db&role=read', { 'content-type': 'application/x-www-form-urlencoded' }),
      'form body',
      400,
    );
    assert.deepEqual(await counts(), before);
  });

  test('invalidUtf8_is4xx', async () => {
    const bytes = new Uint8Array([
      ...Buffer.from('{"resourceId":"prod-db","role":"read","durationSeconds":60,"justification":"'),
      0xff,
      0xfe,
      0xc3,
      ...Buffer.from('"}'),
    ]);
    const r = await raw('POST', '/v1/requests', bytes, json);
    // either refused, or decoded with replacement characters and accepted: never a 5xx
    assert.ok(r.status < 500, `${r.status} ${JSON.stringify(r.body)}`);
  });

  test('hugeBodies_are413_withOrWithoutContentLength', async () => {
    const before = await counts();
    const big = JSON.stringify(access('prod-db', 'read', 600, { justification: 'x'.repeat(1024 * 1024) }));
    assertClientError(await raw('POST', '/v1/requests', big, json), '1 MiB', 413, 'payload_too_large');
    // streamed without a length
    const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent === 0) c.enqueue(new TextEncoder().encode('{"justification":"'));
        if (sent++ < 10) c.enqueue(chunk);
        else c.close();
      },
    });
    assertClientError(await raw('POST', '/v1/requests', stream, { ...json, 'transfer-encoding': 'chunked' }), 'chunked 160 KiB', 413, 'payload_too_large');
    assertClientError(await raw('POST', `/v1/grants/${grantId}/extend`, big, json), 'extend 1 MiB', 413);
    assertClientError(await raw('POST', `/v1/requests/${requestId}/approve`, big, json, 'bob'), 'approve 1 MiB', 413);
    assert.deepEqual(await counts(), before);
  });

  test('deepNesting_is400_notAStackOverflow', async () => {
    for (const depth of [100, 5000, 30000]) {
      const nested = '['.repeat(depth) + ']'.repeat(depth);
      const obj = '{"a":'.repeat(Math.min(depth, 10000)) + '1' + '}'.repeat(Math.min(depth, 10000));
      assertClientError(
        await raw('POST', '/v1/requests', `{"resourceId":${nested},"role":"read","durationSeconds":60,"justification":"x"}`, json),
        `array depth ${depth}`,
        400,
      );
      assertClientError(
        await raw('POST', '/v1/requests', `{"resourceId":"prod-db","role":"read","durationSeconds":60,"justification":"x","x":${obj}}`, json),
        `object depth ${depth}`,
        400,
      );
    }
  });

  test('prototypePollutionKeys_areRefused_andPolluteNothing', async () => {
    const before = await counts();
    for (const body of [
      '{"__proto__":{"admin":true},"resourceId":"prod-db","role":"read","durationSeconds":60,"justification":"x"}',
      '{"constructor":{"prototype":{"admin":true}},"resourceId":"prod-db","role":"read","durationSeconds":60,"justification":"x"}',
      '{"resourceId":"prod-db","role":"read","durationSeconds":60,"justification":"x","__proto__":{"breakGlass":true}}',
    ]) {
      assertClientError(await raw('POST', '/v1/requests', body, json), body, 400, 'invalid_request');
      assertClientError(await raw('POST', `/v1/grants/${grantId}/extend`, '{"durationSeconds":60,"__proto__":{"x":1}}', json), 'extend __proto__', 400);
    }
    assert.equal(({} as Record<string, unknown>).admin, undefined);
    assert.equal(({} as Record<string, unknown>).breakGlass, undefined);
    assert.deepEqual(await counts(), before);
    const q = await s.call('carol', 'GET', '/v1/grants?scope=all&__proto__[admin]=1&constructor=x');
    assert.ok(q.status < 500);
  });

  test('badQueryValues_are400', async () => {
    for (const path of [
      '/v1/requests?scope=everything',
      '/v1/requests?status=approvedish',
      '/v1/grants?status=alive',
      '/v1/grants?scope=all&cursor=%%%',
      '/v1/grants?scope=all&cursor=' + 'a'.repeat(300),
      '/v1/audit?from=2026-13-45T99:00:00Z',
      '/v1/audit?to=tomorrow',
      '/v1/requests?dryRun=maybe',
      '/v1/check?userId=alice',
      '/v1/check',
    ]) {
      const method = path.includes('dryRun') ? 'POST' : 'GET';
      const r = await s.call(path.startsWith('/v1/check') ? 'svc' : 'carol', method, path, method === 'POST' ? access('prod-db', 'read', 60) : undefined);
      assertClientError(r, path, 400, 'invalid_request');
    }
  });

  test('oddAuthorizationHeaders_are401', async () => {
    for (const h of [
      'Bearer',
      'Bearer ',
      `Bearer ${'x'.repeat(10_000)}`,
      'Basic YWxpY2U6cGFzcw==',
      `bearer  ${s.tokens.alice}`,
      `Bearer ${s.tokens.alice} extra`,
      `Bearer ${s.tokens.alice}\u0000`,
      'Bearer elv_\u00e9',
    ]) {
      let r: Reply;
      try {
        r = await raw('GET', '/v1/me', undefined, { authorization: h }, null);
      } catch {
        continue; // the Headers API itself refuses some values: nothing reaches the server
      }
      assertClientError(r, `authorization ${JSON.stringify(h.slice(0, 40))}`, 401, 'unauthenticated');
    }
  });

  test('randomJsonBodies_onEveryPostRoute_neverGetA5xx', async () => {
    const routes = [
      '/v1/requests',
      '/v1/requests?dryRun=true',
      `/v1/requests/${requestId}/approve`,
      `/v1/requests/${requestId}/deny`,
      `/v1/grants/${grantId}/extend`,
      `/v1/grants/${grantId}/revoke`,
    ];
    const field = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 2 }));
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record({ resourceId: field, role: field, durationSeconds: field, justification: field, ticket: field, breakGlass: field }, { requiredKeys: [] }),
      fc.record({ durationSeconds: field, justification: field, comment: field, reason: field }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.constantFrom('alice', 'bob', 'carol'), body, async (route, user, b) => {
        const r = await s.call(user, 'POST', route, JSON.stringify(b));
        assert.ok(r.status < 500, `${user} POST ${route} ${JSON.stringify(b).slice(0, 200)} → ${r.status} ${JSON.stringify(r.body)}`);
        if (r.status >= 400) assertClientError(r, route);
      }),
      { numRuns: 300 },
    );
    assert.equal((await s.store.read((tx) => tx.audit.verify())).ok, true);
  });

  test('afterAllThat_theServerKeepsServing', async () => {
    assert.equal((await s.call('alice', 'GET', '/v1/me')).status, 200);
    const r = await s.call('dave', 'POST', '/v1/requests', access('staging-db', 'read', 60));
    assert.equal(r.status, 201);
    assert.equal((await s.store.read((tx) => tx.audit.verify())).ok, true);
  });
});

describe('bad input over a real socket', () => {
  test('malformedHttpAndBadBodies_doNotKillTheServer', { timeout: 60_000 }, async (t) => {
    buildServer();
    const dir = tempDir('elevate-input-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const db = await testDatabase(dir);
    const srv = await spawnServer({ policyPath: writePolicy(dir), db, t });
    const token = cli(['token', 'issue', 'alice', '--config', join(dir, 'elevate.yaml'), ...db.args]).stdout.trim();
    const { connect } = await import('node:net');
    const send = (payload: string) =>
      new Promise<string>((ok) => {
        const sock = connect(srv.port, '127.0.0.1');
        let out = '';
        sock.on('data', (d) => (out += d));
        sock.on('close', () => ok(out));
        sock.on('error', () => ok(out));
        sock.end(payload);
        setTimeout(() => sock.destroy(), 3000);
      });
    const replies = [
      await send('GARBAGE\r\n\r\n'),
      await send(
        `POST /v1/requests HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"a":1,"b":2}`,
      ),
      await send(
        `POST /v1/requests HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":`,
      ),
      await send(
        `POST /v1/requests HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{}`,
      ),
      await send(`GET /v1/me HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n${'X-Pad: ' + 'p'.repeat(8000) + '\r\n'}\r\n`),
    ];
    for (const r of replies) assert.ok(!/^HTTP\/1\.1 5\d\d/.test(r), r.slice(0, 200));
    assert.match(replies[3], /^HTTP\/1\.1 413/, 'Content-Length over the limit');
    const me = await http(srv.url, token, 'GET', '/v1/me');
    assert.equal(me.status, 200);
  });
});

describe('command line', () => {
  let dir: string;
  before(() => {
    buildServer();
    dir = tempDir('elevate-cli-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  /** a database of its own for each command-line test, on the suite's backend */
  const freshDb = () => testDatabase(mkdtempSync(join(dir, 'db-')));

  const INVALID = `
users:
  - id: alice
    groups: developers
  - id: alice
resources:
  - id: prod-db
    roles: [read]
    maxDuration: forever
    requireTicekt: true
  - id: k8s
    roles: [view]
    maxDuration: 1h
    defaultDuration: 2h
    approval:
      approvers: [user:nobody]
`;

  test('checkConfig_onAnInvalidFile_exits1_listingEveryProblemWithItsPath', () => {
    const p = writePolicy(dir, INVALID, 'bad.yaml');
    const r = cli(['check-config', '--config', p]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    for (const expected of [
      /users\[0\]\.groups: expected a list/,
      /users\[1\]\.id: duplicate id "alice"/,
      /resources\[0\]\.maxDuration: /,
      /resources\[0\]\.requireTicekt: unknown key/,
      /resources\[1\]\.defaultDuration: .*exceeds maxDuration/,
      /resources\[1\]\.approval\.approvers\[0\]: unknown user "nobody"/,
    ]) {
      assert.match(r.stderr, expected);
    }
    assert.ok(r.stderr.trim().split('\n').length >= 6);
  });

  test('checkConfig_onAValidFile_exits0', () => {
    const r = cli(['check-config', '--config', writePolicy(dir)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ok \(8 users, 6 resources\)/);
  });

  test('checkConfig_onAMissingOrEmptyFile_exits1', () => {
    assert.equal(cli(['check-config', '--config', join(dir, 'missing.yaml')]).code, 1);
    assert.equal(cli(['check-config', '--config', writePolicy(dir, '', 'empty.yaml')]).code, 1);
    assert.equal(cli(['check-config', '--config', writePolicy(dir, 'users: [', 'broken.yaml')]).code, 1);
  });

  test('start_withAnInvalidFile_refusesToStart_listingTheProblems', async () => {
    const p = writePolicy(dir, INVALID, 'bad-start.yaml');
    const port = await freePort();
    const r = cli(['start', '--config', p, ...(await freshDb()).args, '--port', String(port)], { timeoutMs: 20_000 });
    assert.equal(r.signal, null, 'it exits by itself rather than starting');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /requireTicekt: unknown key/);
    assert.match(r.stderr, /duplicate id "alice"/);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
  });

  test('tokenIssue_printsTheTokenAloneOnStdout', async () => {
    const p = writePolicy(dir);
    const db = (await freshDb()).args;
    const r = cli(['token', 'issue', 'alice', '--config', p, ...db, '--ttl', '1h']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^elv_[A-Za-z0-9_-]{43}\n$/);
    assert.match(r.stderr, /tok_\S+/);
    assert.match(r.stderr, /expires \d{4}-\d\d-\d\dT/);
    const list = cli(['token', 'list', ...db]);
    assert.ok(!list.stdout.includes(r.stdout.trim()), 'the token itself is never listed');
    const unknown = cli(['token', 'issue', 'mallory', '--config', p, ...db]);
    assert.notEqual(unknown.code, 0);
    assert.equal(unknown.stdout, '');
    const badTtl = cli(['token', 'issue', 'alice', '--config', p, ...db, '--ttl', 'soon']);
    assert.notEqual(badTtl.code, 0);
    assert.equal(badTtl.stdout, '');
  });

  test('start_onANonLoopbackHostWithoutTls_isRefused', async () => {
    const p = writePolicy(dir);
    const port = await freePort();
    const db = (await freshDb()).args;
    const r = cli(['start', '--config', p, ...db, '--port', String(port), '--host', '0.0.0.0'], { timeoutMs: 20_000 });
    assert.equal(r.signal, null, 'it exits by itself rather than starting');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0/);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
    // ELEVATE_HOST is refused the same way
    const viaEnv = cli(['start', '--config', p, ...db, '--port', String(port)], { env: { ELEVATE_HOST: '0.0.0.0' }, timeoutMs: 20_000 });
    assert.notEqual(viaEnv.code, 0);
    assert.match(viaEnv.stderr, /refusing to listen/);
  });

  test('start_onANonLoopbackHostWithInsecureListen_starts', async (t) => {
    const p = writePolicy(dir);
    const srv = await spawnServer({ policyPath: p, db: await freshDb(), args: ['--host', '0.0.0.0', '--insecure-listen'], t });
    assert.equal((await http(srv.url, null, 'GET', '/healthz')).status, 200);
    await srv.stop();
  });

  test('emptyElevateEnvironmentVariables_fallBackToTheDefaults', async () => {
    const p = writePolicy(dir);
    const port = await freePort();
    const child = spawn(process.execPath, [SERVER_JS, 'start', '--config', p, ...(await freshDb()).args, '--port', String(port)], {
      cwd: ROOT,
      env: cleanEnv({ ELEVATE_HOST: '' }),
      stdio: 'ignore',
    });
    try {
      let healthy = false;
      for (let i = 0; i < 100 && child.exitCode === null; i++) {
        try {
          healthy = (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
          if (healthy) break;
        } catch {
          /* not yet */
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(healthy, `exited with ${child.exitCode}`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
