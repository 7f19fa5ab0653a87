// End to end in a real editor: the whole Elevate loop by mouse and keyboard, requester and approver side by side.
//
// The real Elevate server (dist/server.js start, test/e2e/policy.yaml, a fresh database) on loopback; the packaged
// extension (dist/elevate.vsix) installed into two code-server instances (VS Code 1.139, own ports, user data and
// extensions), one per person; one headless Chromium with two browser contexts. Both people sign in through the UI,
// then the scenario of issue 4 runs, each step asserted on what the workbench shows:
//   1. alice opens the Elevate sidebar, clicks the inline "Request Access" on Production database, completes the QuickPick flow
//   2. bob sees the notification and the Approvals badge, opens the request detail, approves with a comment
//   3. alice sees the grant in My Access, the status-bar countdown ticking, and a notification
//   4. alice runs "Elevate: Extend Grant" from the palette and the countdown moves
//   5. a 90 s auto-approved grant runs out: warning then error colour, then the item disappears and My Access updates
//   6. bob revokes alice's grant from Others' Access (a reason, one confirmation) and her editor shows it
//   7. the server is stopped and restarted (same database and port): both editors show the unreachable state, then recover
//   8. alice asks for a role that is approved at once on a resource with several roles: the labels say so, one notification
//   9. curl refused by a web console in alice's real terminal: the notification, Request, bob approves from his notification,
//      Re-run succeeds in the same terminal (issue 15)
//  10. the workspace's .vscode/elevate.json: This Workspace lists each need with its state; Request All with one justification
//  11. an "elevate" task from .vscode/tasks.json run from the palette: approval progress in its terminal, the command
//      succeeds, the access is given back
//  12. an agent's call of elevate_requestAccess in the chat: the chat shows the tool's confirmation, the person confirms,
//      the request is made and audited as made by an agent (a chat participant stands in for the model: none runs here)
// It counts the interactions (clicks and key presses; typed text counted apart) each flow takes and times how long a
// decision takes to show on the other side; prints a table and writes test-artifacts/e2e/figures.json.
// Screenshots of every step go to test-artifacts/e2e/ (gitignored); a failure prints its screenshot and log paths and
// the tails of the editor and server logs.
//
// Usage: node test/e2e/run.mjs            (needs test/harness/setup.sh once; builds and packages the extension itself)
// Env: E2E_KEEP_GOING=1 runs steps whose prerequisites failed anyway; E2E_ONLY=1,2 runs only those steps (debugging);
// E2E_UPDATE_SCREENSHOTS=1 copies the README's screenshots from this run into docs/screenshots/.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, relative } from 'node:path';
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
  sleep,
  startCodeServer,
  installExtension,
  launchBrowser,
  newContext,
  openWorkbench,
  openActivityContainer,
  runCommand,
} from '../harness/codeServer.mjs';
import { packageExtension } from '../harness/package.mjs';

const T_START = Date.now();
const LIMIT_MS = +(process.env.E2E_LIMIT_MS || 13 * 60_000); // below test/run.mjs's 15 min
const ART = join(ROOT, 'test-artifacts/e2e');
const POLICY = join(ROOT, 'test/e2e/policy.yaml');
const SERVER_LOG = join(ART, 'elevate-server.log');
const WARN_MINUTES = [1, 0.5]; // staging-logs grants last 90 s: warning colour after 30 s, error after 60 s
const node = process.execPath; // the machine's Node (better-sqlite3 is built for it); only code-server runs on Node 24

process.chdir(ROOT);
rmSync(ART, { recursive: true, force: true }); // every path printed belongs to this run
mkdirSync(ART, { recursive: true });

// ---------------------------------------------------------------- results, figures, artifacts
const STEPS = {
  1: 'requester requests access from the sidebar (inline Request Access + QuickPick flow)',
  2: 'approver sees notification and badge, opens the request detail, approves with a comment',
  3: 'requester sees the grant in My Access, the countdown ticking and a notification',
  4: 'requester extends the grant from the command palette and the countdown moves',
  5: 'a short auto-approved grant turns warning, then error colour, then disappears',
  6: "approver revokes the grant and the requester's editor shows it",
  7: 'server stopped and restarted: both editors show unreachable, then recover by themselves',
  8: 'auto-approvable request on a resource with several roles: labels promise it, one notification tells it',
  9: 'a command refused in a real terminal: notification → Request → approver approves → Re-run succeeds',
  10: "the workspace manifest: This Workspace shows each need's state, Request All asks once",
  11: 'an elevate task from tasks.json waits for approval, runs the command and gives the access back',
  12: "an agent's elevate_requestAccess in the chat: the confirmation shows the request, Allow makes it (via: agent)",
};
const results = {}; // step -> { ok, reason }
const shots = []; // paths of this run's screenshots
const figures = { interactions: {}, latencyMs: {}, durationsMs: {} };
let server,
  editors = {},
  browser,
  pages = {},
  work,
  serverUrl,
  serverPort,
  db;

const rel = (p) => relative(ROOT, p);
const secs = (ms) => `${(ms / 1000).toFixed(1)}s`;

/** A screenshot into test-artifacts/e2e/; `clip` ({x, y, width, height}) keeps a part (small enough for the README). */
async function shot(page, name, clip) {
  const path = join(ART, `${name}.png`);
  try {
    await page.mouse.move(1000, 250); // no hover tooltip left over from the last click
    await page.screenshot({ path, animations: 'disabled', timeout: 15000, ...(clip && { clip }) });
    shots.push(path);
    return path;
  } catch (e) {
    log(`screenshot ${name} failed: ${e.message.split('\n')[0]}`);
    return undefined;
  }
}

/** Counts clicks and key presses of one flow; typed text is counted apart (characters), never as interactions. */
class Flow {
  constructor(name) {
    this.name = name;
    this.clicks = 0;
    this.keys = 0;
    this.typed = 0;
    this.steps = [];
  }
  async click(locator, what, opts = {}) {
    await locator.click({ timeout: 20000, ...opts });
    this.clicks++;
    this.steps.push(`click ${what}`);
  }
  async press(page, key, what = key) {
    await page.keyboard.press(key);
    this.keys++;
    this.steps.push(`key ${what}`);
  }
  /** Palette command as runCommand() does it: F1, the title typed, a click on the command. */
  async command(page, title) {
    await runCommand(page, title, { timeoutMs: 60000 });
    this.keys++;
    this.clicks++;
    this.typed += title.length;
    this.steps.push('key F1', `type "${title}"`, `click ${title}`);
  }
  async type(locator, text, what = 'text') {
    await locator.fill(text, { timeout: 20000 });
    this.typed += text.length;
    this.steps.push(`type ${what} (${text.length} chars)`);
  }
  get interactions() {
    return this.clicks + this.keys;
  }
  record(note) {
    figures.interactions[this.name] = {
      interactions: this.interactions,
      clicks: this.clicks,
      keyPresses: this.keys,
      typedChars: this.typed,
      sequence: this.steps,
      ...(note ? { note } : {}),
    };
  }
}

// ---------------------------------------------------------------- workbench helpers
const quickInput = (page) => page.locator('.quick-input-widget');
const quickInputBox = (page) => page.locator('.quick-input-widget .quick-input-box input');
const quickRow = (page, text) => page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: text }).first();
/** The quick-pick row whose label (not its description) matches `re`. */
const quickRowLabel = (page, re) =>
  page
    .locator('.quick-input-widget .quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: re }) })
    .first();
const toast = (page, re) => page.locator('.notifications-toasts .notification-toast', { hasText: re }).first();
/** A row of the tree inside the view pane titled `view` (e.g. 'My Access'). */
const paneOf = (page, view) => page.locator('.part.sidebar .pane', { has: page.locator('.pane-header', { hasText: new RegExp(`^\\s*${view}`, 'i') }) }).first();
const viewRow = (page, view, text) => paneOf(page, view).locator('.monaco-list-row', { hasText: text }).first();
const welcome = (page, view, text) => paneOf(page, view).locator('.welcome-view-content', { hasText: text }).first();
/** A grant's row in My Access: "59 min left · read", then the resource's name (time left and role come first). */
const grantRow = (name, role) => new RegExp(`left · ${role}\\s*${name}`);
const statusItem = (page, re) => page.locator('#workbench\\.parts\\.statusbar .statusbar-item', { hasText: re }).first();

/** Seconds left from the status-bar text: `m:ss`, or `1h 05m`. */
function secondsLeft(text) {
  let m = /(\d+)h (\d\d)m/.exec(text);
  if (m) return +m[1] * 3600 + +m[2] * 60;
  m = /(\d+):(\d\d)\b/.exec(text);
  return m ? +m[1] * 60 + +m[2] : NaN;
}

/** Severity of a status-bar item as the workbench shows it: its kind class and its computed background colour. */
async function statusColour(item) {
  return item.evaluate((el) => ({
    cls: el.classList.contains('error-kind') ? 'error' : el.classList.contains('warning-kind') ? 'warning' : 'normal',
    background: getComputedStyle(el).backgroundColor,
  }));
}

/** Makes sure the pane titled `view` is expanded (clicking its header when collapsed). */
async function expandPane(page, view) {
  const header = paneOf(page, view).locator('.pane-header').first();
  await header.waitFor({ timeout: 20000 });
  if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
}

/** The frame of a webview whose body text matches `re` (webviews are nested iframes). */
async function webviewFrame(page, re, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const f of page.frames()) {
      if (f === page.mainFrame()) continue;
      const text = await f
        .locator('body')
        .innerText({ timeout: 500 })
        .catch(() => '');
      if (re.test(text)) return f;
    }
    await sleep(250);
  }
  throw new Error(`no webview shows ${re}`);
}

