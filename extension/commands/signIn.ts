// Elevate: Sign In — the server URL (prefilled from elevate.serverUrl, checked to be an Elevate
// server when entered), then the token (checked with /v1/me before anything is stored). A failure
// keeps what was entered and says what is wrong in place; nothing needs retyping.
import * as vscode from 'vscode';
import { originOf, probeServer } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';
import { configuredServerUrl } from '../api/session';
import { chooseSignIn } from '../auth/provider';
import { Commands } from '../constants';
import { BACK, inputStep } from './flow';
import { Cancelled, registerCommand, type Deps } from './deps';

export function registerSignIn(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.signIn, async () => {
    const title = vscode.l10n.t('Sign In to Elevate');
    let url = configuredServerUrl();
    let who: { name: string; origin: string } | undefined;
    for (;;) {
      const typedUrl = await inputStep({
        title,
        step: 1,
        totalSteps: 2,
        canGoBack: false,
        prompt: vscode.l10n.t('Elevate server URL'),
        value: url,
        validate: (v) => {
          try {
            originOf(v);
            return undefined;
          } catch (err) {
            return errorMessage(err);
          }
        },
        check: (v) => probeServer(originOf(v)),
      });
      if (typedUrl === undefined || typedUrl === BACK) throw new Cancelled();
      url = typedUrl.trim();
      const way = await chooseSignIn(deps.session, url, deps.log); // the identity provider, when the server has one
      if (way === undefined) throw new Cancelled();
      if (way === 'done') return;
      const origin = originOf(url);
      const token = await inputStep({
        title,
        step: 2,
        totalSteps: 2,
        canGoBack: true,
        password: true,
        prompt: vscode.l10n.t('Paste the token your Elevate admin gave you for {0}', origin),
        placeholder: 'elv_…',
        validate: (v) => (v.trim() ? undefined : vscode.l10n.t('Paste your token.')),
        // a refused token is said here, with the URL kept (not in a toast after the box closed)
        check: async (v) => {
          try {
            who = await deps.session.signIn(url, v);
            return undefined;
          } catch (err) {
            if (err instanceof ApiError && err.isUnauthenticated)
              return vscode.l10n.t('{0} does not accept this token (mistyped, expired or revoked?). Ask your Elevate admin for a new one.', origin);
            return errorMessage(err);
          }
        },
      });
      if (token === BACK) continue;
      if (token === undefined || !who) throw new Cancelled();
      void vscode.window.showInformationMessage(vscode.l10n.t('Signed in to {0} as {1}.', who.origin, who.name));
      return;
    }
  });
}
