// Soak: steady moderate load plus 200 live event-stream clients that keep connecting and
// disconnecting, for ELEVATE_SOAK_SECONDS (60 by default; `npm run test:soak` runs 600). No error
// responses, memory flat (RSS at start, middle, end), no file-descriptor growth.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rmSync } from 'node:fs';
import { onPostgres } from '../helpers/backend.js';
import { buildServer } from '../helpers/server.js';
import { auditVerify, call, fdCount, pick, report, rnd, rssBytes, sleep, startServer, stateAuditProblems, withSql, workspace } from './lib.js';

const SECONDS = Number(process.env.ELEVATE_SOAK_SECONDS ?? 60);
const STREAMS = 200;
const WORKERS = 4;
const MB = 1024 * 1024;

test(`soak_${SECONDS}s_loadAnd${STREAMS}EventStreams_noErrors_flatMemory_noFdGrowth`, async (t) => {
  buildServer();
  const ws = await workspace('soak');
  t.after(() => rmSync(ws.dir, { recursive: true, force: true }));
  const server = await startServer(ws, { t });
  const pid = server.proc.pid!;
  await sleep(500);
  const idleFds = fdCount(pid);
  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  const errors: string[] = [];
  let requests = 0;
  let connects = 0;
  let eventsSeen = 0;
  const fail = (what: string) => errors.length < 20 && errors.push(what);

  const ok = async (who: string, method: string, path: string, body?: unknown, want = [200, 201]) => {
    const r = await call(server.url, ws.tokens[who], method, path, body);
    requests++;
    if (!want.includes(r.status)) fail(`${method} ${path} as ${who}: ${r.status} ${r.text.slice(0, 200)}`);
    return r;
  };

  const load = Array.from({ length: WORKERS }, async () => {
    while (Date.now() < deadline) {
      const who = pick(['alice', 'dave']);
      const r = await ok(who, 'POST', '/v1/requests', { resourceId: 'staging-db', role: 'read', durationSeconds: rnd(5, 40), justification: 'soak' });
      if (r.status === 201) {
        const g = r.body.grant.id as string;
        if (Math.random() < 0.5) await ok(who, 'POST', `/v1/grants/${g}/extend`, { durationSeconds: 60 });
        await ok('svc', 'GET', `/v1/check?userId=${who}&resourceId=staging-db&role=read`);
        if (Math.random() < 0.5) await ok(who, 'POST', `/v1/grants/${g}/relinquish`);
      }
      await ok(who, 'GET', '/v1/grants?status=active');
      await ok(who, 'GET', '/v1/requests');
      await ok('bob', 'GET', '/v1/requests?scope=reviewable');
      await sleep(rnd(20, 80));
    }
  });

  const streams = Array.from({ length: STREAMS }, async (_, i) => {
    await sleep((i * 1000) / STREAMS); // ramp up over a second
    while (Date.now() < deadline) {
      const ac = new AbortController();
      const who = pick(['alice', 'dave', 'bob', 'carol']);
      try {
        const res = await fetch(`${server.url}/v1/events`, { headers: { authorization: `Bearer ${ws.tokens[who]}` }, signal: ac.signal });
        connects++;
        if (res.status !== 200) {
          fail(`events as ${who}: ${res.status}`);
          await res.body?.cancel();
          continue;
        }
        const reader = res.body!.getReader();
        const until = Date.now() + rnd(500, 5000);
        const timer = setTimeout(() => ac.abort(), until - Date.now());
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            eventsSeen += (
              Buffer.from(value)
                .toString()
                .match(/^event: /gm) ?? []
            ).length;
          }
        } catch {
          /* aborted on purpose */
        } finally {
          clearTimeout(timer);
        }
        if (Date.now() < until - 100 && Date.now() < deadline) fail(`events as ${who}: stream ended early`);
      } catch (e) {
        if (!ac.signal.aborted) fail(`events as ${who}: ${(e as Error).message}`);
      }
    }
  });

  const samples: { s: number; rss: number; fds: number }[] = [];
  const sampler = (async () => {
    await sleep(Math.min(5000, SECONDS * 100));
    while (Date.now() < deadline) {
      samples.push({ s: Math.round((Date.now() - started) / 1000), rss: rssBytes(pid), fds: fdCount(pid) });
      await sleep(Math.max(1000, (SECONDS * 1000) / 30));
    }
  })();

  await Promise.all([...load, ...streams, sampler]);
  // idle keep-alive sockets close after the server's 5 s keep-alive timeout; give them that long
  const settleStart = Date.now();
  while (fdCount(pid) > idleFds + 10 && Date.now() - settleStart < 10_000) await sleep(250);
  const settleMs = Date.now() - settleStart;
  const endFds = fdCount(pid);
  const endRss = rssBytes(pid);
  await server.stop();

  const first = samples[0];
  const middle = samples[Math.floor(samples.length / 2)];
  const last = samples[samples.length - 1];
  const { problems, grants } = await withSql(ws.db, async (db) => ({
    problems: await stateAuditProblems(db),
    grants: (await db.get<{ n: number }>('SELECT count(*) AS n FROM grants'))!.n,
  }));
  const verify = auditVerify(ws.db);
  const figures = {
    backend: onPostgres ? 'postgres' : 'sqlite',
    seconds: SECONDS,
    requests,
    requestsPerSecond: Math.round(requests / SECONDS),
    streamConnects: connects,
    eventsSeen,
    grants,
    rssMB: {
      start: +(first.rss / MB).toFixed(1),
      middle: +(middle.rss / MB).toFixed(1),
      end: +(last.rss / MB).toFixed(1),
      afterClients: +(endRss / MB).toFixed(1),
    },
    fds: { idle: idleFds, start: first.fds, middle: middle.fds, end: last.fds, afterClients: endFds, settleMs },
    errors: errors.length,
  };
  report('soak', figures);
  assert.deepEqual(errors, [], 'no error responses');
  assert.ok(connects >= STREAMS * 2, `streams reconnected (${connects})`);
  assert.ok(last.rss <= first.rss * 1.3 + 32 * MB, `RSS grew from ${figures.rssMB.start} MB to ${figures.rssMB.end} MB`);
  assert.ok(endFds <= idleFds + 10, `file descriptors: ${idleFds} idle at start, ${endFds} after the clients left`);
  assert.ok(last.fds <= first.fds + 50, `file descriptors under the same load grew from ${first.fds} to ${last.fds}`);
  assert.deepEqual(problems, []);
  assert.equal(verify.code, 0, verify.out);
});