/** Resolves with Date.now() when `locator` reaches `state`; started before the action whose effect it times. */
function whenState(locator, state, timeout) {
  return locator.waitFor({ state, timeout }).then(() => Date.now());
}

/**
 * Clicks an inline action of a tree row and waits for the quick input it opens. A click that
 * left no trace (no quick input, no error toast) is tried once more and logged as a harness retry,
 * never silently; an error toast fails the step with its text.
 */
async function clickInlineAction(page, row, label, flow) {
  const action = row.locator(`.actions .action-label[aria-label="${label}"]`);
  const opened = (timeout) =>
    page
      .locator('.quick-input-widget')
      .waitFor({ state: 'visible', timeout })
      .then(
        () => true,
        () => false,
      );
  await row.hover();
  await flow.click(action, `inline ${label}`);
  if (await opened(8000)) return;
  const error = page.locator('.notifications-toasts .notification-toast', { has: page.locator('.codicon-error, .codicon-warning') }).first();
  if (await error.isVisible().catch(() => false)) throw new Error(`"${label}" showed an error: ${(await error.innerText()).replace(/\s+/g, ' ')}`);
  log(`harness retry: no quick input 8 s after clicking "${label}"; before the second click:\n${await diagnosis(page)}`);
  figures.harnessRetries = (figures.harnessRetries ?? 0) + 1; // the product flow stays one click
  await page.mouse.move(1000, 250);
  await row.hover();
  await action.click({ timeout: 20000 });
  if (!(await opened(20000))) throw new Error(`"${label}" opened no quick input after two clicks`);
}

/** What a page shows that explains a stuck step: toasts, dialogs, the quick input, focus, the Elevate log. */
async function diagnosis(page) {
  const role = Object.keys(pages).find((r) => pages[r] === page);
  const texts = (sel, n) =>
    page
      .locator(sel)
      .evaluateAll(
        (els, n) =>
          els
            .filter((e) => e.offsetParent !== null)
            .slice(0, n)
            .map((e) => e.innerText.replace(/\s+/g, ' ').trim().slice(0, 160)),
        n,
      )
      .catch((e) => [`(${e.message.split('\n')[0]})`]);
  const lines = [
    `  toasts: ${JSON.stringify(await texts('.notifications-toasts .notification-toast', 4))}`,
    `  dialogs: ${JSON.stringify(await texts('.monaco-dialog-box', 2))}`,
    `  quick input: ${JSON.stringify(await texts('.quick-input-widget', 1))}`,
    `  focus: ${await page
      .evaluate(() => {
        const e = document.activeElement;
        return e ? `${e.tagName.toLowerCase()}.${[...e.classList].slice(0, 3).join('.')} "${(e.getAttribute('aria-label') ?? '').slice(0, 60)}"` : 'none';
      })
      .catch(() => '?')}`,
  ];
  const elevateLog = role && editors[role] ? vscodeLogs(editors[role]).find((p) => p.endsWith('Elevate.log')) : undefined;
  if (elevateLog)
    lines.push(
      `  Elevate log (last 6 lines):\n${tail(elevateLog, 7)
        .trimEnd()
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n')}`,
    );
  return lines.join('\n');
}

/**
 * Every notification the workbench holds (the notification centre, which also lists the toasts), as
 * text: opened with "Notifications: Show Notifications", read, closed again.
 */
async function notificationCentre(page) {
  await runCommand(page, 'Notifications: Show Notifications');
  const centre = page.locator('.notifications-center');
  await centre.waitFor({ timeout: 10000 });
  await sleep(300); // the list renders after the centre opens
  const texts = await centre.locator('.notification-list-item').evaluateAll((els) => els.map((e) => e.innerText.replace(/\s+/g, ' ').trim()));
  await page.keyboard.press('Escape');
  return texts;
}

/** Fails when the notification centre still holds a notification matching `re` (one about a state that is gone). */
async function assertNoNotice(page, re, why) {
  const stale = (await notificationCentre(page)).filter((t) => re.test(t));
  if (stale.length) throw new Error(`${why}: the notification centre still shows ${JSON.stringify(stale)}`);
}

async function closeToasts(page) {
  // "Clear All Notifications" without the palette: the toasts' own clear buttons
  // (a one-line toast shows its clear button only while hovered)
  for (let i = 0; i < 8; i++) {
    const t = page.locator('.notifications-toasts .notification-toast').first();
    if (!(await t.isVisible().catch(() => false))) break;
    await t.hover({ timeout: 2000 }).catch(() => {});
    await t
      .locator('.codicon-notifications-clear')
      .first()
      .click({ timeout: 2000 })
      .catch(() => {});
    await t.waitFor({ state: 'detached', timeout: 2000 }).catch(() => {});
  }
}

// ---------------------------------------------------------------- setup
async function startServer() {
  server = spawnGroup(node, ['dist/server.js', 'start', '--config', POLICY, '--db', db, '--port', String(serverPort), '--host', '127.0.0.1'], {
    logPath: SERVER_LOG,
  });
  await waitForHttp(`${serverUrl}/healthz`, { timeoutMs: 20000, child: server });
}

async function setup() {
  if (!existsSync(CODE_SERVER_BIN)) {
    log('code-server is not installed: running test/harness/setup.sh (first time ~3 min)');
    if (spawnSync('bash', ['test/harness/setup.sh'], { stdio: 'inherit' }).status !== 0) throw new Error('test/harness/setup.sh failed');
  }
  if (spawnSync(node, ['scripts/build.mjs'], { stdio: 'inherit' }).status !== 0) throw new Error('scripts/build.mjs failed');
  const vsix = packageExtension({ out: join(ROOT, 'dist/elevate.vsix') });
  log(`packaged ${rel(vsix)}`);
  const standIn = packageExtension({ cwd: join(ROOT, 'test/e2e/agent-stand-in'), out: join(ROOT, 'dist/agent-stand-in.vsix') });

  work = tempDir('elevate-e2e-');
  db = join(work, 'e2e.db');
  serverPort = await freePort();
  serverUrl = `http://127.0.0.1:${serverPort}`;
  const tokens = {};
  for (const user of ['alice', 'bob', 'orders-app']) {
    tokens[user] = execFileSync(node, ['dist/server.js', 'token', 'issue', user, '--config', POLICY, '--db', db], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20000,
    }).trim();
  }
  state.tokens = tokens;
  writeFileSync(SERVER_LOG, '');
  await startServer();
  log(`Elevate server up at ${serverUrl} (log ${rel(SERVER_LOG)})`);

  await startOrdersConsole();
  log(`orders console up at ${orders.url}`);

  const settings = {
    'elevate.serverUrl': serverUrl,
    'elevate.expiryWarningMinutes': WARN_MINUTES,
    'workbench.colorTheme': 'Default Dark Modern',
    // a bash with shell integration (what the refusal flow reads), drawn as text the test can read
    'terminal.integrated.defaultProfile.linux': 'bash',
    'terminal.integrated.gpuAcceleration': 'off',
    'remote.autoForwardPorts': false, // the orders console is on this machine: nothing to forward
  };
  const people = { requester: 'alice', approver: 'bob' };
  // install both first (CPU-bound), then start both code-servers side by side
  const dirs = {};
  for (const role of Object.keys(people)) {
    const home = join(work, role);
    dirs[role] = { userDataDir: join(home, 'user-data'), extensionsDir: join(home, 'extensions'), folder: join(home, 'project') };
    mkdirSync(dirs[role].extensionsDir, { recursive: true });
    mkdirSync(dirs[role].folder, { recursive: true });
    writeFileSync(join(dirs[role].folder, 'README.md'), `# ${role}'s project\n`);
    writeFileSync(join(dirs[role].folder, 'slow-orders.sql'), SQL);
    if (role === 'requester') writeTasksJson(dirs[role].folder);
    if (role === 'requester') installExtension(standIn, dirs[role]);
    installExtension(vsix, dirs[role]);
  }
  state.folders = Object.fromEntries(Object.entries(dirs).map(([role, d]) => [role, d.folder]));
  state.userDataDirs = Object.fromEntries(Object.entries(dirs).map(([role, d]) => [role, d.userDataDir]));
  log('installed the extension into both editors');
  await Promise.all(
    Object.keys(people).map(async (role) => {
      // the requester works in a dark theme, the approver in a light one: every screenshot of a fixed
      // surface exists in both (notifications, the request detail, the sidebar)
      const theme = role === 'approver' ? { 'workbench.colorTheme': 'Default Light Modern' } : {};
      editors[role] = await startCodeServer({
        ...dirs[role],
        settings: { ...settings, ...theme },
        name: `code-server-${role}`,
        logPath: join(ART, `code-server-${role}.log`),
      });
    }),
  );

  browser = await launchBrowser();
  await Promise.all(
    Object.entries(people).map(async ([role, user]) => {
      const context = await newContext(browser, { viewport: { width: 1280, height: 760 } });
      const page = await openWorkbench(context, editors[role].url, dirs[role].folder, { timeoutMs: 90000 });
      pages[role] = page;
      await signIn(page, role, tokens[user]);
    }),
  );
}

