// The manifest and the code name the same things: every id in constants.ts is contributed,
// palette commands are categorised and guarded, item-only ones are hidden.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Commands, Views } from '../../../extension/constants';
import { MEDIA } from '../../../extension/views/html';

const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8'));
const c = pkg.contributes;

describe('manifest', () => {
  it('everyCommandConstant_isContributedWithTheElevateCategory', () => {
    const contributed = new Map(c.commands.map((x: { command: string; category: string }) => [x.command, x]));
    for (const id of Object.values(Commands)) {
      assert.ok(contributed.has(id), id);
      assert.equal((contributed.get(id) as { category: string }).category, 'Elevate', id);
    }
  });
  it('contractCommands_existWithTheirTitles', () => {
    for (const id of [
      'elevate.signIn',
      'elevate.signOut',
      'elevate.requestAccess',
      'elevate.extendGrant',
      'elevate.relinquishGrant',
      'elevate.approveRequest',
      'elevate.denyRequest',
      'elevate.refresh',
      'elevate.showAuditLog',
    ]) {
      assert.ok(
        c.commands.some((x: { command: string }) => x.command === id),
        id,
      );
    }
    assert.equal(c.commands.find((x: { command: string }) => x.command === 'elevate.extendGrant').title, 'Extend Grant');
  });
  it('itemOnlyCommands_areHiddenFromThePalette', () => {
    const palette = new Map(c.menus.commandPalette.map((x: { command: string; when: string }) => [x.command, x.when]));
    assert.equal(palette.get(Commands.showGrantActions), 'false');
    assert.equal(palette.get(Commands.showRequestDetail), 'false');
  });
  it('paletteActions_havePreconditions', () => {
    const palette = new Map(c.menus.commandPalette.map((x: { command: string; when: string }) => [x.command, x.when]));
    for (const id of [
      Commands.requestAccess,
      Commands.extendGrant,
      Commands.relinquishGrant,
      Commands.approveRequest,
      Commands.denyRequest,
      Commands.signOut,
      Commands.showAuditLog,
      Commands.copyCredentials,
      Commands.openTerminal,
    ]) {
      assert.ok(palette.get(id), id);
    }
  });
  it('views_areInTheElevateContainer_andApprovalsOnlyForApprovers', () => {
    const ids = c.views.elevate.map((v: { id: string }) => v.id);
    for (const id of [Views.resources, Views.myAccess, Views.approvals]) assert.ok(ids.includes(id), id);
    assert.equal(c.views.elevate.find((v: { id: string }) => v.id === Views.approvals).when, 'elevate.isApprover');
    assert.ok(c.viewsContainers.activitybar.some((v: { id: string; icon: string }) => v.id === Views.container && v.icon.endsWith('.svg')));
  });
  it('everyView_hasWelcomeContentForSignedOutUnreachableAndError', () => {
    for (const view of [Views.resources, Views.myAccess, Views.approvals]) {
      for (const state of ['signedOut', 'unreachable', 'error']) {
        assert.ok(
          c.viewsWelcome.some((w: { view: string; when: string }) => w.view === view && w.when === `elevate.state == ${state}`),
          `${view} ${state}`,
        );
      }
    }
  });
  it('settings_serverUrlIsApplicationScoped_andWarningsDefaultToFiveAndOne', () => {
    const p = c.configuration.properties;
    assert.equal(p['elevate.serverUrl'].default, 'http://127.0.0.1:7410');
    assert.equal(p['elevate.serverUrl'].scope, 'application');
    assert.deepEqual(p['elevate.expiryWarningMinutes'].default, [5, 1]);
  });
  it('extensionKind_prefersTheUiSide', () => {
    assert.deepEqual(pkg.extensionKind, ['ui', 'workspace']);
  });
});

// Installing where users are (issue 14, item 15). The type check (npm test's static gate)
// compiles the extension against @types/vscode at exactly the engines version, so an API newer
// than the oldest supported editor does not compile.
describe('marketplace package', () => {
  const root = join(__dirname, '../../..');
  const readme = readFileSync(join(root, 'extension/README.md'), 'utf8');
  const ignore = readFileSync(join(root, '.vscodeignore'), 'utf8').split('\n');
  const packaged = (file: string) => ignore.includes(`!${file}`);

  it('enginesVscode_isTheOldestSupported_andTypesVscodeIsExactlyThatVersion', () => {
    // 1.93: the terminal shell-execution events the refusal flow follows are the newest API used
    assert.equal(pkg.engines.vscode, '^1.93.0');
    assert.equal(pkg.devDependencies['@types/vscode'], '1.93.0', 'exact, and no newer than engines.vscode');
    const installed = JSON.parse(readFileSync(join(root, 'node_modules/@types/vscode/package.json'), 'utf8')).version;
    assert.equal(installed, '1.93.0', 'the type check runs against the engines version');
  });
  it('isBuiltBeforePackaging_andCarriesLicenseChangelogAndKeywords', () => {
    assert.equal(pkg.scripts['vscode:prepublish'], 'node scripts/build.mjs extension');
    for (const f of ['LICENSE', 'CHANGELOG.md']) {
      assert.ok(existsSync(join(root, f)), f);
      assert.ok(packaged(f), `${f} goes into the .vsix`);
    }
    assert.match(readFileSync(join(root, 'LICENSE'), 'utf8'), new RegExp(`^${pkg.license} License`));
    assert.ok(pkg.keywords.length >= 5 && pkg.keywords.length <= 30, 'the marketplace takes up to 30 keywords');
    assert.doesNotMatch(pkg.scripts.package, /--skip-license/);
  });
  it('webviewStylesheetAndScripts_arePackaged', () => {
    // the webviews load them from media/ (extension/views/html.ts); without them they are unstyled and inert
    for (const file of Object.values(MEDIA)) {
      assert.ok(existsSync(join(root, 'media', file)), file);
      assert.ok(packaged(`media/${file}`), `media/${file} goes into the .vsix`);
    }
  });
  it('readme_showsScreenshotsThatArePackaged', () => {
    const images = [...readme.matchAll(/!\[[^\]]+\]\(([^)]+)\)/g)].map((m) => m[1]);
    assert.ok(images.length >= 2, 'screenshots in the marketplace README');
    for (const img of images) {
      assert.ok(existsSync(join(root, img)), img);
      assert.ok(packaged(img), `${img} goes into the .vsix`);
    }
  });
  it('readme_firstStepsWorkWithOnlyTheVsix_noPackageThatDoesNotExist', () => {
    // elevate-server is not published on npm: `npx elevate-server demo` fails for a newcomer
    assert.doesNotMatch(readme, /npx elevate-server/);
    assert.equal(pkg.private, true, 'the server package is not published, so the README must not pretend it is');
    assert.match(readme, /npm run demo/);
    assert.match(readme, /Requires VS Code 1\.93 or newer/);
  });
});
