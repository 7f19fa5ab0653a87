/// <reference types="mocha" />
// Signing in through the company's identity provider, inside a real VS Code extension host: the
// Accounts menu's provider (id `elevate`) runs the device flow against the real server and the
// real IdP started by test/extension/run.mjs. The browser part (confirm the code, log in at the
// IdP) is done by an HTTP client keeping cookies, handed the URL the editor would open.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { AccessRequest, Grant } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';
import { Browser, field, formAction } from '../../helpers/browser';
import { SERVER, waitFor } from './lib';

/** What a person does in the browser the editor opened: check the code, continue, log in. */
async function completeInBrowser(url: string, user: string, password: string): Promise<string> {
  const b = new Browser();
  const page = await b.browse(url);
  assert.equal(page.status, 200, page.text);
  const confirm = await b.request(
    'POST',
    new URL('/auth/device', url).href,
    { user_code: field(page.text, 'user_code'), csrf: field(page.text, 'csrf') },
    {
      origin: new URL(url).origin,
      'sec-fetch-site': 'same-origin',
    },
  );
  const login = await b.browse(new URL(confirm.headers.get('location') ?? '', url).href);
  const done = await b.submit(formAction(login.text, login.url), { username: user, password });
  return done.text;
}

describe('Sign in through the identity provider', function () {
  this.timeout(90_000);
  let api: ElevateApi;

  before(async function () {
    if (!SERVER) this.skip();
    const config = (await fetch(`${SERVER}/v1/auth/config`).then((r) => r.json())) as { methods?: string[] };
    if (!config.methods?.includes('oidc-device')) this.skip();
    const ext = vscode.extensions.getExtension<ElevateApi>('elevate.elevate');
    assert.ok(ext, 'extension not installed');
    api = await ext.activate();
  });

  it('signInWithCompanyAccount_runsTheAccountsProvidersDeviceFlow_requestsAccess_andSignsOutOfTheServerSession', async () => {
    await vscode.commands.executeCommand('elevate.signOut');
    await waitFor('signed out', () => api.model.state === 'signedOut');
    assert.deepEqual(await api.auth.getSessions(), []);

    let browser: Promise<string> | undefined;
    api.auth.browserOptions = {
      open: async (url) => {
        assert.match(url, new RegExp(`^${SERVER}/auth/device\\?user_code=[A-Z]{4}-[A-Z]{4}$`));
        browser = completeInBrowser(url, 'alice', 'alice-demo');
        return true;
      },
    };
    try {
      // the welcome views' one-click "Sign In with Your Company Account" (the Accounts menu's provider underneath)
      await vscode.commands.executeCommand('elevate.signInWithBrowser');
      assert.ok(browser, 'the verification page was opened');
      assert.match(await browser, /Signed in as <strong>alice<\/strong> — return to your editor/);
    } finally {
      api.auth.browserOptions = {};
    }
    await waitFor('ready as alice', () => api.model.state === 'ready' && api.model.me?.id === 'alice');
    assert.deepEqual(api.model.me?.groups, ['developers', 'engineering'], 'the IdP groups are added to the listed ones');
    const [s] = await api.auth.getSessions();
    assert.equal(s.account.id, 'alice');
    const token = s.accessToken;

    const created = (await vscode.commands.executeCommand('elevate.requestAccess', {
      resourceId: 'auto-db',
      role: 'read',
      durationSeconds: 600,
      justification: 'integration test: signed in through the IdP',
    })) as { request: AccessRequest; grant?: Grant } | undefined;
    assert.ok(created?.grant, 'auto-approved at once');
    await waitFor('the grant in My Access', () => api.model.grant(created.grant!.id));
    await vscode.commands.executeCommand('elevate.relinquishGrant', created.grant.id, { confirm: false });

    await api.auth.removeSession();
    await waitFor('signed out', () => api.model.state === 'signedOut');
    await waitFor('the server session ended', async () => (await fetch(`${SERVER}/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status === 401);
  });
});