/** Sign in as a user would: palette "Elevate: Sign In", the URL input (prefilled), the token input. */
async function signIn(page, role, token) {
  const flow = new Flow(`sign in (${role})`);
  await flow.command(page, 'Elevate: Sign In');
  const box = quickInputBox(page);
  await quickInput(page)
    .locator('.quick-input-message, .quick-input-title', { hasText: /Sign In to Elevate|server URL/i })
    .first()
    .waitFor({ timeout: 20000 });
  const value = await box.inputValue();
  if (value !== serverUrl) await flow.type(box, serverUrl, 'server URL');
  await flow.press(page, 'Enter');
  await page.locator('.quick-input-widget input[type="password"]').waitFor({ timeout: 20000 });
  await flow.type(page.locator('.quick-input-widget input[type="password"]'), token, 'token');
  await flow.press(page, 'Enter');
  await toast(page, /Signed in to .* as/).waitFor({ timeout: 30000 });
  flow.record();
  await openActivityContainer(page, 'Elevate');
  await viewRow(page, 'Resources', 'Production database').waitFor({ timeout: 30000 });
  await closeToasts(page);
  if (role === 'requester') {
    // what a developer would have open (makes the screenshots look like real work)
    await page.keyboard.press('Control+P');
    await quickInputBox(page)
      .fill('slow-orders.sql')
      .catch(() => {});
    await quickRow(page, 'slow-orders.sql')
      .waitFor({ timeout: 10000 })
      .then(
        () => page.keyboard.press('Enter'),
        () => page.keyboard.press('Escape'),
      );
    await page
      .locator('.editor-instance .view-lines', { hasText: 'orders' })
      .first()
      .waitFor({ timeout: 10000 })
      .catch(() => {});
  }
  await shot(page, `0-${role}-signed-in`);
  log(`${role} signed in (${flow.interactions} interactions)`);
}

// ---------------------------------------------------------------- the scenario
const SQL = `-- INC-4711: order lookups take seconds since Monday's deploy
EXPLAIN (ANALYZE, BUFFERS)
SELECT o.id, o.created_at, c.email, sum(l.amount) AS total
FROM orders o
JOIN customers c ON c.id = o.customer_id
JOIN order_lines l ON l.order_id = o.id
WHERE o.created_at > now() - interval '7 days'
  AND o.status = 'open'
GROUP BY o.id, c.email
ORDER BY o.created_at DESC
LIMIT 50;
`;
const JUSTIFICATION = 'INC-4711: slow queries on orders, need to read the plans';
const state = {};

async function step1() {
  const page = pages.requester;
  const approver = pages.approver;
  const flow = new Flow('request needing approval (sidebar → submitted)');
  await openActivityContainer(page, 'Elevate');
  await expandPane(page, 'Resources');
  const row = viewRow(page, 'Resources', 'Production database');
  await row.waitFor({ timeout: 20000 });
  await viewRow(page, 'Resources', 'Staging logs').waitFor({ timeout: 20000 });
  await clickInlineAction(page, row, 'Request Access', flow);
  // role
  await quickRowLabel(page, /^\s*read\s*$/).waitFor({ timeout: 20000 });
  const focusedRole = await page.locator('.quick-input-widget .quick-input-list .monaco-list-row.focused .label-name').first().innerText();
  if (focusedRole.trim() !== 'read') throw new Error(`the role picker does not start on "read" (focused: ${focusedRole})`);
  await quickInput(page).locator('.quick-input-title', { hasText: 'Production database' }).waitFor({ timeout: 10000 });
  await flow.press(page, 'Enter', 'Enter (role: read)');
  // duration: the default (1h) is the active item
  await quickRow(page, /default/).waitFor({ timeout: 20000 });
  const active = await page.locator('.quick-input-widget .quick-input-list .monaco-list-row.focused').first().innerText();
  if (!/1h/.test(active)) throw new Error(`the duration picker does not preselect the default 1h (focused: ${active})`);
  await flow.press(page, 'Enter', 'Enter (duration: 1h default)');
  // justification
  await quickInput(page)
    .locator('.quick-input-message, .quick-input-header', { hasText: /Why do you need this access/ })
    .first()
    .waitFor({ timeout: 20000 });
  await flow.type(quickInputBox(page), JUSTIFICATION, 'justification');
  await page.keyboard.press('Enter'); // accepting the justification: counted with it, as "justification aside"
  flow.steps.push('key Enter (accept justification; counted with the justification)');
  // confirmation: the server's dry-run verdict
  const submit = quickRow(page, /Submit request/);
  await submit.waitFor({ timeout: 20000 });
  const verdict = await submit.innerText();
  if (!/Needs approval/i.test(verdict)) throw new Error(`the confirmation does not say it needs approval: ${verdict}`);
  await shot(page, '1-requester-confirm');
  const seenByApprover = whenState(toast(approver, /New request from alice/), 'visible', 30000);
  seenByApprover.catch(() => {});
  const t0 = Date.now();
  await flow.press(page, 'Enter', 'Enter (Submit request)');
  // the waiting notice says which request it is about, and offers its actions as links
  const waiting = toast(page, /Waiting for approval: Production database \(read\) for 1h — 0 of 1 approvals/);
  await waiting.waitFor({ timeout: 20000 });
  for (const name of ['Show Request', 'Copy Link for Approver', 'Cancel Request']) await waiting.getByRole('link', { name }).waitFor({ timeout: 5000 });
  state.waitingShot = await shot(page, '1-requester-waiting-notice');
  await viewRow(page, 'My Access', /Production database \(read\) for 1h/).waitFor({ timeout: 20000 });
  state.requestSeenAt = await seenByApprover.catch(() => undefined);
  if (state.requestSeenAt) figures.latencyMs['request submitted → approver notification'] = state.requestSeenAt - t0;
  flow.record('justification typed and accepted with Enter, not counted');
  await shot(page, '1-requester-pending');
  await closeToasts(page);
}

