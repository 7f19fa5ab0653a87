// "Elevate" in the Accounts menu: a vscode.AuthenticationProvider (id `elevate`) over the same
// Session the rest of the extension uses. Signing in runs the device flow against the server's
// identity provider: the browser opens on the server's own verification page, a notification
// shows the code with a Cancel, and the editor polls until the browser sign-in is done.
import * as vscode from 'vscode';
import { originOf } from '../api/client';
import { errorMessage } from '../api/errors';
import { configuredServerUrl, type Session } from '../api/session';
import { CONFIG_SECTION, ContextKeys, Settings, tokenSecretKey } from '../constants';
import type { ElevateModel } from '../model/model';
import { Disposable } from '../util/lifecycle';
import { DeviceFlow, SignInCancelled, type DeviceFlowOptions } from './deviceFlow';

export const AUTH_PROVIDER_ID = 'elevate';
export const AUTH_PROVIDER_LABEL = 'Elevate';

/** Whether the server at `url` offers sign-in through an identity provider. */
export async function offersBrowserSignIn(url: string, o?: DeviceFlowOptions): Promise<boolean> {
  try {
    return (await new DeviceFlow(originOf(url), o).config()).methods.includes('oidc-device');
  } catch {
    return false; // unreachable or old: the token sign-in still works, and says why if it does not
  }
}

/**
 * The device flow with its UI: opens the verification page, shows the code with a Cancel until
 * the browser sign-in is done, then signs the Session in with the new session token.
 */
export interface BrowserSignInOptions extends DeviceFlowOptions {
  /** how the verification page is opened (vscode.env.openExternal; the extension's tests drive their own browser) */
  open?: (url: string) => Thenable<boolean>;
}

export async function signInWithBrowser(
  session: Session,
  url: string,
  log: vscode.LogOutputChannel,
  o: BrowserSignInOptions = {},
): Promise<{ name: string; origin: string }> {
  const flow = new DeviceFlow(originOf(url), o);
  const device = await flow.start(`${vscode.env.appName} (${vscode.env.uriScheme})`);
  log.info(`browser sign-in to ${flow.origin} started`);
  const token = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Elevate'), cancellable: true },
    async (progress, cancel) => {
      const abort = new AbortController();
      const sub = cancel.onCancellationRequested(() => abort.abort());
      try {
        progress.report({ message: vscode.l10n.t('Confirm the code {0} in your browser to sign in…', device.user_code) });
        const opened = await (o.open ?? ((u: string) => vscode.env.openExternal(vscode.Uri.parse(u, true))))(device.verification_uri_complete);
        if (!opened) progress.report({ message: vscode.l10n.t('Open {0} and enter the code {1} to sign in…', device.verification_uri, device.user_code) });
        return await flow.poll(device, abort.signal);
      } finally {
        sub.dispose();
      }
    },
  );
  return session.signIn(url, token.access_token);
}

export class ElevateAuthProvider extends Disposable implements vscode.AuthenticationProvider {
  private readonly changes = this.register(new vscode.EventEmitter<vscode.AuthenticationProviderAuthenticationSessionsChangeEvent>());
  readonly onDidChangeSessions = this.changes.event;
  private current: vscode.AuthenticationSession | undefined;
  /** set by the extension's own tests only (ElevateApi), to complete the browser part themselves */
  browserOptions: BrowserSignInOptions = {};

  constructor(
    private readonly session: Session,
    private readonly model: ElevateModel,
    private readonly secrets: vscode.SecretStorage,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    // the Accounts menu follows whoever the model says is signed in
    this.register(this.model.onDidChange((k) => (k.has('me') || k.has('connection')) && void this.sync()));
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${CONFIG_SECTION}.${Settings.serverUrl}`)) void offerAccountsSignIn(this.model).catch(() => undefined);
      }),
    );
  }

  private async snapshot(): Promise<vscode.AuthenticationSession | undefined> {
    const client = this.session.client;
    const me = this.model.me;
    if (!client || !me) return undefined;
    const token = await this.secrets.get(tokenSecretKey(client.origin));
    if (!token) return undefined;
    return { id: `${client.origin}#${me.id}`, accessToken: token, account: { id: me.id, label: `${me.name} (${new URL(client.origin).host})` }, scopes: [] };
  }

