// Elevate: Sign In — server URL (prefilled from elevate.serverUrl), then the token; both are
// checked with /v1/me before anything is stored.
import * as vscode from 'vscode';
import { originOf } from '../api/client';
import { configuredServerUrl } from '../api/session';
import { chooseSignIn } from '../auth/provider';
import { Commands } from '../constants';
import { BACK, inputStep } from './flow';
import { Cancelled, registerCommand, withProgress, type Deps } from './deps';

export function registerSignIn(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.signIn, async () => {
    const title = vscode.l10n.t('Sign In to Elevate');
    let url = configuredServerUrl();
    for (;;) {
      const typedUrl = await inputStep({
        title, step: 1, totalSteps: 2, canGoBack: false,
        prompt: vscode.l10n.t('Elevate server URL'),
        value: url,
        validate: (v) => {
          try {
            originOf(v);
            return undefined;
          } catch (err) {
            return err instanceof Error ? err.message : String(err);
          }
        },
      });
      if (typedUrl === undefined || typedUrl === BACK) throw new Cancelled();
      url = typedUrl.trim();
      const way = await chooseSignIn(deps.session, url, deps.log); // the identity provider, when the server has one
      if (way === undefined) throw new Cancelled();
      if (way === 'done') return;
      const token = await inputStep({
        title, step: 2, totalSteps: 2, canGoBack: true, password: true,
        prompt: vscode.l10n.t('Your Elevate token for {0} (from `elevate-server token issue <you>`)', originOf(url)),
        validate: (v) => (v.trim() ? undefined : vscode.l10n.t('Paste your token.')),
      });
      if (token === BACK) continue;
      if (token === undefined) throw new Cancelled();
      const who = await withProgress(vscode.l10n.t('Signing in to {0}…', originOf(url)), () => deps.session.signIn(url, token));
      void vscode.window.showInformationMessage(vscode.l10n.t('Signed in to {0} as {1}.', who.origin, who.name));
      return;
    }
  });
}