async function step2() {
  const page = pages.approver;
  const requester = pages.requester;
  const flow = new Flow('approve (notification → approved with comment)');
  const note = toast(page, /New request from alice: Production database \(read\) for 1h/);
  await note.waitFor({ timeout: 30000 });
  await note.getByRole('link', { name: 'Review' }).waitFor({ timeout: 10000 });
  // the badge on the Elevate activity-bar icon and the row in the Approvals view
  const badge = page
    .locator('.part.activitybar .action-item', { has: page.locator('[aria-label^="Elevate"]') })
    .locator('.badge .badge-content')
    .first();
  await badge.waitFor({ timeout: 20000 });
  const badgeText = (await badge.innerText()).trim();
  if (badgeText !== '1') throw new Error(`the Approvals badge shows "${badgeText}", expected 1`);
  await openActivityContainer(page, 'Elevate');
  await expandPane(page, 'Approvals');
  await viewRow(page, 'Approvals', /alice: Production database \(read\) for 1h/).waitFor({ timeout: 20000 });
  await shot(page, '2-approver-notification-badge');
  await flow.click(note.getByRole('link', { name: 'Review' }), 'Review (notification)');
  const frame = await webviewFrame(page, /INC-4711/, 30000);
  const text = await frame.locator('body').innerText();
  for (const want of [/Production database \(read\)/, /pending/, /alice/, /1h/, /Justification/, /INC-4711: slow queries/, /Recent requests by alice/]) {
    if (!want.test(text)) throw new Error(`the request detail does not show ${want}`);
  }
  await frame.locator('button[data-action="approve"]').waitFor({ timeout: 15000 });
  await sleep(300); // let the history table render, for the screenshot
  state.detailShot = await shot(page, '2-approver-request-detail');
  await flow.click(frame.locator('button[data-action="approve"]'), 'Approve… (request detail)');
  await quickInput(page)
    .locator('.quick-input-title, .quick-input-message', { hasText: /Approve|Comment/ })
    .first()
    .waitFor({ timeout: 20000 });
  await flow.type(quickInputBox(page), 'OK for INC-4711, read only please', 'comment');
  const visible = whenState(viewRow(requester, 'My Access', grantRow('Production database', 'read')), 'visible', 30000);
  visible.catch(() => {});
  const t0 = Date.now();
  await flow.press(page, 'Enter', 'Enter (approve with comment)');
  flow.record('comment typed, not counted');
  state.approvedAt = t0;
  state.grantVisible = visible;
  // the approver's own editor: the request leaves Approvals, the badge goes, the detail shows approved
  await viewRow(page, 'Approvals', /alice: Production database/).waitFor({ state: 'hidden', timeout: 20000 });
  await welcome(page, 'Approvals', /Nothing to review/).waitFor({ timeout: 20000 });
  await badge.waitFor({ state: 'hidden', timeout: 20000 });
  // the detail re-renders live (a new inner frame): it shows the decision with its comment
  const after = await webviewFrame(page, /bob approved[\s\S]*OK for INC-4711, read only please/, 20000);
  await after.locator('.badge.ok', { hasText: 'approved' }).waitFor({ timeout: 10000 });
  await shot(page, '2-approver-approved');
  // the webviews' stylesheet and scripts are files in media/, the only sources their CSP allows: styled…
  const radius = await after.locator('.badge.ok').evaluate((el) => getComputedStyle(el).borderRadius);
  if (radius !== '10px') throw new Error(`the request detail is not styled by media/webview.css (badge border-radius: ${radius})`);
  // …and the audit log's script runs: it asks for the events and renders what the extension sends back
  // (each palette command after a click on the status bar: keyboard focus in a webview keeps the palette's keys)
  const focusWorkbench = () => page.locator('#workbench\\.parts\\.statusbar').click({ position: { x: 2, y: 2 } });
  await focusWorkbench();
  await runCommand(page, 'Elevate: Show Audit Log', { timeoutMs: 60000 });
  const audit = await webviewFrame(page, /Audit Log[\s\S]*Details/, 30000);
  await audit.locator('#rows tr', { hasText: 'request.approved' }).first().waitFor({ timeout: 20000 });
  const status = await audit.locator('#status').innerText();
  if (!/^\d+ events?/.test(status)) throw new Error(`the audit log's status line says "${status}"`);
  await shot(page, '2-approver-audit-log');
  await focusWorkbench();
  await runCommand(page, 'View: Close Editor', { timeoutMs: 30000 });
  // decided: nothing on either side still offers an action about the pending request
  await assertNoNotice(page, /New request from alice: Production database \(read\)/, 'approved, yet the approver');
}

async function step3() {
  const page = pages.requester;
  const seenAt = await state.grantVisible;
  figures.latencyMs["approver click → grant in requester's My Access"] = seenAt - state.approvedAt;
  // one notification, with the approver's comment
  const note = toast(page, /Access to Production database \(read\) approved by bob — granted until .* bob: “OK for INC-4711, read only please”/);
  await note.waitFor({ timeout: 20000 });
  await assertNoNotice(page, /Waiting for approval: Production database/, 'approved, yet the requester');
  const row = viewRow(page, 'My Access', grantRow('Production database', 'read'));
  const desc = await row.innerText();
  if (!/(59 min|1h 00m) left/.test(desc)) throw new Error(`My Access row does not show ~60 min left: ${desc}`);
  const item = statusItem(page, /Production database read/);
  await item.waitFor({ timeout: 10000 });
  const a = await item.innerText();
  await sleep(2200);
  const b = await item.innerText();
  const [sa, sb] = [secondsLeft(a), secondsLeft(b)];
  if (!(sa > 3500 && sa <= 3600)) throw new Error(`status bar does not count down from ~1h: "${a}"`);
  if (!(sb < sa)) throw new Error(`status bar countdown is not ticking: "${a}" then "${b}"`);
  const colour = await statusColour(item);
  if (colour.cls !== 'normal') throw new Error(`status bar is ${colour.cls} with an hour left`);
  state.grantShot = await shot(page, '3-requester-grant-countdown');
  log(`status bar: "${a.trim()}" → "${b.trim()}"`);
}

async function step4() {
  const page = pages.requester;
  const flow = new Flow('extend from the palette');
  await closeToasts(page);
  const item = statusItem(page, /Production database read/);
  const before = secondsLeft(await item.innerText());
  await flow.command(page, 'Elevate: Extend Grant');
  const plus15 = quickRow(page, /\+15m/);
  await plus15.waitFor({ timeout: 20000 });
  if (!/Applies at once/.test(await plus15.innerText())) throw new Error(`+15m is not offered as applying at once: ${await plus15.innerText()}`);
  await shot(page, '4-requester-extend-choices');
  await flow.click(plus15, '+15m');
  await toast(page, /Access to Production database \(read\) extended until/).waitFor({ timeout: 20000 });
  await page.waitForFunction(() => /Production database read 1h 1\dm/.test(document.querySelector('#workbench\\.parts\\.statusbar')?.innerText ?? ''), null, {
    timeout: 10000,
  });
  const after = secondsLeft(await item.innerText());
  if (!(after - before >= 14 * 60)) throw new Error(`countdown moved from ${before}s to ${after}s, expected about +15 min`);
  await viewRow(page, 'My Access', grantRow('Production database', 'read'))
    .filter({ hasText: /1h 1\dm left/ })
    .waitFor({ timeout: 10000 });
  flow.record();
  await shot(page, '4-requester-extended');
  log(`extended: ${before}s → ${after}s left`);
}

async function step5() {
  const page = pages.requester;
  const flow = new Flow('auto-approvable request (sidebar → granted)');
  await closeToasts(page);
  const row = viewRow(page, 'Resources', 'Staging logs');
  await row.waitFor({ timeout: 20000 });
  await clickInlineAction(page, row, 'Request Access', flow);
  // one role: no role step. Duration: the only preset, 1m 30s, approved at once
  const duration = quickRow(page, /1m 30s/);
  await duration.waitFor({ timeout: 20000 });
  if (!/approved at once/.test(await duration.innerText())) throw new Error(`the duration is not marked "approved at once": ${await duration.innerText()}`);
  await flow.press(page, 'Enter', 'Enter (duration: 1m 30s)');
  await quickInput(page)
    .locator('.quick-input-message, .quick-input-header', { hasText: /Why do you need this access/ })
    .first()
    .waitFor({ timeout: 20000 });
  await flow.type(quickInputBox(page), 'Reading staging logs for INC-4711', 'justification');
  await page.keyboard.press('Enter');
  flow.steps.push('key Enter (accept justification; counted with the justification)');
  // approved at once as the duration step said: the dry run confirms it and the request goes in
  // without a confirmation step
  await toast(page, /Access to Staging logs \(read\) approved by policy — granted until/).waitFor({ timeout: 20000 });
  flow.record('justification typed and accepted with Enter, not counted');
  await sleep(1000); // the live events of the same approval arrive meanwhile: they must not notify again
  const told = (await notificationCentre(page)).filter((t) => /Staging logs/.test(t));
  if (told.length !== 1) throw new Error(`an auto-approved request was told ${told.length} times: ${JSON.stringify(told)}`);

  const item = statusItem(page, /Staging logs read/);
  await item.waitFor({ timeout: 10000 });
  const text = await item.innerText();
  const other = results[3]?.ok && !results[6]; // the Production database grant is still there
  if (other && !/\+1/.test(text)) throw new Error(`status bar does not say there is one more grant: "${text}"`);
  const start = await statusColour(item);
  if (start.cls !== 'normal') throw new Error(`status bar starts ${start.cls} with 90 s left (warning from ${WARN_MINUTES[0]} min)`);
  await viewRow(page, 'My Access', grantRow('Staging logs', 'read')).waitFor({ timeout: 10000 });
  await shot(page, '5-requester-short-grant');
  log(`short grant: "${text.trim()}" (${start.background}); waiting for warning colour`);

  const waitColour = async (want, timeout) => {
    const end = Date.now() + timeout;
    for (;;) {
      const c = await statusColour(item).catch(() => undefined);
      if (c?.cls === want) return c;
      if (Date.now() > end) throw new Error(`status bar never turned ${want} (last: ${c ? `${c.cls}, ${c.background}` : 'gone'})`);
      await sleep(250);
    }
  };
  const warn = await waitColour('warning', 45000);
  const warnText = await item.innerText();
  if (!(secondsLeft(warnText) <= WARN_MINUTES[0] * 60 && secondsLeft(warnText) > WARN_MINUTES[1] * 60)) throw new Error(`warning colour at "${warnText}"`);
  if (warn.background === start.background) throw new Error(`warning colour has the same background as normal (${warn.background})`);
  // the server's grant.expiring (1 min before the end) arrives as a notification that offers Extend
  const expiring = toast(page, /Your read access to Staging logs ends in 1 min/);
  await expiring.waitFor({ timeout: 10000 });
  await expiring.getByRole('link', { name: /Extend/ }).waitFor({ timeout: 5000 });
  state.warnShot = await shot(page, '5-requester-status-warning');
  log(`warning at "${warnText.trim()}" (${warn.background})`);
  const err = await waitColour('error', 45000);
  const errText = await item.innerText();
  if (!(secondsLeft(errText) <= WARN_MINUTES[1] * 60)) throw new Error(`error colour at "${errText}"`);
  if (err.background === warn.background) throw new Error(`error colour has the same background as warning (${err.background})`);
  await shot(page, '5-requester-status-error');
  log(`error at "${errText.trim()}" (${err.background})`);
  await item.waitFor({ state: 'hidden', timeout: 45000 });
  const endedAt = Date.now();
  await viewRow(page, 'My Access', grantRow('Staging logs', 'read')).waitFor({ state: 'hidden', timeout: 10000 });
  await toast(page, /Your read access to Staging logs has ended/).waitFor({ timeout: 15000 });
  // ended: the warning that offered Extend is gone
  await assertNoNotice(page, /Staging logs ends in/, 'the grant ended, yet');
  if (other) {
    // the other grant is counted down again
    await statusItem(page, /Production database read 1h/).waitFor({ timeout: 10000 });
    await viewRow(page, 'My Access', grantRow('Production database', 'read')).waitFor({ timeout: 10000 });
  }
  figures.durationsMs['short grant: ended → notification'] = Date.now() - endedAt;
  await shot(page, '5-requester-short-grant-ended');
}

