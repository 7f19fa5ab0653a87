// Wiring only. Everything is created and registered synchronously; the network comes after
// (session.start()), so every command, view and status item exists even while the server is down.
import * as vscode from 'vscode';
import { Session } from './api/session';
import { AUTH_PROVIDER_ID, AUTH_PROVIDER_LABEL, ElevateAuthProvider, offerAccountsSignIn } from './auth/provider';
import { registerApproveRequest } from './commands/approveRequest';
import { registerCancelRequest } from './commands/cancelRequest';
import { registerCopyCredentials } from './commands/copyCredentials';
import { registerCopyId, registerCopyRequestLink } from './commands/copyLinks';
import type { Deps } from './commands/deps';
import { registerDenyRequest } from './commands/denyRequest';
import { registerExtendGrant } from './commands/extendGrant';
import { registerOpenSettings, registerShowLog } from './commands/openSettings';
import { registerOpenTerminal } from './commands/openTerminal';
import { registerRefresh } from './commands/refresh';
import { registerRelinquishGrant } from './commands/relinquishGrant';
import { registerRequestAccess } from './commands/requestAccess';
import { registerRevokeGrant } from './commands/revokeGrant';
import { registerShowAuditLog } from './commands/showAuditLog';
import { registerShowGrantActions } from './commands/showGrantActions';
import { registerShowRequestDetail } from './commands/showRequestDetail';
import { registerSignIn } from './commands/signIn';
import { registerSignOut } from './commands/signOut';
import { registerSignInWithBrowser } from './commands/signInWithBrowser';
import { CONFIG_SECTION, Settings, Views } from './constants';
import { ServerClock } from './model/clock';
import { ElevateModel } from './model/model';
import { thresholdsFrom } from './model/statusBarState';
import { Ticker } from './model/ticker';
import { AuditLogPanel } from './views/auditLog';
import { ContextKeySync } from './views/contextKeys';
import { GrantCredentials } from './views/grantCredentials';
import { LiveNotifications } from './views/liveNotifications';
import { Notifier, type Notice, type OpenNotice } from './views/notifier';
import { RequestDetailPanel } from './views/requestDetail';
import { GrantStatusBar } from './views/statusBar';
import { ApprovalsTree, MyAccessTree, OthersAccessTree, ResourcesTree } from './views/trees';
import { logText } from '../server/protocol/escape/logLine';
import { WorkContext } from './context/workContext';

/**
 * What activate() returns to the extension's own tests, enough to drive and observe it. Only to
 * them: any other extension can read an extension's exports, and these hold the signed-in client
 * (the token) and the grant credentials.
 */
export interface ElevateApi {
  readonly model: ElevateModel;
  /** Signs in without the input boxes (same checks as the Sign In command). */
  signIn(serverUrl: string, token: string): Promise<void>;
  readonly statusBar: GrantStatusBar;
  readonly trees: {
    readonly resources: ResourcesTree;
    readonly myAccess: MyAccessTree;
    readonly approvals: ApprovalsTree;
    readonly othersAccess: OthersAccessTree;
  };
  /** Terminals and the clipboard holding grant credentials, let go of when the grant ends. */
  readonly credentials: GrantCredentials;
  /** Every notification asked for, before the once-and-focused rule. */
  readonly onDidNotify: vscode.Event<Notice>;
  /** The Accounts menu's provider (id `elevate`), so tests can drive the browser sign-in. */
  readonly auth: ElevateAuthProvider;
  /** Access where the work is (issue 15): refusals, manifest, branch ticket, tasks, agent tools. */
  readonly context: WorkContext;
  /** The notices on screen that can still be closed (those about a state that can change). */
  readonly openNotices: () => OpenNotice[];
  /** Every notification shown in this window. */
  readonly onDidShowNotice: vscode.Event<Notice>;
  /** Time spent in activate() until every view and command was registered (the benchmark reads it). */
  readonly activationMs: number;
}

