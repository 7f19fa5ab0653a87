// What every command gets, and the helpers they share: error reporting, progress, pickers.
import * as vscode from 'vscode';
import type { AccessRequest, Grant } from '../../server/protocol';
import type { ElevateClient } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';
import type { Session } from '../api/session';
import { Commands } from '../constants';
import { formatClockTime, formatMinutesLeft } from '../model/format';
import type { ElevateModel } from '../model/model';
import type { NoticeDescriptor } from '../model/notices';
import type { GrantCredentials } from '../views/grantCredentials';
import type { Notifier } from '../views/notifier';
import type { GrantNode } from '../views/trees';
import { approvalProgress, requestTitle } from '../views/describe';
import { logText } from '../../server/protocol/escape/logLine';

export interface Deps {
  readonly context: vscode.ExtensionContext;
  readonly model: ElevateModel;
  readonly session: Session;
  readonly log: vscode.LogOutputChannel;
  readonly notifier: Notifier;
  /** what holds grant credentials in this editor (terminals, the clipboard), let go of when the grant ends */
  readonly credentials: GrantCredentials;
  showRequestDetail(id: string): Promise<void>;
  /** Tells the outcome of a command the way the live event would (same key: told once). */
  announce(d: NoticeDescriptor): void;
  showAuditLog(): void;
  /** the ticket and justification the current branch suggests (issue 15), prefilled, never sent unasked */
  prefill?(): { ticket: string; justification: string } | undefined;
  /** a terminal carrying a grant's credentials was opened: offer to give the grant back when it closes (issue 15) */
  grantTerminalOpened?(terminal: vscode.Terminal, grant: Grant): void;
}

/** The user dismissed a picker or input: stop quietly. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

/** Registers a command whose failures are reported once, the way the user caused them. */
export function registerCommand(deps: Deps, id: string, fn: (...args: any[]) => unknown): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      return await fn(...args);
    } catch (err) {
      reportError(deps, err);
      return undefined;
    }
  });
}

export function reportError(deps: Deps, err: unknown): void {
  if (err instanceof Cancelled) return;
  const message = errorMessage(err);
  deps.log.error(`command failed: ${logText(message)}`);
  if (err instanceof ApiError && err.isUnauthenticated) {
    // the views and one "signed you out" notice with Sign In follow from the model (LiveNotifications)
    if (deps.model.state !== 'signedOut') return deps.model.signOut(message);
    void vscode.window.showWarningMessage(vscode.l10n.t('Elevate: {0}', message), vscode.l10n.t('Sign In')).then((pick) => {
      if (pick) void vscode.commands.executeCommand(Commands.signIn);
    });
    return;
  }
  if (err instanceof ApiError && err.isUnreachable) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Elevate: {0}', message), vscode.l10n.t('Retry'), vscode.l10n.t('Open Settings')).then((pick) => {
      if (pick === vscode.l10n.t('Retry')) void vscode.commands.executeCommand(Commands.refresh);
      else if (pick) void vscode.commands.executeCommand(Commands.openSettings);
    });
    return;
  }
  void vscode.window.showErrorMessage(vscode.l10n.t('Elevate: {0}', message));
}

/** Runs a server call with a progress indicator in the status bar. */
export function withProgress<T>(title: string, fn: () => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, fn);
}

export function client(deps: Deps): ElevateClient {
  return deps.session.requireClient();
}

const idOf = (arg: unknown, prefix: string): string | undefined => {
  if (typeof arg === 'string') return arg.startsWith(prefix) ? arg.slice(prefix.length) : arg;
  if (arg && typeof arg === 'object') {
    const o = arg as { grant?: { id?: unknown }; request?: { id?: unknown }; id?: unknown };
    if (typeof o.grant?.id === 'string') return o.grant.id;
    if (typeof o.request?.id === 'string') return o.request.id;
    if (typeof o.id === 'string') return o.id.startsWith(prefix) ? o.id.slice(prefix.length) : o.id;
  }
  return undefined;
};

export const grantIdOf = (arg: unknown) => idOf(arg, 'grant:');
export const requestIdOf = (arg: unknown) => idOf(arg, 'request:')?.replace(/^review:/, '');

/** The grant the command acts on: the argument, the only one, or one the user picks. */
export async function pickGrant(deps: Deps, arg: unknown, placeHolder: string): Promise<Grant> {
  const { model } = deps;
  const id = grantIdOf(arg);
  if (id) {
    const grant = model.grant(id) ?? (arg && typeof arg === 'object' && 'grant' in arg ? (arg as GrantNode).grant : undefined);
    if (grant) return grant;
    throw new ApiError(404, 'not_found', vscode.l10n.t('That grant is no longer active.'));
  }
  const grants = model.grants;
  if (grants.length === 0) throw new ApiError(404, 'not_found', vscode.l10n.t('You have no active access.'));
  if (grants.length === 1) return grants[0];
  const now = model.now();
  const picked = await vscode.window.showQuickPick(
    grants.map((g) => ({
      label: `$(shield) ${model.resourceName(g.resourceId)} · ${g.role}`,
      description: vscode.l10n.t('{0} left · until {1}', formatMinutesLeft(Date.parse(g.expiresAt) - now), formatClockTime(g.expiresAt, now)),
      grant: g,
    })),
    { title: vscode.l10n.t('Elevate'), placeHolder },
  );
  if (!picked) throw new Cancelled();
  return picked.grant;
}

/** A pending request from `list`: the argument, the only one, or one the user picks. */
export async function pickRequest(
  deps: Deps,
  arg: unknown,
  list: readonly AccessRequest[],
  placeHolder: string,
  withRequester: boolean,
): Promise<AccessRequest> {
  const id = requestIdOf(arg);
  if (id) {
    const found = list.find((r) => r.id === id);
    if (found) return found;
    throw new ApiError(404, 'not_found', vscode.l10n.t('That request is no longer pending.'));
  }
  if (list.length === 0) throw new ApiError(404, 'not_found', vscode.l10n.t('There is no pending request.'));
  if (list.length === 1) return list[0];
  const picked = await vscode.window.showQuickPick(
    list.map((r) => ({
      label: `${withRequester ? `${r.requesterId}: ` : ''}${requestTitle(r, deps.model.resourceName(r.resourceId))}`,
      description: approvalProgress(r),
      detail: r.justification,
      request: r,
    })),
    { title: vscode.l10n.t('Elevate'), placeHolder, matchOnDetail: true },
  );
  if (!picked) throw new Cancelled();
  return picked.request;
}