async function step6() {
  const page = pages.approver;
  const requester = pages.requester;
  const flow = new Flow("revoke from Others' Access (row → revoked)");
  await closeToasts(page);
  await closeToasts(requester);
  // the approver's list of the access they may end: who, time left, resource and role
  await expandPane(page, "Others' Access");
  const row = viewRow(page, "Others' Access", /alice · [\s\S]* left · read[\s\S]*Production database/);
  await row.waitFor({ timeout: 20000 });
  await shot(page, '6-approver-others-access');
  await clickInlineAction(page, row, 'Revoke Grant…', flow);
  await quickInput(page)
    .locator('.quick-input-title, .quick-input-message', { hasText: /Revoke|Reason/ })
    .first()
    .waitFor({ timeout: 20000 });
  await flow.type(quickInputBox(page), 'INC-4711 resolved', 'reason');
  await shot(page, '6-approver-revoke-reason');
  await flow.press(page, 'Enter', 'Enter (reason)');
  // destructive: it asks once
  const confirm = page.locator('.monaco-dialog-box .monaco-button', { hasText: /^Revoke$/ }).first();
  await confirm.waitFor({ timeout: 20000 });
  await shot(page, '6-approver-revoke-confirm');
  const gone = whenState(viewRow(requester, 'My Access', grantRow('Production database', 'read')), 'hidden', 30000);
  gone.catch(() => {});
  const t0 = Date.now();
  await flow.click(confirm, 'Revoke (confirm)');
  flow.record('reason typed, not counted');
  figures.latencyMs["approver revoke → grant gone from requester's My Access"] = (await gone) - t0;
  await row.waitFor({ state: 'hidden', timeout: 20000 });
  await toast(requester, /Your read access to Production database was revoked by bob: INC-4711 resolved/).waitFor({ timeout: 20000 });
  await statusItem(requester, /Production database/).waitFor({ state: 'hidden', timeout: 10000 });
  await welcome(requester, 'My Access', /no active access/).waitFor({ timeout: 10000 });
  await shot(requester, '6-requester-revoked');
}

/** Calls the server as a person (outside the editors). */
async function api(user, method, path, body) {
  const res = await fetch(`${serverUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${state.tokens?.[user]}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${method} ${path} as ${user}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function step7() {
  const both = Object.entries(pages);
  for (const [, page] of both) {
    await closeToasts(page);
    await openActivityContainer(page, 'Elevate');
  }
  // alice holds access while the server is down: My Access must keep showing it
  const { request } = await api('alice', 'POST', '/v1/requests', {
    resourceId: 'prod-db',
    role: 'write',
    durationSeconds: 1800,
    justification: 'held across the outage',
  });
  const { grant } = await api('bob', 'POST', `/v1/requests/${request.id}/approve`, {});
  await viewRow(pages.requester, 'My Access', grantRow('Production database', 'write')).waitFor({ timeout: 20000 });
  await closeToasts(pages.requester);
  const t0 = Date.now();
  await stopGroup(server.pid);
  log('Elevate server stopped');
  const unreachable = (page) => welcome(page, 'Resources', /Elevate server cannot be reached/);
  await Promise.all(
    both.map(async ([role, page]) => {
      await unreachable(page).waitFor({ timeout: 60000 });
      if (role === 'requester') {
        // offline, the grant alice still holds stays listed, under a line saying it is as last known
        await viewRow(page, 'My Access', /Offline — shown as last known/).waitFor({ timeout: 5000 });
        await viewRow(page, 'My Access', grantRow('Production database', 'write')).waitFor({ timeout: 5000 });
        await statusItem(page, /Production database write/).waitFor({ timeout: 5000 });
      } else {
        await welcome(page, 'My Access', /cannot be reached/).waitFor({ timeout: 5000 });
      }
      await paneOf(page, 'Resources').locator('.welcome-view-content .monaco-button', { hasText: 'Retry' }).first().waitFor({ timeout: 5000 });
      figures.durationsMs[`server stopped → ${role} shows unreachable`] = Date.now() - t0;
      await shot(page, `7-${role}-unreachable`);
    }),
  );
  const t1 = Date.now();
  await startServer();
  log('Elevate server restarted (same database and port)');
  await Promise.all(
    both.map(async ([role, page]) => {
      await unreachable(page).waitFor({ state: 'hidden', timeout: 75000 });
      await viewRow(page, 'Resources', 'Production database').waitFor({ timeout: 20000 });
      figures.durationsMs[`server restarted → ${role} recovered`] = Date.now() - t1;
      await shot(page, `7-${role}-recovered`);
    }),
  );
  await viewRow(pages.requester, 'My Access', /Offline — shown as last known/).waitFor({ state: 'hidden', timeout: 10000 });
  await api('alice', 'POST', `/v1/grants/${grant.id}/relinquish`, {});
  await welcome(pages.requester, 'My Access', /no active access/).waitFor({ timeout: 10000 });
  await welcome(pages.approver, 'Approvals', /Nothing to review/).waitFor({ timeout: 10000 });
  // live again: a new request reaches the approver without a reload
  const row = viewRow(pages.approver, 'Approvals', /alice: Production database \(write\)/);
  const seen = whenState(row, 'visible', 20000);
  seen.catch(() => {});
  const t2 = Date.now();
  const res = await fetch(`${serverUrl}/v1/requests`, {
    method: 'POST',
    headers: { authorization: `Bearer ${state.tokens?.alice}`, 'content-type': 'application/json' },
    body: JSON.stringify({ resourceId: 'prod-db', role: 'write', durationSeconds: 900, justification: 'after the restart' }),
  }).catch((e) => ({ ok: false, status: e.message }));
  if (!res.ok) throw new Error(`creating a request after the restart failed: ${res.status}`);
  figures.latencyMs["after restart: request → approver's Approvals view"] = (await seen) - t2;
}

async function step8() {
  const page = pages.requester;
  const flow = new Flow('auto-approvable request, several roles (sidebar → granted)');
  await closeToasts(page);
  await openActivityContainer(page, 'Elevate');
  const row = viewRow(page, 'Resources', 'Production database');
  await row.waitFor({ timeout: 20000 });
  await clickInlineAction(page, row, 'Request Access', flow);
  // the role step says, for alice now, what the dry run will say
  const read = quickRowLabel(page, /^\s*read\s*$/);
  await read.waitFor({ timeout: 20000 });
  if (!/approved at once up to 15m/.test(await read.innerText()))
    throw new Error(`the read role is not labelled "approved at once up to 15m": ${await read.innerText()}`);
  const write = quickRowLabel(page, /^\s*write\s*$/);
  if (!/needs approval/.test(await write.innerText())) throw new Error(`the write role is not labelled "needs approval": ${await write.innerText()}`);
  await shot(page, '8-requester-role-labels');
  await flow.press(page, 'Enter', 'Enter (role: read)');
  // typing a duration that is not a preset offers it ("Use 12m"), approved at once
  await quickRow(page, /default/).waitFor({ timeout: 20000 });
  await flow.type(quickInputBox(page), '12m', 'duration');
  const use = quickRow(page, /Use 12m/);
  await use.waitFor({ timeout: 10000 });
  if (!/approved at once/.test(await use.innerText())) throw new Error(`"Use 12m" is not marked approved at once: ${await use.innerText()}`);
  await shot(page, '8-requester-typed-duration');
  await flow.press(page, 'Enter', 'Enter (Use 12m)');
  await quickInput(page)
    .locator('.quick-input-message, .quick-input-header', { hasText: /Why do you need this access/ })
    .first()
    .waitFor({ timeout: 20000 });
  await flow.type(quickInputBox(page), 'Reading the slow-query plans for INC-4711', 'justification');
  await page.keyboard.press('Enter');
  flow.steps.push('key Enter (accept justification; counted with the justification)');
  await toast(page, /Access to Production database \(read\) approved by policy — granted until/).waitFor({ timeout: 20000 });
  flow.record('duration and justification typed, the justification accepted with Enter, not counted');
  await viewRow(page, 'My Access', grantRow('Production database', 'read')).waitFor({ timeout: 10000 });
  await shot(page, '8-requester-granted');
  const told = (await notificationCentre(page)).filter((t) => /Production database \(read\) approved by policy/.test(t));
  if (told.length !== 1) throw new Error(`one request was told ${told.length} times: ${JSON.stringify(told)}`);
  const { grants } = await api('alice', 'GET', '/v1/grants?scope=mine&status=active');
  for (const g of grants) await api('alice', 'POST', `/v1/grants/${g.id}/relinquish`, {});
}

// ---------------------------------------------------------------- access where the work is (issue 15)
/**
 * The target system of steps 9-11: a web console on loopback that serves /orders only to a caller
 * Elevate says holds orders-console read right now (/v1/check with its service token). Every
 * answer it gave is kept, so a step can tell a refusal from a success server-side.
 */
const orders = { server: undefined, url: '', served: [] };
async function startOrdersConsole() {
  orders.server = createServer((req, res) => {
    void (async () => {
      const check = await api('orders-app', 'GET', '/v1/check?userId=alice&resourceId=orders-console&role=read').catch(() => ({ allowed: false }));
      orders.served.push(check.allowed ? 200 : 403);
      res.writeHead(check.allowed ? 200 : 403, { 'content-type': 'text/plain' });
      res.end(check.allowed ? 'orders: 42 open\n' : 'forbidden\n');
    })();
  });
  await new Promise((resolve) => orders.server.listen(0, '127.0.0.1', resolve));
  orders.url = `http://localhost:${orders.server.address().port}/orders`;
}

// parts of the 1280×760 workbench, for the README's screenshots
const PANEL_AREA = { x: 352, y: 480, width: 928, height: 250 }; // the terminal and the notifications over it
const ABOVE_PANEL = { x: 0, y: 0, width: 1280, height: 480 }; // the sidebar and the editor
const SIDEBAR = { x: 0, y: 36, width: 350, height: 694 }; // all of it: with Approvals and Others' Access above, This Workspace sits low
const WITHOUT_SIDEBAR = { x: 352, y: 36, width: 928, height: 694 }; // the editor and the panel
const CHAT = { x: 985, y: 36, width: 295, height: 694 }; // the chat on the right

/** The text of the terminal shown in the panel (terminal.integrated.gpuAcceleration off draws it as DOM text). */
async function terminalText(page) {
  return page
    .locator('.part.panel .terminal-wrapper.active .xterm-rows')
    .first()
    .innerText({ timeout: 2000 })
    .catch(() => '');
}
async function waitForTerminal(page, re, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const text = await terminalText(page);
    if (re.test(text)) return text;
    if (Date.now() > end) throw new Error(`the terminal does not show ${re}; it shows:\n${text.trimEnd().split('\n').slice(-8).join('\n')}`);
    await sleep(250);
  }
}

