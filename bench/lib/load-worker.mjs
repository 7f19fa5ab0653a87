// Load generator child: runs autocannon (programmatic API) with the JSON config file argv[2] and
// prints one JSON line with throughput and exact latency percentiles (autocannon's own histogram
// has 1 ms resolution; the p99 targets are a few ms, so every response time is kept here).
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));

/** the instant the last response of a run arrived (see `secs` below) */
let lastResponseAt = 0;

function once(opts, record) {
  return new Promise((resolve, reject) => {
    const lat = [];
    const statuses = {};
    const inst = autocannon({ ...opts }, (err, res) => (err ? reject(err) : resolve({ res, lat, statuses })));
    inst.on('response', (_client, status, _bytes, ms) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (record) lat.push(ms);
      lastResponseAt = performance.now();
    });
  });
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null);

const base = {
  url: cfg.url,
  connections: cfg.connections ?? 16,
  pipelining: 1,
  method: cfg.method ?? 'GET',
  headers: cfg.headers ?? {},
  ...(cfg.body !== undefined && { body: typeof cfg.body === 'string' ? cfg.body : JSON.stringify(cfg.body) }),
  ...(cfg.overallRate && { overallRate: cfg.overallRate }),
  timeout: cfg.timeout ?? 10,
};
if (cfg.paths) {
  // one request per path, each used once (e.g. approving distinct requests)
  let i = 0;
  base.requests = [{ setupRequest: (req) => ({ ...req, path: cfg.paths[i++ % cfg.paths.length] }) }];
  base.amount = cfg.paths.length;
} else if (cfg.pathCycle) {
  let i = 0;
  base.requests = [{ setupRequest: (req) => ({ ...req, path: cfg.pathCycle[i++ % cfg.pathCycle.length] }) }];
}

// cfg.urls: several servers (replicas) at once, the connections dealt round robin (16 over three:
// 6, 5, 5), one autocannon instance per server; the figures are the totals over all of them
const targets = cfg.urls ?? [cfg.url];
if (cfg.urls && (cfg.paths || cfg.amount || cfg.overallRate)) throw new Error('urls cannot be combined with paths, amount or overallRate');
const split = (opts) =>
  targets
    .map((url, i) => ({ ...opts, url, connections: Math.floor(opts.connections / targets.length) + (i < opts.connections % targets.length ? 1 : 0) }))
    .filter((o) => o.connections > 0);
async function all(opts, record) {
  const parts = await Promise.all(split(opts).map((o) => once(o, record)));
  const sum = (k) => parts.reduce((n, p) => n + (p.res[k]?.total ?? p.res[k] ?? 0), 0);
  const statuses = {};
  for (const p of parts) for (const [s, c] of Object.entries(p.statuses)) statuses[s] = (statuses[s] ?? 0) + c;
  return { res: { requests: { total: sum('requests') }, errors: sum('errors'), timeouts: sum('timeouts') }, lat: parts.flatMap((p) => p.lat), statuses };
}

if (cfg.warmupSeconds && !cfg.paths) await all({ ...base, duration: cfg.warmupSeconds }, false);
const run = cfg.paths ? { ...base } : { ...base, ...(cfg.amount ? { amount: cfg.amount } : { duration: cfg.duration ?? 5 }) };
const t0 = performance.now();
const { res, lat, statuses } = await all(run, true);
// A run of a fixed number of requests (paths, amount) lasts until its last response: autocannon
// notices it is done only at its next 1 s tick, which made 5,000 approvals taking 2.1 s or 2.9 s
// both read as 3.04 s (1,646 req/s), and 2.0 s as 2.04 s (2,445).
const secs = ((run.amount ? lastResponseAt : performance.now()) - t0) / 1000;
lat.sort((a, b) => a - b);
const ok = Object.entries(statuses)
  .filter(([s]) => s[0] === '2')
  .reduce((n, [, c]) => n + c, 0);
process.stdout.write(
  JSON.stringify({
    rps: ok / Math.max(secs, 1e-9),
    requests: res.requests.total,
    ok,
    statuses,
    errors: res.errors,
    timeouts: res.timeouts,
    seconds: secs,
    p50: pct(lat, 50),
    p90: pct(lat, 90),
    p99: pct(lat, 99),
    max: lat.at(-1) ?? null,
  }) + '\n',
);
