// Runs an extension's Mocha suite inside code-server's REAL Node extension host, the way VS Code's own
// browser integration tests do: the workbench URL carries a "payload" with extensionDevelopmentPath and
// extensionTestsPath, the extension host's console is forwarded to window.codeAutomationLog, and the
// workbench calls window.codeAutomationExit(code) when the suite's run() settles.
// Needs code-server started with `--vscode-option enable-smoke-test-driver` (startCodeServer does that
// here); without it a built workbench ignores those payload keys and the run just times out.
//
// Usage: node test/harness/exthost.mjs --dev <extensionDevelopmentPath> --tests <extensionTestsPath>
//          [--folder <workspace>] [--user-data-dir <dir>] [--extensions-dir <dir>] [--env <json>]
//          [--timeout <ms>] [--log <code-server log path>]
// Exit code: the extension host's (0 = all passed), 124 on time limit, 2 on harness failure.
import { parseArgs } from 'node:util';
import { format } from 'node:util';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startCodeServer, launchBrowser, newContext, openWorkbench, remoteUri, screenshot, tempDir, log } from './codeServer.mjs';

const { values: o } = parseArgs({
  options: {
    dev: { type: 'string' },
    tests: { type: 'string' },
    folder: { type: 'string' },
    'user-data-dir': { type: 'string' },
    'extensions-dir': { type: 'string' },
    env: { type: 'string' },
    timeout: { type: 'string' },
    log: { type: 'string' },
  },
});
if (!o.dev || !o.tests) {
  console.error('exthost: --dev and --tests are required');
  process.exit(2);
}
const timeoutMs = +(o.timeout || process.env.ELEVATE_EXTHOST_TIMEOUT_MS || 300000);

// Workbench chatter that is expected offline and says nothing about the tests.
const NOISE =
  /^\[(AgentHost|ChatModelSelection|AccountPolicyGate|reconnection-grace-time|Service Worker)|^(Resolving|Resolved) connection token|^Creating a socket|^Creation of workbench contribution|authentication provider 'github'|^Updating additional builtin extensions cache|open-vsx\.org|marketplace|update\.code\.visualstudio|vscode-sync|Failed to fetch|ERR_NAME_NOT_RESOLVED|ERR_INTERNET_DISCONNECTED/i;

let server,
  browser,
  folderToRemove,
  exitCode = 2;
try {
  let folder = o.folder;
  if (!folder) {
    folder = folderToRemove = tempDir('elevate-ws-');
  }
  mkdirSync(folder, { recursive: true });
  if (!existsSync(o.tests)) throw new Error(`extensionTestsPath ${o.tests} does not exist`);

  server = await startCodeServer({
    smokeTestDriver: true,
    userDataDir: o['user-data-dir'],
    extensionsDir: o['extensions-dir'],
    logPath: o.log,
    name: 'code-server-exthost',
  });
  const payload = [
    ['extensionDevelopmentPath', remoteUri(server.url, o.dev)],
    ['extensionTestsPath', remoteUri(server.url, o.tests)],
    ['skipWelcome', 'true'],
    ...(o.env ? [['extensionEnvironment', o.env]] : []),
  ];

  let result = null,
    finish;
  const done = new Promise((r) => (finish = r));
  browser = await launchBrowser();
  const context = await newContext(browser);
  const page = await openWorkbench(context, server.url, folder, {
    payload,
    wait: false,
    expose: {
      codeAutomationLog: (_type, args) => {
        const line = format(...(args || []));
        const m = /EXTHOST-RESULT passed=(\d+) failed=(\d+)(?: pending=(\d+))?/.exec(line);
        if (m) result = { passed: +m[1], failed: +m[2], pending: +(m[3] || 0) };
        if (!NOISE.test(line)) console.log(line);
      },
      codeAutomationExit: (code) => finish(code),
    },
  });
  page.on('pageerror', (e) => {
    if (!NOISE.test(e.message)) log('pageerror:', e.message.split('\n')[0]);
  });
  log(`workbench opened; waiting for the extension host's test run (limit ${timeoutMs / 1000}s)`);
  let timer;
  const code = await Promise.race([done, new Promise((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)))]);
  clearTimeout(timer);
  if (code === 'timeout') {
    const shot = await screenshot(page, 'exthost-timeout').catch(() => null);
    log(`TIMEOUT: the extension host did not finish within ${timeoutMs / 1000}s${shot ? `; screenshot ${shot}` : ''}`);
    exitCode = 124;
  } else {
    exitCode = typeof code === 'number' ? code : 1;
    log(`extension host exit code: ${exitCode}`);
  }
  if (result) console.log(`EXTHOST-RESULT passed=${result.passed} failed=${result.failed} pending=${result.pending}`);
  else log('no EXTHOST-RESULT line: the test runner did not report (load error, or run() not exported?)');
  if (exitCode !== 0) log(`code-server log: ${server.logPath}`);
} catch (e) {
  log('harness failure:', e.stack || e.message);
  exitCode = exitCode || 2;
} finally {
  await browser?.close().catch(() => {});
  await server?.stop();
  if (folderToRemove) rmSync(folderToRemove, { recursive: true, force: true });
}
process.exit(exitCode);
