// Load generator child: runs autocannon (programmatic API) with the JSON config file argv[2] and
// prints one JSON line with throughput and exact latency percentiles (autocannon's own histogram
// has 1 ms resolution; the p99 targets are a few ms, so every response time is kept here).
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));

function once(opts, record) {
  return new Promise((resolve, reject) => {
    const lat = [];
    const statuses = {};
    const inst = autocannon({ ...opts }, (err, res) => (err ? reject(err) : resolve({ res, lat, statuses })));
    inst.on('response', (_client, status, _bytes, ms) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (record) lat.push(ms);
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

if (cfg.warmupSeconds && !cfg.paths) await once({ ...base, duration: cfg.warmupSeconds }, false);
const run = cfg.paths ? { ...base } : { ...base, ...(cfg.amount ? { amount: cfg.amount } : { duration: cfg.duration ?? 5 }) };
const t0 = performance.now();
const { res, lat, statuses } = await once(run, true);
const secs = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const ok = Object.entries(statuses).filter(([s]) => s[0] === '2').reduce((n, [, c]) => n + c, 0);
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
