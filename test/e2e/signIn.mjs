// End to end in a real editor: sign in through the company's identity provider (issue 13).
//
// The real Elevate server (dist/server.js start, test/e2e/policy.yaml plus an identity: section) and a real
// OpenID provider (the demo IdP, oidc-provider, test/extension/idp.ts) on loopback; the packaged extension
// installed into code-server (VS Code 1.139); headless Chromium. As a user would:
//   1. the Accounts menu offers "Sign in with Elevate": a click opens the server's verification page in a new tab,
//      which shows the same code as the editor's notification
//   2. in that tab: confirm the code, log in at the IdP page with a username and password; it says "Signed in"
//   3. the editor is signed in (Elevate sidebar shows the resources), and a request is made by mouse and keyboard
// Prints "sso: N passed, N failed"; screenshots and logs go to test-artifacts/e2e-sso/ (gitignored).
// Usage: node test/e2e/signIn.mjs   (needs test/harness/setup.sh once; builds and packages the extension itself)
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT,
  CODE_SERVER_BIN,
  freePort,
  spawnGroup,
  stopGroup,
  waitForHttp,
  tempDir,
  tail,
  log,
  startCodeServer,
  installExtension,
  launchBrowser,
  newContext,
  openWorkbench,
  openActivityContainer,
} from '../harness/codeServer.mjs';
import { packageExtension } from '../harness/package.mjs';
import { startTestIdp } from '../extension/idp.mjs';
import { existsSync } from 'node:fs';

const LIMIT_MS = +(process.env.E2E_LIMIT_MS || 8 * 60_000);
const ART = join(ROOT, 'test-artifacts/e2e-sso');
const node = process.execPath;
const STEPS = {
  1: "the Accounts menu signs in: the verification page opens and shows the editor's code",
  2: 'the code is confirmed and the IdP login completed in Chromium',
  3: 'the editor is signed in and a request is made by mouse and keyboard',
};
const results = {};

process.chdir(ROOT);
rmSync(ART, { recursive: true, force: true });
mkdirSync(ART, { recursive: true });

let work, server, idp, editor, browser;
const toast = (page, re) => page.locator('.notifications-toasts .notification-toast', { hasText: re }).first();
const quickInput = (page) => page.locator('.quick-input-widget');
const quickRow = (page, re) => page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: re }).first();
const paneOf = (page, view) => page.locator('.part.sidebar .pane', { has: page.locator('.pane-header', { hasText: new RegExp(`^\\s*${view}`, 'i') }) }).first();
const viewRow = (page, view, text) => paneOf(page, view).locator('.monaco-list-row', { hasText: text }).first();
const shot = (page, name) => page.screenshot({ path: join(ART, `${name}.png`) }).catch(() => {});

async function step(n, fn) {
  try {
    await fn();
    results[n] = { ok: true };
    log(`step ${n} ok: ${STEPS[n]}`);
  } catch (e) {
    results[n] = { ok: false, error: e.message };
    log(`step ${n} FAILED: ${STEPS[n]}\n  ${e.message.split('\n').slice(0, 8).join('\n  ')}`);
    throw e;
  }
}