export function activate(context: vscode.ExtensionContext): ElevateApi | undefined {
  const started = performance.now();
  const push = <T extends vscode.Disposable>(d: T): T => {
    context.subscriptions.push(d);
    return d;
  };
  const log = push(vscode.window.createOutputChannel('Elevate', { log: true }));
  const ticker = push(new Ticker());
  const model = push(new ElevateModel({ clock: new ServerClock(), logger: log }));
  const session = push(new Session(context.secrets, model, log));
  const notifier = push(new Notifier(context.globalState, log));
  const thresholds = () => thresholdsFrom(vscode.workspace.getConfiguration(CONFIG_SECTION).get(Settings.expiryWarningMinutes));

  // views
  push(new ContextKeySync(model));
  const resources = push(new ResourcesTree(model));
  const myAccess = push(new MyAccessTree(model, ticker, thresholds));
  const approvals = push(new ApprovalsTree(model));
  const othersAccess = push(new OthersAccessTree(model, ticker));
  const resourcesView = push(vscode.window.createTreeView(Views.resources, { treeDataProvider: resources, showCollapseAll: false }));
  const myAccessView = push(vscode.window.createTreeView(Views.myAccess, { treeDataProvider: myAccess }));
  const approvalsView = push(vscode.window.createTreeView(Views.approvals, { treeDataProvider: approvals }));
  const othersAccessView = push(vscode.window.createTreeView(Views.othersAccess, { treeDataProvider: othersAccess }));
  // why the welcome view is showing (e.g. the server's "token revoked"), in each view's header.
  // Not TreeView.message: VS Code shows no welcome content (Sign In, Retry, Open Settings) while a
  // tree view has a message.
  push(
    model.onDidChange((k) => {
      if (!k.has('connection')) return;
      const message = model.state === 'ready' || model.state === 'connecting' ? undefined : model.message;
      for (const view of [resourcesView, myAccessView, approvalsView, othersAccessView]) view.description = message;
    }),
  );
  const updateBadge = () => {
    const n = model.reviewable.length;
    approvalsView.badge = n
      ? { value: n, tooltip: n === 1 ? vscode.l10n.t('1 request waiting for your review') : vscode.l10n.t('{0} requests waiting for your review', n) }
      : undefined;
  };
  push(model.onDidChange((k) => (k.has('reviewable') || k.has('connection')) && updateBadge()));
  const statusBar = push(new GrantStatusBar(model, ticker, thresholds));
  push(
    vscode.workspace.onDidChangeConfiguration(
      (e) => e.affectsConfiguration(`${CONFIG_SECTION}.${Settings.expiryWarningMinutes}`) && (statusBar.update(true), myAccess.refresh()),
    ),
  );
  const media = vscode.Uri.joinPath(context.extensionUri, 'media');
  const details = push(new RequestDetailPanel(model, session, log, media));
  const audit = push(new AuditLogPanel(model, session, log, media));
  // before LiveNotifications: it must notice a grant's end before that grant's event is announced
  const credentials = push(new GrantCredentials(model, log, context.secrets));
  // credentials copied before a reload or restart are still cleared when their grant ends
  void credentials.restoreClipboardHold();
  // `where` is read only when a flow asks for its prefill, after it is built just below
  const deps: Deps = {
    context,
    model,
    session,
    log,
    notifier,
    credentials,
    showRequestDetail: (id) => details.show(id),
    showAuditLog: () => audit.show(),
    prefill: () => where.prefill(),
    grantTerminalOpened: (t, g) => where.giveBack.track(t, g),
    announce: (d) => notices.announce(d),
  };
  // access where the work is (issue 15); before LiveNotifications, whose "approved" notice a
  // refused command's Re-run notice replaces
  const where = push(new WorkContext(deps));
  const notices = push(new LiveNotifications(model, notifier, credentials, (id) => details.show(id)));

  // sign-in and sign-out in the Accounts menu
  const auth = push(new ElevateAuthProvider(session, model, context.secrets, log));
  push(vscode.authentication.registerAuthenticationProvider(AUTH_PROVIDER_ID, AUTH_PROVIDER_LABEL, auth, { supportsMultipleAccounts: false }));

  // commands
  for (const register of [
    registerSignIn,
    registerSignOut,
    registerRequestAccess,
    registerExtendGrant,
    registerRelinquishGrant,
    registerCancelRequest,
    registerApproveRequest,
    registerDenyRequest,
    registerRevokeGrant,
    registerRefresh,
    registerShowAuditLog,
    registerShowGrantActions,
    registerShowRequestDetail,
    registerOpenSettings,
    registerShowLog,
    registerCopyCredentials,
    registerOpenTerminal,
    registerCopyRequestLink,
    registerCopyId,
  ])
    push(register(deps));
  push(registerSignInWithBrowser(deps, auth));

  // vscode://elevate.elevate/request?id=... (links in chat notifications)
  push(
    vscode.window.registerUriHandler({
      handleUri: (uri) => {
        const id = new URLSearchParams(uri.query).get('id');
        if (uri.path === '/request' && id) return void details.show(id);
        log.warn(`unknown link ${logText(uri.toString(true))}`);
      },
    }),
  );

  const activationMs = performance.now() - started;
  log.debug(`activated in ${activationMs.toFixed(1)} ms`);

  // network last
  void session
    .start()
    .then(() => offerAccountsSignIn(model))
    .catch((err: unknown) => log.error(err instanceof Error ? err : String(err)));

  if (context.extensionMode !== vscode.ExtensionMode.Test) return undefined;
  return {
    model,
    signIn: async (url, token) => {
      await session.signIn(url, token);
    },
    statusBar,
    trees: { resources, myAccess, approvals, othersAccess },
    credentials,
    onDidNotify: notifier.onDidNotify,
    auth,
    context: where,
    openNotices: () => notifier.openNotices,
    onDidShowNotice: notifier.onDidShow,
    activationMs,
  };
}

export function deactivate(): void {
  // everything is disposed through context.subscriptions
}
