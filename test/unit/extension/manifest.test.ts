// The manifest and the code name the same things: every id in constants.ts is contributed,
// palette commands are categorised and guarded, item-only ones are hidden.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Commands, Views } from '../../../extension/constants';

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
    for (const id of ['elevate.signIn', 'elevate.signOut', 'elevate.requestAccess', 'elevate.extendGrant', 'elevate.relinquishGrant', 'elevate.approveRequest', 'elevate.denyRequest', 'elevate.refresh', 'elevate.showAuditLog']) {
      assert.ok(c.commands.some((x: { command: string }) => x.command === id), id);
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
    for (const id of [Commands.requestAccess, Commands.extendGrant, Commands.relinquishGrant, Commands.approveRequest, Commands.denyRequest, Commands.signOut, Commands.showAuditLog, Commands.copyCredentials, Commands.openTerminal]) {
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
        assert.ok(c.viewsWelcome.some((w: { view: string; when: string }) => w.view === view && w.when === `elevate.state == ${state}`), `${view} ${state}`);
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