async function main() {
  if (!existsSync(CODE_SERVER_BIN)) throw new Error('code-server is not installed: run test/harness/setup.sh');
  if (spawnSync(node, ['scripts/build.mjs'], { stdio: 'inherit' }).status !== 0) throw new Error('scripts/build.mjs failed');
  const vsix = packageExtension({ out: join(ROOT, 'dist/elevate.vsix') });

  work = tempDir('elevate-e2e-sso-');
  const port = await freePort();
  const serverUrl = `http://127.0.0.1:${port}`;
  idp = await startTestIdp({ elevateUrl: serverUrl, work, freePort, logPath: join(ART, 'idp.log') });
  const policy = idp.policyWith(join(ROOT, 'test/e2e/policy.yaml'));
  const serverLog = join(ART, 'elevate-server.log');
  writeFileSync(serverLog, '');
  server = spawnGroup(node, ['dist/server.js', 'start', '--config', policy, '--db', join(work, 'e.db'), '--port', String(port), '--host', '127.0.0.1'], {
    logPath: serverLog,
  });
  await waitForHttp(`${serverUrl}/healthz`, { timeoutMs: 20000, child: server });
  log(`Elevate server at ${serverUrl}, identity provider at ${idp.issuer}`);

  const dirs = { userDataDir: join(work, 'user-data'), extensionsDir: join(work, 'extensions'), folder: join(work, 'project') };
  mkdirSync(dirs.extensionsDir, { recursive: true });
  mkdirSync(dirs.folder, { recursive: true });
  installExtension(vsix, dirs);
  editor = await startCodeServer({ ...dirs, settings: { 'elevate.serverUrl': serverUrl }, name: 'code-server-sso', logPath: join(ART, 'code-server.log') });
  browser = await launchBrowser();
  const context = await newContext(browser, { viewport: { width: 1280, height: 760 } });
  const page = await openWorkbench(context, editor.url, dirs.folder, { timeoutMs: 90000 });
  let tab;

  await step(1, async () => {
    const accounts = page.locator('.part.activitybar [aria-label^="Accounts"]').first();
    const item = page.locator('.monaco-menu .action-item', { hasText: /Elevate/ }).first();
    // the entry appears once the extension has found the server offers sign-in (a request for a session)
    const end = Date.now() + 60000;
    for (;;) {
      await accounts.click({ timeout: 20000 });
      if (
        await item.waitFor({ timeout: 3000 }).then(
          () => true,
          () => false,
        )
      )
        break;
      await page.keyboard.press('Escape');
      if (Date.now() > end) throw new Error('the Accounts menu has no Elevate entry');
    }
    await shot(page, '1-accounts-menu');
    const opened = context.waitForEvent('page', { timeout: 30000 });
    await item.click();
    // VS Code may ask before opening an external page, or the browser may need a nudge
    const allow = page.locator('.monaco-dialog-box .monaco-button', { hasText: /^(Open|Allow)$/ }).first();
    tab = await Promise.race([
      opened,
      allow.waitFor({ timeout: 30000 }).then(async () => {
        await allow.click();
        return opened;
      }),
    ]);
    await tab.waitForLoadState('domcontentloaded');
    const code = (await tab.locator('#user-code').innerText({ timeout: 20000 })).trim();
    await toast(page, new RegExp(code)).waitFor({ timeout: 20000 });
    await shot(page, '1-editor-shows-the-code');
    await shot(tab, '1-verification-page');
  });

  await step(2, async () => {
    await tab.locator('#confirm').click();
    await tab.locator('#username').fill('alice', { timeout: 20000 });
    await tab.locator('#password').fill('alice-demo');
    await shot(tab, '2-idp-login');
    await tab.locator('#sign-in').click();
    await tab.locator('body', { hasText: 'Signed in as alice' }).waitFor({ timeout: 20000 });
    await shot(tab, '2-signed-in-page');
  });

  await step(3, async () => {
    await page.bringToFront();
    await openActivityContainer(page, 'Elevate');
    const row = viewRow(page, 'Resources', 'Production database');
    await row.waitFor({ timeout: 30000 });
    await row.hover();
    await row.locator('.actions .action-label[aria-label="Request Access"]').click({ timeout: 20000 });
    await quickRow(page, /^\s*read/).waitFor({ timeout: 20000 });
    await page.keyboard.press('Enter'); // role: read
    await quickRow(page, /default/).waitFor({ timeout: 20000 });
    await page.keyboard.press('Enter'); // duration: the default
    await quickInput(page)
      .locator('.quick-input-message, .quick-input-header', { hasText: /Why do you need this access/ })
      .first()
      .waitFor({ timeout: 20000 });
    await page.locator('.quick-input-widget .quick-input-box input').fill('INC-4711: signed in through the company IdP');
    await page.keyboard.press('Enter');
    await quickRow(page, /Submit request/).waitFor({ timeout: 20000 });
    await page.keyboard.press('Enter');
    await toast(page, /Waiting for approval/).waitFor({ timeout: 20000 });
    await viewRow(page, 'My Access', /Production database/).waitFor({ timeout: 20000 });
    await shot(page, '3-requested');
  });
}

async function cleanup() {
  await browser?.close().catch(() => {});
  await editor?.stop().catch(() => {});
  if (server) await stopGroup(server.pid);
  if (idp) await stopGroup(idp.pid);
  if (work) rmSync(work, { recursive: true, force: true });
}

let timer;
const outcome = await Promise.race([
  main().then(
    () => 'done',
    (e) => e,
  ),
  new Promise((r) => (timer = setTimeout(() => r(new Error(`time limit of ${LIMIT_MS / 1000}s reached`)), LIMIT_MS))),
]);
clearTimeout(timer);
if (outcome instanceof Error) {
  log(`failed: ${outcome.message.split('\n')[0]}`);
  for (const f of ['elevate-server.log', 'idp.log']) log(`--- ${f}\n${tail(join(ART, f), 15)}`);
}
await cleanup();
const passed = Object.keys(STEPS).filter((n) => results[n]?.ok).length;
console.log(`sso: ${passed} passed, ${Object.keys(STEPS).length - passed} failed`);
process.exit(passed === Object.keys(STEPS).length ? 0 : 1);