/** An elevate task (step 11): it names what it needs; the command itself knows nothing of Elevate. */
function writeTasksJson(folder) {
  const tasks = {
    version: '2.0.0',
    tasks: [
      {
        label: 'Export open orders',
        type: 'elevate',
        resource: 'orders-console',
        role: 'read',
        duration: '10m',
        command: `curl -fsS ${orders.url}`,
        problemMatcher: [],
      },
    ],
  };
  mkdirSync(join(folder, '.vscode'), { recursive: true });
  writeFileSync(join(folder, '.vscode/tasks.json'), JSON.stringify(tasks, null, 2) + '\n');
}

/** bob approves alice's request from his notification's Approve link, without a comment (2 interactions). */
async function approveFromNotification(title, flowName) {
  const page = pages.approver;
  const flow = new Flow(flowName);
  const note = toast(page, new RegExp(`New request from alice: ${title}`));
  await note.waitFor({ timeout: 30000 });
  await flow.click(note.getByRole('link', { name: 'Approve' }), 'Approve (notification)');
  await quickInput(page)
    .locator('.quick-input-title, .quick-input-message', { hasText: /Approve|Comment/ })
    .first()
    .waitFor({ timeout: 20000 });
  await flow.press(page, 'Enter', 'Enter (approve, no comment)');
  await note.waitFor({ state: 'hidden', timeout: 20000 });
  flow.record();
}

/** alice holds and waits for nothing afterwards (the next step starts from a clean slate). */
async function giveEverythingBack() {
  const { grants } = await api('alice', 'GET', '/v1/grants?scope=mine&status=active');
  for (const g of grants) await api('alice', 'POST', `/v1/grants/${g.id}/relinquish`, {});
  const { requests } = await api('alice', 'GET', '/v1/requests?scope=mine&status=pending');
  for (const r of requests) await api('alice', 'POST', `/v1/requests/${r.id}/cancel`, {});
}

