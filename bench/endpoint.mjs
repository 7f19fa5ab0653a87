#!/usr/bin/env node
// One endpoint under load, for profiling a fix before the full bench: a fresh server (pinned like
// the bench's), a 1 s warm-up, 6 s of 16 connections, then req/s and latency. Not a benchmark of
// record (no baseline); `npm run bench` is.
//   node bench/endpoint.mjs bare|healthz|me|check|post|approve [--cpu-prof DIR]
// `bare` serves B_bare's check under the same pinning, for a ratio in the same minute.
// `--cpu-prof` writes a V8 profile of the server (bench/lib/profile-top.mjs reads it). V8 charges
// the time spent inside native calls (SQLite, row decoding) to the JS caller, so for "how much
// is SQLite" use perf on the server process instead, with JIT symbols:
//   NODE_OPTIONS=--perf-basic-prof node bench/endpoint.mjs post &
//   sleep 4; perf record -F 4000 -g -p "$(pgrep -f 'dist/server.js start')" -- sleep 3
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addTokens, craftPending, ROOT, writePolicy } from './lib/fixtures.mjs';
import { freePort, LOAD_CORE, run, SERVER_CORE, start, stop, waitHttp } from './lib/proc.mjs';

const ENDPOINTS = ['bare', 'healthz', 'me', 'check', 'post', 'approve'];
const what = process.argv[2];
if (!ENDPOINTS.includes(what)) {
  process.stderr.write(`usage: node bench/endpoint.mjs ${ENDPOINTS.join('|')} [--cpu-prof DIR]\n`);
  process.exit(2);
}
const profDir = process.argv.includes('--cpu-prof') ? process.argv[process.argv.indexOf('--cpu-prof') + 1] : null;

/** utime + stime of a process in clock ticks (100/s on Linux), NaN where /proc is missing */
function cpuTicks(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'elevate-endpoint-'));
try {
  const policy = join(tmp, 'policy.json');
  writePolicy(policy);
  mkdirSync(join(tmp, 'db'));
  const db = join(tmp, 'db', 'elevate.db');
  // BENCH_SERVER: another build's server.js (an older commit's, to compare in the same minute)
  const SERVER = process.env.BENCH_SERVER ?? join(ROOT, 'dist/server.js');
  await run(process.execPath, [SERVER, 'token', 'issue', 'admin', '--config', policy, '--db', db], { env: { ELEVATE_LOG_LEVEL: 'warn' } });
  const [svc] = addTokens(db, 'svc', 1);
  const [approver] = addTokens(db, 'approver', 1);
  const [u0] = addTokens(db, 'u0', 1);
  const [u1] = addTokens(db, 'u1', 1);
  const pending = what === 'approve' ? craftPending(db, 8000, 'u2') : [];

  const port = await freePort();
  const prof = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${what}.cpuprofile`] : [];
  const serverArgs =
    what === 'bare' ? [join(ROOT, 'bench/baselines/bare.mjs'), String(port)] : [SERVER, 'start', '--config', policy, '--db', db, '--port', String(port)];
  const child = start(process.execPath, [...prof, ...serverArgs], { core: SERVER_CORE, logFile: join(tmp, 'server.log') });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(`${url}/healthz`, { child });
    const json = (token) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
    const body = { resourceId: 'auto', role: 'read', durationSeconds: 3600, justification: 'bench: investigating a slow query' };
    // u0 holds a grant, so the check finds one
    if (what !== 'bare') await fetch(`${url}/v1/requests`, { method: 'POST', headers: json(u0), body: JSON.stringify(body) });
    const timed = { connections: 16, duration: 6, warmupSeconds: 1 };
    const cfg = {
      bare: { url: `${url}/check`, ...timed },
      healthz: { url: `${url}/healthz`, ...timed },
      me: { url: `${url}/v1/me`, headers: { authorization: `Bearer ${svc}` }, ...timed },
      check: { url: `${url}/v1/check?userId=u0&resourceId=auto&role=read`, headers: { authorization: `Bearer ${svc}` }, ...timed },
      post: { url: `${url}/v1/requests`, method: 'POST', headers: json(u1), body, ...timed },
      approve: {
        url,
        method: 'POST',
        headers: json(approver),
        body: { comment: 'ok' },
        connections: 16,
        paths: pending.map((id) => `/v1/requests/${id}/approve`),
      },
    }[what];
    writeFileSync(join(tmp, 'load.json'), JSON.stringify(cfg));
    const cpu0 = cpuTicks(child.pid);
    const l = await run(process.execPath, [join(ROOT, 'bench/lib/load-worker.mjs'), join(tmp, 'load.json')], { core: LOAD_CORE, timeoutMs: 120_000 });
    const cpuMs = (cpuTicks(child.pid) - cpu0) * 10;
    if (l.code !== 0) throw new Error(`load generator failed: ${l.stderr.slice(-500)}`);
    const r = JSON.parse(l.stdout.trim().split('\n').at(-1));
    // server CPU per request is steadier than req/s on a shared machine (the warm-up is counted
    // in the CPU but not in the requests, so it slightly overstates)
    const perReq = Number.isNaN(cpuMs) ? '' : `, server CPU ${((cpuMs * 1000) / r.requests).toFixed(0)} µs/req`;
    process.stdout.write(`${what}: ${Math.round(r.rps)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.ok}/${r.requests} 2xx${perReq}\n`);
  } finally {
    await stop(child);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
