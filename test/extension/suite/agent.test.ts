/// <reference types="mocha" />
// Coding agents ask, people decide (issue 15, item 6), in a real VS Code against the real server:
// both language-model tools are registered and invoked through lm.lm.invokeTool; the
// confirmation the request tool prepares shows exactly what will be requested; results hold no
// credentials; the audit log marks the request as made via an agent.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { AccessRequest, CredentialsResponse, Grant } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';
import { lmTools, type LmToolResult, type LmToolsApi } from '../../../extension/agent/lm';
import { auditOf, cleanUp, http, SERVER, signedIn, TOKENS, waitFor } from './lib';

let lm: LmToolsApi;
const textOf = (r: LmToolResult) => r.content.map((p) => (p instanceof lm.LanguageModelTextPart ? p.value : '')).join('');
const token = new vscode.CancellationTokenSource().token;

describe('Agent tools', function () {
  this.timeout(90_000);
  let api: ElevateApi;

  before(async function () {
    if (!SERVER || !TOKENS.alice || !TOKENS.bob || !TOKENS.carol) this.skip();
    const found = lmTools();
    assert.ok(found, `this editor (${vscode.version}) has the language-model tools API`);
    lm = found;
    api = await signedIn('alice');
  });
  afterEach(async () => {
    await cleanUp('alice');
    await waitFor('alice has nothing active', () => api.model.grants.length === 0 && api.model.myRequests.length === 0);
  });

  it('bothToolsAreRegistered_withTheirSchemas', () => {
    const tools = lm.lm.tools.filter((t) => t.name.startsWith('elevate_'));
    assert.deepEqual(tools.map((t) => t.name).sort(), ['elevate_listAccess', 'elevate_requestAccess']);
    const request = tools.find((t) => t.name === 'elevate_requestAccess')!;
    assert.deepEqual((request.inputSchema as { required: string[] }).required, ['resource', 'role', 'justification']);
  });

  it('requestAccess_confirmationShowsTheRequest_invokeMarksItViaAgent_andNothingHoldsTheCredentials', async () => {
    const input = { resource: 'pg-db', role: 'read', duration: '10m', justification: 'Agent: check why orders are slow' };
    // what the person sees before anything is sent
    const prepared = await api.context.agent.requestAccess.prepareInvocation!({ input }, token);
    const message = prepared?.confirmationMessages?.message;
    assert.equal(prepared?.confirmationMessages?.title, 'Request access with Elevate?');
    assert.ok(message instanceof vscode.MarkdownString);
    assert.match(message.value, /\*\*read\*\* access to \*\*Team database\*\* for \*\*10m\*\*/);
    const shown = message.value.replace(/\\(.)/g, '$1');
    assert.match(shown, /Justification: Agent: check why orders are slow\n/);
    assert.match(shown, /It needs approval by group dba\./);
    assert.equal(
      (await http<{ requests: AccessRequest[] }>('alice', 'GET', '/v1/requests?scope=mine&status=pending')).requests.length,
      0,
      'preparing sends nothing',
    );

    const result = textOf(await lm.lm.invokeTool('elevate_requestAccess', { input, toolInvocationToken: undefined }, token));
    const request = await waitFor(
      'the request',
      async () => (await http<{ requests: AccessRequest[] }>('alice', 'GET', '/v1/requests?scope=mine&status=pending')).requests[0],
    );
    assert.equal(
      result,
      `Request ${request.id} for read access to Team database is pending, waiting for approval by group dba (1 needed). Ask the user to check back; do not request it again.`,
    );
    assert.deepEqual([request.resourceId, request.role, request.durationSeconds, request.justification], ['pg-db', 'read', 600, input.justification]);
    const created = await auditOf('request.created', request.id);
    assert.equal(created.length, 1);
    assert.equal(created[0].details.via, 'agent');

    // approved: the grant issues a login; listing access names it but never its credentials
    const { grant } = await http<{ grant: Grant }>('bob', 'POST', `/v1/requests/${request.id}/approve`, {});
    await waitFor('the grant in the editor', () => api.model.grant(grant.id));
    const creds = await waitFor('the credentials', () =>
      http<CredentialsResponse>('alice', 'GET', `/v1/grants/${grant.id}/credentials`).catch(() => undefined),
    );
    const listed = textOf(await lm.lm.invokeTool('elevate_listAccess', { input: {}, toolInvocationToken: undefined }, token));
    assert.match(listed, new RegExp(`- read on pg-db \\(Team database\\) until \\S+ .*grant ${grant.id}`));
    assert.match(listed, /- auto-db \(Auto database\): read, write; at most 2h; at once: read up to 30m/);
    for (const secret of [creds.credentials.PGPASSWORD, creds.credentials.PGUSER]) assert.ok(!listed.includes(secret) && !result.includes(secret));
  });

  it('requestAccess_approvedAtOnce_saysSo_andGivesNoCredentials', async () => {
    const result = textOf(
      await lm.lm.invokeTool(
        'elevate_requestAccess',
        { input: { resource: 'auto-db', role: 'read', justification: 'Agent: nightly report' }, toolInvocationToken: undefined },
        token,
      ),
    );
    assert.match(result, /^Granted: read access to Auto database until \S+ \(request req_\S+, grant grt_\S+\)\. Credentials are not given to agents;/);
  });

  it('requestAccess_withAnUnknownRole_isExplainedToTheAgent_andNothingIsRequested', async () => {
    const result = textOf(
      await lm.lm.invokeTool(
        'elevate_requestAccess',
        { input: { resource: 'auto-db', role: 'owner', justification: 'x' }, toolInvocationToken: undefined },
        token,
      ),
    );
    assert.equal(result, 'Auto database has no role "owner"; its roles: read, write.');
    assert.equal(
      (await http<{ requests: AccessRequest[] }>('alice', 'GET', '/v1/requests?scope=mine')).requests.filter((r) => r.justification === 'x').length,
      0,
    );
  });
});