  private async sync(): Promise<void> {
    const next = await this.snapshot();
    const prev = this.current;
    if (prev?.id === next?.id && prev?.accessToken === next?.accessToken) return;
    this.current = next;
    this.changes.fire({ added: next && !prev ? [next] : [], removed: prev && !next ? [prev] : [], changed: prev && next ? [next] : [] });
    // a session that ended (expired, signed out elsewhere): offer signing in again in the Accounts menu
    if (prev && !next) await offerAccountsSignIn(this.model).catch((e: unknown) => this.log.warn(`cannot offer sign-in: ${errorMessage(e)}`));
  }

  async getSessions(): Promise<vscode.AuthenticationSession[]> {
    const s = await this.snapshot();
    return s ? [s] : [];
  }

  async createSession(): Promise<vscode.AuthenticationSession> {
    const url = configuredServerUrl();
    if (!(await offersBrowserSignIn(url))) {
      throw new Error(vscode.l10n.t('{0} does not offer sign-in through an identity provider. Use "Elevate: Sign In" with a token.', originOf(url)));
    }
    try {
      await signInWithBrowser(this.session, url, this.log, this.browserOptions);
    } catch (err) {
      if (!(err instanceof SignInCancelled)) this.log.error(`browser sign-in failed: ${errorMessage(err)}`);
      throw err;
    }
    await this.sync();
    const s = this.current ?? (await this.snapshot());
    if (!s) throw new Error(vscode.l10n.t('Signed in, but the session could not be read back.'));
    return s;
  }

  async removeSession(): Promise<void> {
    await this.session.signOut();
    await this.sync();
  }
}

/**
 * Whether the configured server offers browser sign-in, as the context key the welcome views and
 * the palette use; and when signed out of such a server, a request for a session that creates
 * none, which puts "Sign in with Elevate" in the Accounts menu (no popup).
 */
export async function offerAccountsSignIn(model: ElevateModel): Promise<void> {
  const offered = await offersBrowserSignIn(configuredServerUrl());
  await vscode.commands.executeCommand('setContext', ContextKeys.browserSignIn, offered);
  if (offered && model.state === 'signedOut') await vscode.authentication.getSession(AUTH_PROVIDER_ID, [], { createIfNone: false });
}

/**
 * The first choice of "Elevate: Sign In" when the server offers an identity provider: the
 * browser, or a token (service accounts, servers without one). 'done' when signed in through
 * the browser, 'token' to go on with the token step, undefined when dismissed.
 */
export async function chooseSignIn(session: Session, url: string, log: vscode.LogOutputChannel): Promise<'done' | 'token' | undefined> {
  if (!(await offersBrowserSignIn(url))) return 'token';
  const browser = {
    label: vscode.l10n.t('$(globe) Sign in with your identity provider'),
    detail: vscode.l10n.t('Opens your browser; confirm the code shown here.'),
  };
  const token = {
    label: vscode.l10n.t('$(key) Sign in with a token…'),
    detail: vscode.l10n.t('For service accounts, or a token from `elevate-server token issue`.'),
  };
  const pick = await vscode.window.showQuickPick([browser, token], { title: vscode.l10n.t('Sign In to Elevate'), placeHolder: originOf(url) });
  if (!pick) return undefined;
  if (pick === token) return 'token';
  let who: { name: string; origin: string };
  try {
    who = await signInWithBrowser(session, url, log);
  } catch (err) {
    if (err instanceof SignInCancelled) return undefined;
    throw err;
  }
  void vscode.window.showInformationMessage(vscode.l10n.t('Signed in to {0} as {1}.', who.origin, who.name));
  return 'done';
}
