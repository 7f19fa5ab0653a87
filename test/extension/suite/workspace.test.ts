/// <reference types="mocha" />
// The workspace access manifest (issue 15, item 3) in a real VS Code against the real server:
// .vscode/elevate.json's schema errors (the editor's JSON validation with the contributed schema)
// and what the server does not offer (Elevate's own check) in the Problems view, the This
// Workspace states, and Request All with one justification.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ElevateApi } from '../../../extension/extension';
import { cleanUp, SERVER, signedIn, TOKENS, waitFor, workspaceFolder } from './lib';

const MANIFEST = {
  needs: [
    { resource: 'auto-db', role: 'read', duration: '15m', justification: 'nightly report' },
    { resource: 'prod-db', role: 'read', duration: '1h' },
    { resource: 'billing-dbx', role: 'read' },
    { resource: 'glass-db', role: 'admin', durration: '1h' },
  ],
};

describe('Workspace access manifest', function () {
  this.timeout(90_000);
  let api: ElevateApi;
  let uri: vscode.Uri;

  before(async function () {
    if (!SERVER || !TOKENS.alice) this.skip();
    api = await signedIn('alice');
    uri = vscode.Uri.joinPath(workspaceFolder(), '.vscode/elevate.json');
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(JSON.stringify(MANIFEST, null, 2)));
    await waitFor('the manifest read', () => api.context.needs.needs.length === 4);
  });
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    if (uri) await vscode.workspace.fs.delete(uri).then(undefined, () => undefined);
    if (api) await waitFor('the manifest forgotten', () => api.context.needs.needs.length === 0);
    if (TOKENS.alice) await cleanUp('alice');
  });

  it('unknownResources_andSchemaErrors_areInTheProblemsView', async () => {
    await vscode.window.showTextDocument(uri);
    const diagnostics = await waitFor(
      "Elevate's and the schema's problems",
      () => {
        const d = vscode.languages.getDiagnostics(uri);
        return d.some((x) => x.source === 'Elevate') && d.some((x) => x.source !== 'Elevate') && d;
      },
      30_000,
    );
    const ours = diagnostics.filter((d) => d.source === 'Elevate');
    assert.deepEqual(
      ours.map((d) => d.severity),
      [vscode.DiagnosticSeverity.Error],
    );
    assert.match(ours[0].message, /^The Elevate server offers no resource "billing-dbx" \(it offers: [\w, -]*\bpg-db\b[\w, -]*\)\.$/);
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.equal(doc.getText(ours[0].range), '"billing-dbx"');
    const schema = diagnostics.filter((d) => d.source !== 'Elevate');
    assert.ok(
      schema.some((d) => /durration/.test(d.message) && doc.getText(d.range).includes('durration')),
      JSON.stringify(schema.map((d) => d.message)),
    );
  });

  it('thisWorkspace_showsEachNeedsState_andRequestAllRequestsTheOpenOnesWithOneJustification', async () => {
    const describe = () =>
      api.context.needs.getChildren().map((n) => {
        const item = api.context.needs.getTreeItem(n);
        return `${String(item.label)}: ${String(item.description)}`;
      });
    assert.deepEqual(describe(), [
      'Auto database · read: not requested',
      'Production database · read: not requested',
      'billing-dbx · read: not offered by the server',
      'Incident database · admin: not requested',
    ]);

    const outcomes = await api.context.needs.requestAll({ justification: 'Release 4.2: reports and checks' });
    assert.deepEqual(
      outcomes.map((o) => [o.need.resource, o.request?.status, o.request?.durationSeconds, o.request?.justification, !!o.grant, o.error]),
      [
        ['auto-db', 'approved', 900, 'Release 4.2: reports and checks', true, undefined],
        ['prod-db', 'pending', 3600, 'Release 4.2: reports and checks', false, undefined],
        ['glass-db', 'pending', 3600, 'Release 4.2: reports and checks', false, undefined],
      ],
    );
    const states = await waitFor('the states updated', () => {
      const s = describe();
      return /held until/.test(s[0]) && s;
    });
    // (a grant ending tomorrow shows its date first: formatClockTime)
    assert.match(states[0], /^Auto database · read: held until (\S+ \d{1,2} )?\d{1,2}:\d\d/);
    assert.deepEqual(states.slice(1), [
      'Production database · read: pending',
      'billing-dbx · read: not offered by the server',
      'Incident database · admin: pending',
    ]);

    // nothing left to ask for: Request All asks nothing and requests nothing
    assert.deepEqual(await api.context.needs.requestAll({ justification: 'again' }), []);
  });
});