async function step9() {
  const page = pages.requester;
  await giveEverythingBack(); // whatever an earlier step left
  for (const p of Object.values(pages)) await closeToasts(p);
  const flow = new Flow('refused command → access → re-run (requester; needs approval)');
  // a developer's terminal, and a command that the console refuses
  await runCommand(page, 'Terminal: Create New Terminal', { timeoutMs: 60000 });
  await waitForTerminal(page, /[$#]\s*$/, 30000);
  const command = `curl -fsS ${orders.url}`;
  await page.keyboard.type(command);
  await page.keyboard.press('Enter');
  const refused = toast(page, /curl was refused with 403 Forbidden — Request read on Orders console\?/);
  await refused.waitFor({ timeout: 30000 });
  if (orders.served.at(-1) !== 403) throw new Error(`the console did not refuse the command (answers: ${orders.served})`);
  await waitForTerminal(page, /returned error: 403/, 5000);
  await shot(page, '9-requester-refusal-notice');
  state.refusalShot = await shot(page, '9-doc-refusal-notice', PANEL_AREA);
  await flow.click(refused.getByRole('button', { name: 'Request', exact: true }), 'Request (notification)');
  // bob decides in his own editor
  await toast(pages.approver, /New request from alice: Orders console \(read\) for 15m/).waitFor({ timeout: 30000 });
  await shot(pages.approver, '9-approver-new-request');
  await approveFromNotification('Orders console \\(read\\) for 15m', 'refused command → access (approver)');
  // granted: one notice offers to run the command again, in the terminal it failed in
  const rerun = toast(page, /Access to Orders console \(read\) granted until .* re-run .?curl -fsS http:\/\/localhost:\d+\/orders/);
  await rerun.waitFor({ timeout: 30000 });
  await shot(page, '9-requester-rerun-notice');
  state.rerunShot = await shot(page, '9-doc-rerun-notice', PANEL_AREA);
  const before = orders.served.length;
  await flow.click(rerun.getByRole('link', { name: 'Re-run' }), 'Re-run (notification)');
  await waitForTerminal(page, /orders: 42 open/, 30000);
  if (!orders.served.slice(before).includes(200)) throw new Error(`the re-run was not served (answers since: ${orders.served.slice(before)})`);
  flow.record('the command typed in the terminal is the work itself, not counted; Re-run is optional');
  await sleep(300);
  await shot(page, '9-requester-rerun-succeeded');
  // told once: Re-run took the place of the waiting notice and of the usual "approved" one
  const stale = (await notificationCentre(page)).filter((t) => /Orders console \(read\)/.test(t));
  if (stale.length) throw new Error(`the notification centre still tells of this request: ${JSON.stringify(stale)}`);
  await giveEverythingBack();
}

async function step10() {
  const page = pages.requester;
  const manifest = {
    needs: [
      { resource: 'prod-db', role: 'read', duration: '15m', justification: 'INC-4711: reading the slow-query plans' },
      { resource: 'orders-console', role: 'read', duration: '30m', justification: 'INC-4711: checking the affected orders' },
    ],
  };
  await giveEverythingBack(); // whatever an earlier step left
  // both people's repositories declare the same needs: alice's dark and bob's light editor show them
  for (const folder of Object.values(state.folders)) {
    mkdirSync(join(folder, '.vscode'), { recursive: true });
    writeFileSync(join(folder, '.vscode/elevate.json'), JSON.stringify(manifest, null, 2) + '\n');
  }
  for (const [role, p] of Object.entries(pages)) {
    await closeToasts(p);
    await openActivityContainer(p, 'Elevate');
    await expandPane(p, 'This Workspace');
    await viewRow(p, 'This Workspace', /Production database · read\s*not requested/).waitFor({ timeout: 30000 });
    await viewRow(p, 'This Workspace', /Orders console · read\s*not requested/).waitFor({ timeout: 10000 });
    if (role === 'approver') {
      await shot(p, '10-approver-this-workspace');
      state.workspaceLightShot = await shot(p, '10-doc-this-workspace-light', SIDEBAR);
    }
  }
  // a need's row opens the manifest, where it is declared
  await viewRow(page, 'This Workspace', 'Orders console · read').click();
  await page.locator('.editor-instance .view-lines', { hasText: 'orders-console' }).first().waitFor({ timeout: 15000 });
  await shot(page, '10-requester-this-workspace');
  const flow = new Flow('Request All (This Workspace)');
  const header = paneOf(page, 'This Workspace').locator('.pane-header').first();
  await header.hover();
  await flow.click(header.locator('.action-label[aria-label="Request All"]'), 'Request All (view title)');
  const box = quickInputBox(page);
  await quickInput(page)
    .locator('.quick-input-title', { hasText: /Request All \(Production database read, Orders console read\)/ })
    .waitFor({ timeout: 20000 });
  const prefilled = await box.inputValue();
  if (!/reading the slow-query plans; INC-4711: checking the affected orders/.test(prefilled))
    throw new Error(`the justification is not prefilled from the manifest: "${prefilled}"`);
  await flow.press(page, 'Enter', 'Enter (the prefilled justification)');
  // (a grant ending tomorrow shows its date first)
  await viewRow(page, 'This Workspace', /Production database · read\s*held until (\S+ \d{1,2} )?\d/).waitFor({ timeout: 20000 });
  await viewRow(page, 'This Workspace', /Orders console · read\s*pending/).waitFor({ timeout: 20000 });
  await toast(page, /Requested 2: 1 granted at once, 1 waiting for approval/).waitFor({ timeout: 20000 });
  flow.record('the justification is prefilled from the manifest');
  await shot(page, '10-requester-request-all');
  state.requestAllShot = await shot(page, '10-doc-request-all', ABOVE_PANEL);
  await giveEverythingBack();
  await viewRow(page, 'This Workspace', /Production database · read\s*not requested/).waitFor({ timeout: 20000 });
}

async function step11() {
  const page = pages.requester;
  await giveEverythingBack(); // whatever an earlier step left
  for (const p of Object.values(pages)) await closeToasts(p);
  // alice's .vscode/tasks.json (written at setup) holds the task; open beside the terminal for the screenshots
  await page.keyboard.press('Control+P');
  await quickInputBox(page).fill('tasks.json');
  await quickRow(page, 'tasks.json')
    .waitFor({ timeout: 10000 })
    .then(
      () => page.keyboard.press('Enter'),
      () => page.keyboard.press('Escape'),
    );
  await page
    .locator('.editor-instance .view-lines', { hasText: 'Export open orders' })
    .first()
    .waitFor({ timeout: 10000 })
    .catch(() => {});
  const flow = new Flow('elevate task from tasks.json (requester; needs approval)');
  await flow.command(page, 'Tasks: Run Task');
  const row = quickRow(page, 'Export open orders');
  await row.waitFor({ timeout: 30000 });
  await flow.click(row, 'Export open orders');
  await waitForTerminal(page, /waiting for approval by group dba \(0 of 1\)/, 30000);
  await shot(page, '11-requester-task-waiting');
  await approveFromNotification('Orders console \\(read\\) for 10m', 'elevate task (approver)');
  const text = await waitForTerminal(page, /given back/, 30000);
  if (!/orders: 42 open/.test(text)) throw new Error(`the task's command did not succeed:\n${text}`);
  flow.record();
  await shot(page, '11-requester-task-done');
  state.taskShot = await shot(page, '11-doc-task-done', WITHOUT_SIDEBAR);
  const { grants } = await api('alice', 'GET', '/v1/grants?scope=mine&status=active');
  if (grants.some((g) => g.resourceId === 'orders-console')) throw new Error('the task ended but its access was not given back');
}

async function step12() {
  const page = pages.requester;
  await giveEverythingBack();
  for (const p of Object.values(pages)) await closeToasts(p);
  const file = join(state.userDataDirs.requester, 'User/settings.json');
  // chat is off in every test editor; alice turns it on, which takes a reload of the window
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), 'chat.disableAIFeatures': false }, null, 2));
  await sleep(1000);
  await runCommand(page, 'Developer: Reload Window', { timeoutMs: 30000 });
  await page.locator('#workbench\\.parts\\.statusbar').waitFor({ timeout: 90000 });
  await statusItem(page, /./).waitFor({ timeout: 30000 });
  await runCommand(page, 'Chat: Open Chat', { timeoutMs: 60000 });
  const chat = page.locator('.part.auxiliarybar');
  const input = chat.locator('.interactive-input-editor').first();
  await input.waitFor({ timeout: 30000 });
  const ask = async () => {
    await input.click();
    // after a first request the participant stays in the input (it is sticky)
    const sticky = /@agent-stand-in/.test(await input.innerText());
    await page.keyboard.type(`${sticky ? '' : '@agent-stand-in '}prod-db read 15m INC-4711: read the slow-query plans`, { delay: 10 });
    await page.keyboard.press('Enter');
  };
  await ask();
  // the chat sends nothing without a model, and it lists the stand-in's only once a request found
  // none ("Language model unavailable"): then it is picked, and the request is made again
  await chat
    .getByText(/Request access with Elevate\?|Language model unavailable/)
    .filter({ visible: true })
    .first()
    .waitFor({ timeout: 30000 });
  if (await chat.getByText('Language model unavailable').filter({ visible: true }).first().isVisible()) {
    log('harness retry: the chat had no model for the first request; asking again once the stand-in model is picked');
    figures.harnessRetries = (figures.harnessRetries ?? 0) + 1;
    await chat.getByText('Stand-in model').filter({ visible: true }).first().waitFor({ timeout: 20000 });
    await ask();
  }
  // the chat asks before the tool runs, with what prepareInvocation says
  // (the chat also keeps hidden copies of its text for screen readers: only what is shown counts)
  await chat.getByText('Request access with Elevate?').filter({ visible: true }).first().waitFor({ timeout: 30000 });
  const allow = chat
    .getByRole('button', { name: /^Allow/ })
    .filter({ visible: true })
    .first();
  await allow.waitFor({ timeout: 10000 });
  await chat
    .getByText(/marked as made by an agent/)
    .filter({ visible: true })
    .first()
    .waitFor({ timeout: 10000 });
  const text = (await chat.innerText()).replace(/\s+/g, ' ');
  for (const want of [
    /An agent asks for read access to Production database for 15m/,
    /Justification: INC-4711: read the slow-query plans/,
    /The policy approves it at once/,
    /marked as made by an agent/,
  ]) {
    if (!want.test(text)) throw new Error(`the confirmation does not say ${want}: "${text}"`);
  }
  const early = [
    ...(await api('alice', 'GET', '/v1/requests?scope=mine&status=pending')).requests,
    ...(await api('alice', 'GET', '/v1/grants?scope=mine&status=active')).grants,
  ];
  if (early.length) throw new Error(`something was requested before the person confirmed: ${JSON.stringify(early.map((x) => x.id))}`);
  await shot(page, '12-requester-agent-confirmation');
  state.agentShot = await shot(page, '12-doc-agent-confirmation', CHAT);
  const flow = new Flow('agent request (confirm in the chat)');
  await flow.click(allow, 'Allow (chat confirmation)');
  await chat
    .getByText(/Elevate answered:/)
    .filter({ visible: true })
    .first()
    .waitFor({ timeout: 30000 });
  flow.record();
  await shot(page, '12-requester-agent-done');
  const { grants } = await api('alice', 'GET', '/v1/grants?scope=mine&status=active');
  const grant = grants.find((g) => g.resourceId === 'prod-db' && g.role === 'read');
  if (!grant) throw new Error('confirmed, yet no read grant on prod-db');
  const { events } = await api('alice', 'GET', '/v1/audit?action=request.created&limit=50');
  const created = events.find((e) => e.requestId === grant.requestId);
  if (created?.details?.via !== 'agent') throw new Error(`the audit log does not mark the request as made by an agent: ${JSON.stringify(created?.details)}`);
  await giveEverythingBack();
}

