// Live events over a real HTTP server on loopback: each caller gets only what concerns them,
// approvers hear about requests (break glass included), Last-Event-ID resumes exactly (also
// across a restart), a revoked token's stream is closed, and the bytes on the wire are valid HTTP.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { access, loggedEvents, makeServer, MIN, type TestServer, openTestStore } from '../helpers/server.js';
import { EVENT_WAIT_MS, openEvents, type SseEvent, type SseStream } from '../helpers/sse.js';
import { Tokens } from '../../server/engine/tokens.js';
import type { AccessRequest } from '../../server/protocol/index.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function setup() {
  const s = await makeServer({ options: { heartbeatMs: 100 } });
  cleanup.push(() => s.close());
  const { url } = await s.listen();
  const streams: Record<string, SseStream> = {};
  const connect = async (user: string, lastEventId?: number | string) => {
    const st = await openEvents(url, s.tokens[user], lastEventId);
    cleanup.push(() => st.close());
    assert.equal(st.status, 200);
    return st;
  };
  return { s, url, streams, connect };
}

async function post(s: TestServer, user: string, path: string, body?: unknown, status = 200) {
  const r = await s.call(user, 'POST', path, body);
  assert.equal(r.status, status, `${user} POST ${path}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Every stream receives policy.reloaded; events arrive in order, so after it nothing earlier is still in flight. */
async function barrier(s: TestServer, streams: SseStream[]): Promise<void> {
  await s.services.reload(s.policy, { barrier: true });
  await Promise.all(streams.map((st) => st.waitFor((e) => e.event === 'policy.reloaded', EVENT_WAIT_MS, 'policy.reloaded')));
}

const summary = (events: SseEvent[]) =>
  events
    .filter((e) => e.event !== 'policy.reloaded')
    .map((e) => `${e.event} ${e.data.request?.requesterId ?? e.data.grant?.userId}:${e.data.request?.resourceId ?? e.data.grant?.resourceId}`);

describe('live events', () => {
  test('events_areFilteredPerCaller_withNoLeakOfOtherUsersEvents', async () => {
    const { s, connect } = await setup();
    const users = ['alice', 'dave', 'bob', 'erin', 'frank', 'carol', 'audrey', 'svc'];
    const st: Record<string, SseStream> = {};
    for (const u of users) st[u] = await connect(u);

    const { request: aliceReq } = await post(s, 'alice', '/v1/requests', access('prod-db', 'read', 600), 201);
    await post(s, 'dave', '/v1/requests', access('incident', 'admin', 600, { breakGlass: true }), 201);
    await post(s, 'bob', `/v1/requests/${aliceReq.id}/approve`, {});
    await post(s, 'dave', '/v1/requests', access('staging-db', 'read', 600), 201);
    await barrier(s, Object.values(st));

    const got = Object.fromEntries(users.map((u) => [u, summary(st[u].events)]));
    assert.deepEqual(got, {
      alice: ['request.created alice:prod-db', 'request.approved alice:prod-db', 'grant.activated alice:prod-db'],
      dave: [
        'request.created dave:incident',
        'request.approved dave:incident',
        'grant.activated dave:incident',
        'request.created dave:staging-db',
        'request.approved dave:staging-db',
        'grant.activated dave:staging-db',
      ],
      // approvers get the requests of their resources and the life of its grants (they may revoke them)
      bob: [
        'request.created alice:prod-db',
        'request.approved alice:prod-db',
        'grant.activated alice:prod-db',
        'request.created dave:staging-db',
        'request.approved dave:staging-db',
        'grant.activated dave:staging-db',
      ],
      erin: ['request.created dave:incident', 'request.approved dave:incident', 'grant.activated dave:incident'],
      frank: ['request.created dave:incident', 'request.approved dave:incident', 'grant.activated dave:incident'],
      carol: [
        'request.created alice:prod-db',
        'request.created dave:incident',
        'request.approved dave:incident',
        'grant.activated dave:incident',
        'request.approved alice:prod-db',
        'grant.activated alice:prod-db',
        'request.created dave:staging-db',
        'request.approved dave:staging-db',
        'grant.activated dave:staging-db',
      ],
      audrey: [],
      svc: [],
    });
    // ids are audit seqs, increasing
    for (const u of users) {
      const ids = st[u].events.map((e) => Number(e.id));
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
        u,
      );
      assert.equal(new Set(ids).size, ids.length, `${u}: duplicate ids`);
    }
  });

  test('breakGlass_requestCreated_isAnnouncedToApproversAndAdminsWithTheFlag', async () => {
    const { s, connect } = await setup();
    const erin = await connect('erin');
    const carol = await connect('carol');
    const bob = await connect('bob');
    const { request } = await post(s, 'dave', '/v1/requests', access('incident', 'admin', 600, { breakGlass: true, justification: 'outage' }), 201);
    for (const st of [erin, carol]) {
      const e = await st.waitFor((x) => x.event === 'request.created' && x.data.request?.id === request.id);
      assert.equal(e.data.type, 'request.created');
      assert.equal(e.data.request.breakGlass, true);
      assert.equal(e.data.request.justification, 'outage');
    }
    await barrier(s, [erin, carol, bob]);
    assert.deepEqual(summary(bob.events), []);
  });

  test('grantExpiring_andGrantExpired_reachTheOwnerLive', async () => {
    const { s, connect } = await setup();
    const alice = await connect('alice');
    const { grant } = await post(s, 'alice', '/v1/requests', access('staging-db', 'read', 600), 201);
    await s.advance(5 * MIN);
    const warn = await alice.waitFor((e) => e.event === 'grant.expiring');
    assert.equal(warn.data.secondsLeft, 300);
    assert.equal(warn.data.grant.id, grant.id);
    await s.advance(5 * MIN);
    const done = await alice.waitFor((e) => e.event === 'grant.expired');
    assert.equal(done.data.grant.status, 'expired');
    assert.deepEqual(
      summary(alice.events).map((x) => x.split(' ')[0]),
      ['request.created', 'request.approved', 'grant.activated', 'grant.expiring', 'grant.expiring', 'grant.expired'],
    );
  });

  test('lastEventId_resumesExactlyAfterTheGivenEvent_withOnlyTheCallersEvents', async () => {
    const { s, connect } = await setup();
    const first = await connect('alice');
    const { request } = await post(s, 'alice', '/v1/requests', access('prod-db', 'read', 600), 201);
    await post(s, 'alice', `/v1/requests/${request.id}/cancel`);
    await first.waitFor((e) => e.event === 'request.cancelled');
    const lastSeen = Number(first.events.at(-1)!.id);
    first.close();
    await first.ended;

    // while alice is away: her own events, and others' that she must not get
    await post(s, 'dave', '/v1/requests', access('staging-db', 'read', 600), 201);
    const { grant } = await post(s, 'alice', '/v1/requests', access('staging-db', 'read', 600), 201);
    await post(s, 'alice', `/v1/grants/${grant.id}/relinquish`);

    const again = await connect('alice', lastSeen);
    await again.waitFor((e) => e.event === 'grant.relinquished');
    // and live events continue on the same stream
    await post(s, 'alice', '/v1/requests', access('prod-db', 'write', 600), 201);
    await again.waitFor((e) => e.event === 'request.created' && e.data.request.role === 'write');
    assert.deepEqual(summary(again.events), [
      'request.created alice:staging-db',
      'request.approved alice:staging-db',
      'grant.activated alice:staging-db',
      'grant.relinquished alice:staging-db',
      'request.created alice:prod-db',
    ]);
    const ids = again.events.map((e) => Number(e.id));
    assert.ok(ids.every((id) => id > lastSeen));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );
    // replayed events carry the same payload shape as live ones
    assert.equal(again.events[0].data.request.requesterId, 'alice');
  });

  test('lastEventId_aheadOfTheLogsHead_resumesFromTheHead_andLiveEventsFlow', async () => {
    // e.g. the database was restored from a backup older than the client's last event
    const { s, url } = await setup();
    const head = (await s.store.read((tx) => tx.audit.head())).seq;
    const raw = await fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${s.tokens.alice}`, 'last-event-id': String(head + 1000) } });
    const reader = raw.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, new RegExp(`^id: ${head}\\n\\n`), 'the resume point moves back to the head');
    await reader.cancel();
    const ahead = await openEvents(url, s.tokens.alice, head + 1000);
    cleanup.push(() => ahead.close());
    await post(s, 'alice', '/v1/requests', access('prod-db', 'read', 600), 201);
    const created = await ahead.waitFor((e) => e.event === 'request.created', EVENT_WAIT_MS, 'a live event after a future Last-Event-ID');
    assert.ok(Number(created.id) > head && Number(created.id) < head + 1000);
  });

  test('replay_sendsTheSameBytesAsTheLiveStream_theStateAsItWasWhenEachEventCommitted', async () => {
    const { s, url, connect } = await setup();
    const live = await connect('alice');
    const from = (await s.store.read((tx) => tx.audit.head())).seq;
    const { request } = await post(s, 'alice', '/v1/requests', access('prod-db', 'read', 600), 201);
    await post(s, 'bob', `/v1/requests/${request.id}/approve`, { comment: 'ok' });
    await live.waitFor((e) => e.event === 'grant.activated');
    const rawEvents = async (lastId: number): Promise<string> => {
      const res = await fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${s.tokens.alice}`, 'last-event-id': String(lastId) } });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes(': connected')) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      return text;
    };
    const replayed = await rawEvents(from);
    for (const e of live.events) {
      assert.ok(replayed.includes(`id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`), `replay of ${e.event} differs from the live event`);
    }
    // and the replayed request.created still says "pending", as it was when it committed
    assert.equal(live.events[0].data.request.status, 'pending');
  });

  test('tokenRevokedByAnotherProcess_endsItsStreams_fromTheLog_notAtTheNextHeartbeat', async (t) => {
    // another store on the same database stands for the CLI: the server hears of its commit
    // (SQLite: data_version), the hub follows the log and ends the revoked token's streams
    const s = await makeServer({ options: { heartbeatMs: 600_000 } });
    t.after(() => s.close());
    const { url } = await s.listen();
    const { token, info } = await s.services.tokens.issue('alice', { actorId: 'test' });
    const doomed = await openEvents(url, token);
    const other = await openEvents(url, s.tokens.alice);
    t.after(() => (doomed.close(), other.close()));
    // the server's group commit goes first (in one process, the CLI's wait for the lock would block it)
    await s.store.transaction(async () => {});
    const cli = await openTestStore(s.db, { role: 'cli' });
    t.after(() => cli.close());
    await new Tokens(cli, s.clock).revoke([info.id], 'cli', 'test');
    await Promise.race([doomed.ended, new Promise((_, fail) => setTimeout(() => fail(new Error("the revoked token's stream is still open")), 10_000))]);
    assert.equal(other.isEnded(), false, "the same user's other token keeps its stream");
  });

  test('lastEventId_resumesAcrossARestart', async () => {
    const { s, url } = await setup();
    const st = await openEvents(url, s.tokens.alice);
    cleanup.push(() => st.close());
    await post(s, 'alice', '/v1/requests', access('staging-db', 'read', 600), 201);
    await st.waitFor((e) => e.event === 'grant.activated');
    const last = Number(st.events.at(-1)!.id);
    await s.restart();
    await st.ended; // a restart ends open streams
    const { grant } = (await post(s, 'alice', '/v1/requests', access('staging-db', 'write', 600), 201)) as any;
    assert.equal(grant, undefined);
    const again = await openEvents(url, s.tokens.alice, last);
    cleanup.push(() => again.close());
    const e = await again.waitFor((x) => x.event === 'request.created');
    assert.equal(e.data.request.role, 'write');
    assert.ok(Number(e.id) > last);
  });

  test('lastEventId_afterMoreThanOneReplayPage_losesNoEvent', async () => {
    const { s, url } = await setup();
    // 1,080 events about alice, 30 requests at a time to keep this quick (SQLite: a group commit
    // each; PostgreSQL: concurrent transactions within the connection pool's wait limit)
    const actor = { user: s.policy.users.get('alice')!, tokenId: s.tokenIds.alice };
    for (let i = 0; i < 360; i += 30) {
      await Promise.all(Array.from({ length: 30 }, (_, k) => s.services.engine.createRequest(actor, access('staging-db', 'read', 60 + i + k))));
    }
    const streamed = new Set(['request.created', 'request.approved', 'grant.activated']);
    const expected = (await loggedEvents(s)).filter((e) => e.storedSubjectId === 'alice' && streamed.has(e.action)).map((e) => e.seq);
    assert.ok(expected.length > 1000);
    // a client that stays connected, and reconnects from its last id only when the server ends the stream
    const got: number[] = [];
    let last = 0;
    let liveSeq = 0;
    const deadline = Date.now() + 10_000;
    for (let round = 0; Date.now() < deadline; round++) {
      const st = await openEvents(url, s.tokens.alice, last);
      cleanup.push(() => st.close());
      if (round === 0) {
        await new Promise((r) => setTimeout(r, 500)); // let the replay arrive, then something happens live
        const live = await post(s, 'alice', '/v1/requests', access('prod-db', 'read', 60), 201);
        liveSeq = (await loggedEvents(s, { action: 'request.created', requestId: live.request.id }))[0].seq;
        expected.push(liveSeq);
      }
      await Promise.race([st.ended, st.waitFor((e) => Number(e.id) === liveSeq, 5000).catch(() => undefined)]);
      st.close();
      for (const e of st.events) if (Number(e.id) > last) got.push(Number(e.id));
      if (got.length) last = got[got.length - 1];
      if (got.includes(liveSeq)) break;
    }
    const missing = expected.filter((x) => !got.includes(x));
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} events never delivered`);
  });

  test('lastEventId_farBehind_isReplayedInBoundedSlices_thatAdvanceTheResumePoint', async () => {
    const { s, url } = await setup();
    // 6,000 events that concern nobody but bob, then one about alice
    for (let i = 0; i < 6000; i++) {
      s.services.batcher.add({
        at: s.clock.now(),
        actorId: 'svc',
        action: 'access.checked',
        resourceId: 'staging-db',
        subjectId: 'bob',
        details: { userId: 'bob', role: 'read', allowed: false },
      });
    }
    await s.services.batcher.flush();
    const mine = await post(s, 'alice', '/v1/requests', access('prod-db', 'read', 60), 201);
    const read = async (lastId: number) => {
      const res = await fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${s.tokens.alice}`, 'last-event-id': String(lastId) } });
      const text = await Promise.race([res.text(), new Promise<string>((r) => setTimeout(() => r('(still open)'), EVENT_WAIT_MS))]);
      return text;
    };
    // the first slice reads at most 5,000 rows, sends nothing of bob's, and ends with an id-only frame
    const first = await read(0);
    const m = /^id: (\d+)\nretry: 0$/m.exec(first);
    assert.ok(m, `expected an id-only frame and retry: 0, got ${first.slice(0, 300)}`);
    assert.ok(!first.includes('access.checked'));
    // resuming from there reaches alice's own event
    const second = await openEvents(url, s.tokens.alice, Number(m[1]));
    cleanup.push(() => second.close());
    await second.waitFor((e) => e.data?.request?.id === mine.request.id, EVENT_WAIT_MS, "alice's request.created");
  });

  test('aRevokedToken_hasItsStreamClosed_andCannotOpenANewOne', async () => {
    const { s, url, connect } = await setup();
    const alice = await connect('alice');
    const dave = await connect('dave');
    await s.services.tokens.revoke([s.tokenIds.alice], 'test', 'lost laptop');
    await Promise.race([
      alice.ended,
      new Promise((_, fail) => setTimeout(() => fail(new Error(`stream still open ${EVENT_WAIT_MS} ms after revocation`)), EVENT_WAIT_MS)),
    ]);
    assert.equal(dave.isEnded(), false, 'other streams stay open');
    const again = await openEvents(url, s.tokens.alice);
    cleanup.push(() => again.close());
    assert.equal(again.status, 401);
  });

  test('aUserRemovedByReload_hasTheirStreamClosedAtOnce', async () => {
    const { s, connect } = await setup();
    const alice = await connect('alice');
    const dave = await connect('dave');
    const { policyOf } = await import('../helpers/server.js');
    const { TEST_POLICY } = await import('../helpers/policy.js');
    const next = policyOf(TEST_POLICY.replace(/  - id: alice\n    name: Alice Liddell\n    groups: \[developers\]\n/, ''));
    s.policy = next;
    await s.services.reload(next, {});
    await Promise.race([alice.ended, new Promise((_, fail) => setTimeout(() => fail(new Error('stream still open after reload')), 1000))]);
    await dave.waitFor((e) => e.event === 'policy.reloaded');
    assert.equal(dave.isEnded(), false);
  });

  test('onTheWire_theStreamIsValidChunkedHttp11_orPlainForHttp10_andEndsProperly', async () => {
    const { s, url } = await setup();
    const { hostname, port } = new URL(url);
    /** A raw GET /v1/events as alice; resolves with everything received once the server ends the response. */
    const rawStream = (version: '1.0' | '1.1') => {
      const sock = tcpConnect(Number(port), hostname);
      cleanup.push(() => void sock.destroy());
      const chunks: Buffer[] = [];
      let seen = '';
      const waiters: { re: RegExp; done: () => void }[] = [];
      sock.on('data', (d: Buffer) => {
        chunks.push(d);
        seen += d.toString('latin1');
        for (const w of waiters.splice(0)) {
          if (w.re.test(seen)) w.done();
          else waiters.push(w);
        }
      });
      const ended = new Promise<Buffer>((resolve) => sock.on('close', () => resolve(Buffer.concat(chunks))));
      // HTTP/1.1 keeps the connection after the last chunk: ask the server to close it then
      sock.write(`GET /v1/events HTTP/${version}\r\nHost: ${hostname}\r\nAuthorization: Bearer ${s.tokens.alice}\r\nConnection: close\r\n\r\n`);
      const waitFor = (re: RegExp) =>
        new Promise<void>((done, fail) => {
          if (re.test(seen)) return done();
          waiters.push({ re, done });
          setTimeout(() => fail(new Error(`HTTP/${version}: no ${re} in ${JSON.stringify(seen.slice(-300))}`)), EVENT_WAIT_MS);
        });
      return { waitFor, ended };
    };
    const http11 = rawStream('1.1');
    const http10 = rawStream('1.0');
    await http11.waitFor(/: connected\n\n/);
    await http10.waitFor(/: connected\n\n/);
    // not ASCII: a chunk's size counts bytes, not characters
    const justification = 'Prüfung der Abfragen — naïve ✓ 日本語';
    const { request } = await post(s, 'alice', '/v1/requests', access('prod-db', 'read', 600, { justification }), 201);
    await http11.waitFor(/event: request\.created\n/);
    await http10.waitFor(/event: request\.created\n/);
    await s.services.tokens.revoke([s.tokenIds.alice], 'test', 'end the streams');
    const [raw11, raw10] = await Promise.all([http11.ended, http10.ended]);

    /** The body of a chunked response, checking every chunk's size line and CRLF and the last chunk. */
    const dechunk = (body: Buffer): string => {
      const parts: Buffer[] = [];
      for (let at = 0; ;) {
        const eol = body.indexOf('\r\n', at);
        assert.ok(eol > at, `a chunk size line at byte ${at}`);
        const size = parseInt(body.subarray(at, eol).toString('latin1'), 16);
        assert.ok(Number.isInteger(size), `chunk size ${JSON.stringify(body.subarray(at, eol).toString('latin1'))}`);
        const start = eol + 2;
        if (size === 0) {
          assert.equal(body.subarray(start).toString('latin1'), '\r\n', 'the last chunk, then nothing');
          return Buffer.concat(parts).toString('utf8');
        }
        parts.push(body.subarray(start, start + size));
        assert.equal(body.subarray(start + size, start + size + 2).toString('latin1'), '\r\n', `CRLF after the chunk at byte ${start}`);
        at = start + size + 2;
      }
    };
    const split = (raw: Buffer) => {
      const h = raw.indexOf('\r\n\r\n');
      return { head: raw.subarray(0, h).toString('latin1'), body: raw.subarray(h + 4) };
    };
    const r11 = split(raw11);
    assert.match(r11.head, /^HTTP\/1\.1 200 /);
    assert.match(r11.head, /\r\ntransfer-encoding: chunked/i);
    const r10 = split(raw10);
    assert.match(r10.head, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(r10.head, /transfer-encoding/i, 'an HTTP/1.0 client gets the body as is, ended by the close');
    // heartbeats run per connection, so only those may differ between the two
    const bodies = [dechunk(r11.body), r10.body.toString('utf8')].map((b) => b.replaceAll(': ping\n\n', ''));
    for (const body of bodies) {
      assert.ok(body.startsWith(': connected\n\n'), JSON.stringify(body.slice(0, 80)));
      const ev = /id: (\d+)\nevent: request\.created\ndata: (.*)\n\n/.exec(body);
      assert.ok(ev, JSON.stringify(body));
      assert.equal(JSON.parse(ev[2]).request.id, request.id);
      assert.equal(JSON.parse(ev[2]).request.justification, justification);
    }
    assert.equal(bodies[0], bodies[1], 'both clients got the same stream');
  });

  test('aClientThatStopsReading_isDroppedOnceAMegabyteWaitsForIt_whileOthersKeepTheirStream', async () => {
    const { s, url, connect } = await setup();
    const reader = await connect('carol'); // an admin who keeps reading
    const { hostname, port } = new URL(url);
    const stuck = tcpConnect(Number(port), hostname);
    cleanup.push(() => void stuck.destroy());
    let seen = '';
    await new Promise<void>((connected) => {
      const opening = (d: Buffer) => {
        seen += d.toString('latin1');
        if (!seen.includes(': connected')) return;
        stuck.off('data', opening);
        stuck.pause(); // ... and reads nothing more
        connected();
      };
      stuck.on('data', opening);
      stuck.write(`GET /v1/events HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${s.tokens.carol}\r\n\r\n`);
    });
    const closed = new Promise<void>((done) => stuck.on('close', () => done()));
    assert.equal(s.services.hub.size, 2);
    // events of 100 KB each, straight into the hub, until the stuck stream is dropped: the kernel's
    // socket buffers fill first, then a megabyte queues in the server
    const at = new Date().toISOString();
    let n = 0;
    for (; n < 500 && s.services.hub.size === 2; n++) {
      const request = { id: `req_big${n}`, justification: 'x'.repeat(100_000) } as unknown as AccessRequest;
      const live = JSON.stringify({ type: 'request.created', at, request });
      s.services.hub.publish([{ seq: 1_000_000 + n, action: 'request.created', actorId: 'system', resourceId: null, subjectId: null, live }]);
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(s.services.hub.size, 1, `the stuck stream is still subscribed after ${n} events of 100 KB`);
    stuck.on('data', () => {}).resume(); // what reached it before the drop, then the end
    await Promise.race([closed, new Promise((_, fail) => setTimeout(() => fail(new Error('the dropped connection is still open')), 5000))]);
    await reader.waitFor((e) => e.data.request?.id === `req_big${n - 1}`, 10_000, 'the last big event');
    assert.equal(reader.isEnded(), false, 'the reading client keeps its stream');
  });

  test('noOrBadToken_is401WithoutAStream', async () => {
    const { url } = await setup();
    for (const token of [null, 'elv_' + 'x'.repeat(43), 'garbage']) {
      const st = await openEvents(url, token);
      cleanup.push(() => st.close());
      assert.equal(st.status, 401, String(token));
      await st.ended;
      assert.deepEqual(st.events, []);
    }
  });
});
