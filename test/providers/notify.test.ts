// Approver notifications: a real Slack-compatible receiver on loopback gets signed payloads for
// new requests, break-glass use and failed revocations, each with a vscode:// link to the request.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, afterEach, before, test } from 'node:test';
import { type Elevate, grantVia, startElevate } from './helpers.js';

const SECRET = 'slack-signing-secret';
const SECRET_ENV = 'ELEVATE_TEST_SLACK_SECRET';
let server: Server;
let base: string;
interface Got {
  path: string;
  headers: IncomingHttpHeaders;
  body: { text: string; blocks: { text: { text: string } }[]; elevate: { event: string; requestId?: string; link?: string } };
  signatureOk: boolean;
}
let got: Got[] = [];
let failNext = 0;

before(async () => {
  process.env[SECRET_ENV] = SECRET;
  server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['elevate-signature'] ?? ''));
      const signatureOk = !!m && createHmac('sha256', SECRET).update(`${m[1]}.${raw}`).digest('hex') === m[2];
      got.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(raw), signatureOk });
      if (failNext > 0) {
        failNext--;
        return void res.writeHead(500).end();
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
const running: Elevate[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop();
  got = [];
  failNext = 0;
});

async function elevate() {
  const e = await startElevate(`
users: [{ id: alice, groups: [dev] }, { id: bob, groups: [dba] }]
resources:
  - id: prod-db
    name: Production database
    roles: [read, write]
    maxDuration: 4h
    breakGlass: true
    approval:
      approvers: [group:dba]
      autoApprove: [{ roles: [read], maxDuration: 30m }]
  - id: vm
    roles: [ssh]
    maxDuration: 1h
    approval: { approvers: [group:dba] }
    provider:
      type: command
      command: [${JSON.stringify(process.execPath)}, -e, "process.exit(process.env.ELEVATE_EVENT === 'revoke' ? 1 : 0)"]
notify:
  slack:
    - url: "${base}/hooks/approvers"
      secret: { env: ${SECRET_ENV} }
      events: [request.created, break_glass, grant.revoke_failed]
    - url: "${base}/hooks/security"
      events: [break_glass]
`);
  running.push(e);
  return e;
}
const request = (e: Elevate, body: Record<string, unknown>) => e.api('alice', 'POST', '/v1/requests', { justification: 'deploy <hotfix> & verify', ...body });

test('newRequest_isPostedSignedToApprovers_withAVscodeLinkToTheRequest', async () => {
  const e = await elevate();
  const r = await request(e, { resourceId: 'prod-db', role: 'write', durationSeconds: 3600 });
  assert.equal(r.status, 201);
  await e.settle();
  assert.equal(got.length, 1, 'only the target that wants request.created');
  const [n] = got;
  assert.equal(n.path, '/hooks/approvers');
  assert.equal(n.signatureOk, true);
  assert.equal(n.headers['content-type'], 'application/json');
  const link = `vscode://elevate.elevate/request?id=${r.body.request.id}`;
  assert.equal(n.body.elevate.event, 'request.created');
  assert.equal(n.body.elevate.link, link);
  assert.ok(n.body.text.includes(link), n.body.text);
  assert.match(n.body.text, /\*alice\* requests \*write\* on \*Production database\* for 1h/);
  assert.ok(n.body.text.includes('deploy &lt;hotfix&gt; &amp; verify'), 'user text is escaped for mrkdwn');
  assert.equal(n.body.blocks[0].text.text, n.body.text);
});

test('hostileUserText_cannotForgeLinesLinksOrMentionsInTheMessage', async () => {
  const e = await elevate();
  const justification = 'routine\n*Approved by carol* <https://evil.example|approve here>\r\n<!channel> @here';
  const r = await request(e, { resourceId: 'prod-db', role: 'write', durationSeconds: 3600, justification, ticket: 'OPS-1\n:white_check_mark: *Approved*' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await e.settle();
  const [n] = got;
  const lines = n.body.text.split('\n');
  // our line, the quoted justification (one quote line per line of it), our link line
  assert.match(
    lines[0],
    /^\*alice\* requests \*write\* on \*Production database\* for 1h \(ticket OPS-1 :white\u200b_check\u200b_mark: \u200b\*Approved\u200b\*\)$/,
  );
  assert.deepEqual(
    lines.slice(1, -1).map((l) => l.slice(0, 2)),
    ['> ', '> ', '> '],
  );
  assert.match(lines.at(-1)!, /^Open in VS Code: vscode:\/\/elevate\.elevate\/request\?id=/);
  assert.doesNotMatch(n.body.text, /<(?!!)|<!|\|approve here>/, 'no Slack link or mention syntax survives');
  assert.ok(n.body.text.includes('&lt;https://evil.example|approve here&gt;'));
  assert.ok(n.body.text.includes('&lt;!channel&gt; @\u2060here'));
  assert.equal((n.body.blocks[0].text as { verbatim?: boolean }).verbatim, true);
});

test('autoApprovedRequest_isNotAnnounced', async () => {
  const e = await elevate();
  const r = await request(e, { resourceId: 'prod-db', role: 'read', durationSeconds: 600 });
  assert.ok(r.body.grant, 'approved at once');
  await e.settle();
  assert.equal(got.length, 0);
});

test('breakGlass_goesToEveryTargetThatWantsIt', async () => {
  const e = await elevate();
  const r = await request(e, { resourceId: 'prod-db', role: 'write', durationSeconds: 600, breakGlass: true });
  assert.equal(r.status, 201);
  await e.settle();
  assert.deepEqual(got.map((g) => g.path).sort(), ['/hooks/approvers', '/hooks/security']);
  for (const g of got) {
    assert.equal(g.body.elevate.event, 'break_glass');
    assert.match(g.body.text, /Break-glass/);
    assert.ok(g.body.text.includes(`vscode://elevate.elevate/request?id=${r.body.request.id}`));
  }
  assert.equal(got.find((g) => g.path === '/hooks/security')!.headers['elevate-signature'], undefined, 'no secret, no signature');
});

test('failedRevocation_isAnnounced_withALinkToTheGrantsRequest', async () => {
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'vm', 'ssh');
  got = []; // the request itself was announced
  await e.api('bob', 'POST', `/v1/grants/${grant.id}/revoke`, { reason: 'done' });
  await e.settle();
  await e.settle();
  const n = got.find((g) => g.body.elevate.event === 'grant.revoke_failed');
  assert.ok(n, JSON.stringify(got.map((g) => g.body.elevate)));
  assert.equal(n.signatureOk, true);
  assert.match(n.body.text, /Revocation failed/);
  assert.ok(n.body.text.includes(`vscode://elevate.elevate/request?id=${grant.requestId}`));
});

test('delivery_whenTheReceiverFails_isRetriedWithTheSameIdempotencyKey', async () => {
  failNext = 1;
  const e = await elevate();
  await request(e, { resourceId: 'prod-db', role: 'write', durationSeconds: 3600 });
  await e.settle();
  assert.equal(got.length, 1);
  await e.advance(1_500);
  assert.equal(got.length, 2);
  assert.equal(got[0].headers['elevate-idempotency-key'], got[1].headers['elevate-idempotency-key']);
  await e.advance(10_000);
  assert.equal(got.length, 2, 'delivered: not sent again');
});