// ---------------------------------------------------------------- runner
const order = [
  [1, step1, [0]],
  [2, step2, [1]],
  [3, step3, [2]],
  [4, step4, [3]],
  [5, step5, [0]],
  [6, step6, [3]],
  [7, step7, [0]],
  [8, step8, [0]],
  [9, step9, [0]],
  [10, step10, [0]],
  [11, step11, [0]],
  [12, step12, [0]],
];

/** This run's logs: the Elevate server's, each code-server's, and (copied there when the editors stop) VS Code's own. */
function logsFor() {
  const paths = [SERVER_LOG, ...Object.values(editors).flatMap((e) => [e.logPath, e.logPath.replace(/\.log$/, '') + '-vscode-logs/'])];
  return paths.filter((p) => existsSync(p) || p.endsWith('-vscode-logs/'));
}

/** Files of VS Code's own logs (extension host, the Elevate output channel) for an editor. */
function vscodeLogs(editor) {
  const found = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/Elevate\.log$|exthost\.log$|remoteexthost\.log$/.test(f)) found.push(p);
    }
  };
  const copied = editor.logPath.replace(/\.log$/, '') + '-vscode-logs';
  const dir = existsSync(copied) ? copied : join(editor.userDataDir, 'logs');
  if (existsSync(dir)) {
    try {
      walk(dir);
    } catch {}
  }
  return found;
}

const ONLY = process.env.E2E_ONLY ? process.env.E2E_ONLY.split(',').map(Number) : undefined; // debugging: run some steps

async function runStep(n, fn, needs) {
  if (ONLY && !ONLY.includes(n)) {
    results[n] = { ok: false, reason: 'skipped (E2E_ONLY)' };
    return;
  }
  const blocked = needs.filter((d) => !(d === 0 ? results[0]?.ok : results[d]?.ok));
  if (blocked.length && !process.env.E2E_KEEP_GOING) {
    results[n] = { ok: false, reason: `not run: step ${blocked.map((d) => d || 'sign-in').join(', ')} failed` };
    console.log(`FAIL step ${n} ${STEPS[n]}: ${results[n].reason}`);
    return;
  }
  if (Date.now() - T_START > LIMIT_MS) {
    results[n] = { ok: false, reason: `not run: the run's time limit (${LIMIT_MS / 60000} min) was reached` };
    console.log(`FAIL step ${n} ${STEPS[n]}: ${results[n].reason}`);
    return;
  }
  const t = Date.now();
  try {
    await fn();
    results[n] = { ok: true };
    figures.durationsMs[`step ${n}`] = Date.now() - t;
    console.log(`PASS step ${n} ${STEPS[n]} (${secs(Date.now() - t)})`);
  } catch (e) {
    const paths = [];
    for (const [role, page] of Object.entries(pages)) {
      const p = await shot(page, `FAIL-step${n}-${role}`);
      if (p) paths.push(rel(p));
    }
    results[n] = { ok: false, reason: e.message.split('\n')[0], screenshots: paths };
    console.log(`FAIL step ${n} ${STEPS[n]}: ${results[n].reason}, screenshot ${paths.join(' ')}, logs ${logsFor().map(rel).join(' ')}`);
    if (e.stack) console.log(e.stack.split('\n').slice(1, 4).join('\n'));
    // printed here, next to the failure, so a CI excerpt that cuts the end still explains it
    for (const [role, page] of Object.entries(pages)) console.log(`${role} at the failure:\n${await diagnosis(page)}`);
  }
}

/** E2E_UPDATE_SCREENSHOTS=1: copies the README's screenshots from this run into docs/screenshots/. */
function updateReadmeScreenshots() {
  const wanted = {
    'my-access-countdown.png': state.grantShot,
    'request-detail.png': state.detailShot,
    'status-bar-warning.png': state.warnShot,
    // access where the work is (issue 15)
    'refusal-notice.png': state.refusalShot,
    'refusal-rerun.png': state.rerunShot,
    'this-workspace.png': state.requestAllShot,
    'this-workspace-light.png': state.workspaceLightShot,
    'elevate-task.png': state.taskShot,
    'agent-confirmation.png': state.agentShot,
  };
  const dir = join(ROOT, 'docs/screenshots');
  mkdirSync(dir, { recursive: true });
  for (const [name, from] of Object.entries(wanted)) {
    if (!from || !existsSync(from)) {
      log(`no screenshot for docs/screenshots/${name} in this run`);
      continue;
    }
    copyFileSync(from, join(dir, name));
    log(`docs/screenshots/${name} <- ${rel(from)} (${Math.round(statSync(from).size / 1024)} KiB)`);
  }
}

function printFigures() {
  const rows = [];
  for (const [name, f] of Object.entries(figures.interactions))
    rows.push([`interactions: ${name}`, `${f.interactions} (${f.clicks} clicks, ${f.keyPresses} keys; ${f.typedChars} chars typed apart)`]);
  for (const [name, ms] of Object.entries(figures.latencyMs)) rows.push([`latency: ${name}`, `${ms} ms`]);
  for (const [name, ms] of Object.entries(figures.durationsMs)) rows.push([`time: ${name}`, secs(ms)]);
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log('\nFriction figures');
  console.log(`${'figure'.padEnd(w)} | value`);
  console.log(`${'-'.repeat(w)}-|-${'-'.repeat(40)}`);
  for (const [k, v] of rows) console.log(`${k.padEnd(w)} | ${v}`);
  if (figures.harnessRetries) console.log(`harness retries (clicks that opened nothing and were made again): ${figures.harnessRetries}`);
  for (const name of ['auto-approvable request (sidebar → granted)', 'auto-approvable request, several roles (sidebar → granted)']) {
    const auto = figures.interactions[name];
    if (auto) console.log(`target: ${name} in <= 3 interactions (typing aside): ${auto.interactions} ${auto.interactions <= 3 ? 'met' : 'NOT met'}`);
  }
  figures.steps = results;
  figures.runtimeMs = Date.now() - T_START;
  writeFileSync(join(ART, 'figures.json'), JSON.stringify(figures, null, 2) + '\n');
  console.log(`(written to ${rel(join(ART, 'figures.json'))})\n`);
}

async function cleanup() {
  try {
    await browser?.close();
  } catch {}
  orders.server?.close();
  await Promise.all(Object.values(editors).map((e) => e.stop().catch(() => {})));
  if (server) await stopGroup(server.pid);
  if (work) rmSync(work, { recursive: true, force: true });
}

let setupError;
const watchdog = setTimeout(async () => {
  console.log(`FAIL: the e2e run exceeded ${(LIMIT_MS + 60000) / 60000} min; stopping everything`);
  await cleanup();
  console.log(`0 passed, ${Object.keys(STEPS).length} failed`);
  process.exit(1);
}, LIMIT_MS + 60000);
try {
  await setup();
  results[0] = { ok: true };
} catch (e) {
  setupError = e;
  results[0] = { ok: false, reason: e.message };
  console.log(`FAIL setup: ${e.message}`);
  for (const [role, page] of Object.entries(pages)) await shot(page, `FAIL-setup-${role}`);
}
if (results[0].ok) log(`setup done in ${secs(Date.now() - T_START)}`);
for (const [n, fn, needs] of order) await runStep(n, fn, needs);

const failedSteps = Object.entries(results).filter(([n, r]) => n !== '0' && !r.ok);
if (failedSteps.length || setupError) {
  // stop the editors first: that copies VS Code's own logs (extension host, Elevate channel) next to theirs
  await Promise.all(Object.values(editors).map((e) => e.stop().catch(() => {})));
  for (const p of logsFor()) if (!p.endsWith('/')) console.log(`\n--- tail of ${rel(p)}\n${tail(p, 25)}`);
  for (const e of Object.values(editors)) for (const p of vscodeLogs(e)) console.log(`\n--- tail of ${rel(p)}\n${tail(p, 25)}`);
}
printFigures();
if (process.env.E2E_UPDATE_SCREENSHOTS) updateReadmeScreenshots();
await cleanup();
clearTimeout(watchdog);
log(`e2e took ${secs(Date.now() - T_START)}; screenshots in ${rel(ART)}/`);
const passed = Object.keys(STEPS).filter((n) => results[n]?.ok).length;
console.log(`${passed} passed, ${Object.keys(STEPS).length - passed} failed`);
process.exit(passed === Object.keys(STEPS).length ? 0 : 1);
