// Every id the manifest (package.json "contributes") and the code share. Keep both in step:
// test/unit/extension/manifest.test.ts checks that each id here is contributed.

export const EXTENSION_ID = 'elevate.elevate';
export const CONFIG_SECTION = 'elevate';

export const Commands = {
  signIn: 'elevate.signIn',
  signOut: 'elevate.signOut',
  /** sign in through the server's identity provider (offered when /v1/auth/config says so) */
  signInWithBrowser: 'elevate.signInWithBrowser',
  requestAccess: 'elevate.requestAccess',
  extendGrant: 'elevate.extendGrant',
  relinquishGrant: 'elevate.relinquishGrant',
  copyCredentials: 'elevate.copyCredentials',
  openTerminal: 'elevate.openTerminal',
  cancelRequest: 'elevate.cancelRequest',
  approveRequest: 'elevate.approveRequest',
  denyRequest: 'elevate.denyRequest',
  revokeGrant: 'elevate.revokeGrant',
  refresh: 'elevate.refresh',
  showAuditLog: 'elevate.showAuditLog',
  showGrantActions: 'elevate.showGrantActions',
  showRequestDetail: 'elevate.showRequestDetail',
  openSettings: 'elevate.openSettings',
  showLog: 'elevate.showLog',
  requestAll: 'elevate.requestAll',
  copyRequestLink: 'elevate.copyRequestLink',
  copyId: 'elevate.copyId',
  /** the links in notifications that can be closed (views/notifier.ts); not in the palette */
  noticeAction: 'elevate.noticeAction',
} as const;

export const Views = {
  container: 'elevate',
  resources: 'elevate.resources',
  myAccess: 'elevate.myAccess',
  approvals: 'elevate.approvals',
  /** other people's active grants the signed-in user may revoke */
  othersAccess: 'elevate.othersAccess',
  workspace: 'elevate.workspace',
} as const;

/** Context keys for `when` clauses in the manifest. */
export const ContextKeys = {
  /** signedOut | connecting | ready | unreachable | error */
  state: 'elevate.state',
  signedIn: 'elevate.signedIn',
  /** the configured server offers sign-in through an identity provider */
  browserSignIn: 'elevate.browserSignIn',
  isApprover: 'elevate.isApprover',
  /** an admin or an approver: may revoke other people's grants (the Others' Access view) */
  canRevoke: 'elevate.canRevoke',
  hasActiveGrants: 'elevate.hasActiveGrants',
  hasPendingRequests: 'elevate.hasPendingRequests',
  hasReviewable: 'elevate.hasReviewable',
  /** the workspace has a .vscode/elevate.json */
  hasManifest: 'elevate.hasManifest',
} as const;

/** `contextValue`s of tree items, matched by `viewItem` in menus. */
export const ItemContext = {
  resource: 'resource',
  grantActive: 'grant.active',
  /** an active grant whose resource's provider may hand out credentials (Copy Credentials, Open Terminal) */
  grantActiveWithCredentials: 'grant.active.credentials',
  /** someone else's active grant the signed-in user may revoke */
  grantRevocable: 'grant.revocable',
  requestMine: 'request.mine',
  requestReviewable: 'request.reviewable',
  message: 'message',
} as const;

export const Settings = {
  serverUrl: 'serverUrl',
  expiryWarningMinutes: 'expiryWarningMinutes',
  detectRefusals: 'detectRefusals',
  ticketPattern: 'ticketPattern',
  /** kinds of notification not to show (model/notices.ts MUTABLE_KINDS) */
  mutedNotifications: 'notifications.muted',
} as const;

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:7410';

/** SecretStorage key of the token for one server origin. */
export const tokenSecretKey = (origin: string) => `elevate.token:${origin}`;
