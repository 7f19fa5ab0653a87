// The sidebar trees. They render the model and nothing else: no fetching, no timers of
// their own (time-left descriptions ride the shared ticker, refreshed per item at most once a minute).
import * as vscode from 'vscode';
import type { AccessRequest, Grant, ResourceView } from '../../server/protocol';
import { Commands, ItemContext } from '../constants';
import { formatAgo, formatClockTime, formatDuration, formatMinutesLeft } from '../model/format';
import type { ChangeKind, ElevateModel } from '../model/model';
import { iconFor } from '../model/icons';
import { severityFor, type Thresholds } from '../model/statusBarState';
import type { Ticker } from '../model/ticker';
import { Disposable, type IDisposable } from '../util/lifecycle';
import { withoutApprovalLeft } from '../../server/protocol/rules';
import { approvalProgress, approversText, codeSpan, escapeMd, markdownQuote, requestTitle, resourceTooltip } from './describe';

export type ResourceNode = { kind: 'resource'; id: string; resource: ResourceView };
export type GrantNode = { kind: 'grant'; id: string; grant: Grant };
/** someone else's active grant that I may revoke */
export type OthersGrantNode = { kind: 'othersGrant'; id: string; grant: Grant };
export type RequestNode = { kind: 'request'; id: string; request: AccessRequest; reviewable: boolean };
/** Why My Access shows last-known data (offline, signed out by the server), with the way back. */
export type StatusNode = { kind: 'status'; id: string };
export type ElevateNode = ResourceNode | GrantNode | OthersGrantNode | RequestNode | StatusNode;

abstract class ModelTree<T extends ElevateNode> extends Disposable implements vscode.TreeDataProvider<T> {
  protected readonly changeEmitter = this.register(new vscode.EventEmitter<T | T[] | undefined>());
  readonly onDidChangeTreeData = this.changeEmitter.event;
  /** stable node objects by id, so per-item refreshes and selection survive updates */
  protected nodes = new Map<string, T>();

  constructor(
    protected readonly model: ElevateModel,
    watch: readonly ChangeKind[],
  ) {
    super();
    this.register(
      model.onDidChange((kinds) => {
        if (kinds.has('connection') || watch.some((k) => kinds.has(k))) this.refresh();
      }),
    );
  }

  refresh(): void {
    this.changeEmitter.fire(undefined);
  }

  /** Whether to show data now: when ready (subclasses may also show last-known data). */
  protected shows(): boolean {
    return this.model.state === 'ready';
  }

  getChildren(element?: T): T[] {
    if (element || !this.shows()) return [];
    const next = new Map<string, T>();
    const children = this.build().map((n) => {
      const existing = this.nodes.get(n.id);
      // keep the object identity; swap in the fresh data
      const node = existing ? Object.assign(existing, n) : n;
      next.set(n.id, node);
      return node;
    });
    this.nodes = next;
    return children;
  }

  protected abstract build(): T[];
  abstract getTreeItem(element: T): vscode.TreeItem;
}

export class ResourcesTree extends ModelTree<ResourceNode> {
  constructor(model: ElevateModel) {
    super(model, ['resources', 'grants', 'myRequests']);
  }

  protected build(): ResourceNode[] {
    return this.model.resources.map((resource) => ({ kind: 'resource', id: resource.id, resource }));
  }

  getTreeItem({ resource }: ResourceNode): vscode.TreeItem {
    const item = new vscode.TreeItem(resource.name, vscode.TreeItemCollapsibleState.None);
    item.id = `resource:${resource.id}`;
    const active = this.model.grants.filter((g) => g.resourceId === resource.id);
    const pending = this.model.myRequests.filter((r) => r.resourceId === resource.id && r.kind === 'access');
    const state = active.length ? vscode.l10n.t('active: {0}', active.map((g) => g.role).join(', ')) : pending.length ? vscode.l10n.t('pending') : '';
    item.description = [resource.description || resource.id, state].filter(Boolean).join(' · ');
    item.tooltip = resourceTooltip(resource);
    const icon = iconFor(resource);
    item.iconPath = resource.breakGlass
      ? new vscode.ThemeIcon(icon, new vscode.ThemeColor('list.warningForeground'))
      : active.length
        ? new vscode.ThemeIcon(icon, new vscode.ThemeColor('charts.green'))
        : new vscode.ThemeIcon(icon);
    item.contextValue = resource.breakGlass ? `${ItemContext.resource}.breakGlass` : ItemContext.resource;
    // Enter (or a click) on a resource starts Request Access for it
    item.command = { command: Commands.requestAccess, title: vscode.l10n.t('Request Access'), arguments: [resource.id] };
    item.accessibilityInformation = {
      label: vscode.l10n.t('{0}, roles {1}, approved by {2}{3}', resource.name, resource.roles.join(', '), approversText(resource), state ? `, ${state}` : ''),
    };
    return item;
  }
}

export class MyAccessTree extends ModelTree<GrantNode | RequestNode | StatusNode> {
  /** per grant: the description shown and when it was rendered */
  private readonly rendered = new Map<string, { text: string; at: number; severity: string }>();
  private tick: IDisposable | undefined;

  constructor(
    model: ElevateModel,
    private readonly ticker: Ticker,
    private readonly thresholds: () => Thresholds,
  ) {
    super(model, ['grants', 'myRequests', 'resources']);
    this.register({ dispose: () => this.tick?.dispose() });
    this.register(model.onDidChange((kinds) => kinds.has('grants') && this.followTicker()));
  }

  private followTicker(): void {
    const need = this.model.grants.length > 0;
    if (need && !this.tick) this.tick = this.ticker.subscribe(() => this.onTick());
    if (!need && this.tick) {
      this.tick.dispose();
      this.tick = undefined;
    }
  }

  /**
   * Refreshes only the grant items whose time-left text changed, each at most once a minute —
   * and at once when an item crosses a warning threshold, so its icon turns colour with the
   * status bar (at most twice per grant).
   */
  private onTick(): void {
    const now = this.model.now();
    const due: GrantNode[] = [];
    for (const node of this.nodes.values()) {
      if (node.kind !== 'grant') continue;
      const last = this.rendered.get(node.id);
      if (!last) continue;
      const crossed = severityFor(Date.parse(node.grant.expiresAt) - now, this.thresholds()) !== last.severity;
      // the text is minute-grained, so it changes at most once a minute: refresh as soon as it does,
      // so the row agrees with the status bar's countdown
      if (crossed || this.timeText(node.grant, now) !== last.text) due.push(node as GrantNode);
    }
    if (due.length) this.changeEmitter.fire(due);
  }

  /**
   * Access a person holds stays in view when the server cannot be reached or signed this editor
   * out: the last-known grants, under a line that says so (the welcome view shows only when there
   * is nothing to list).
   */
  protected override shows(): boolean {
    return (
      this.model.state === 'ready' ||
      (this.model.isStale && (this.model.grants.length > 0 || (this.model.state !== 'signedOut' && this.model.myRequests.length > 0)))
    );
  }

  protected build(): (GrantNode | RequestNode | StatusNode)[] {
    const grants: GrantNode[] = this.model.grants.map((grant) => ({ kind: 'grant', id: `grant:${grant.id}`, grant }));
    const requests: RequestNode[] =
      this.model.state === 'signedOut'
        ? []
        : this.model.myRequests.map((request) => ({ kind: 'request', id: `request:${request.id}`, request, reviewable: false }));
    for (const id of this.rendered.keys()) if (!grants.some((g) => g.id === id)) this.rendered.delete(id);
    const status: StatusNode[] = this.model.state === 'ready' ? [] : [{ kind: 'status', id: 'status' }];
    return [...status, ...grants, ...requests];
  }

  private statusItem(): vscode.TreeItem {
    const m = this.model;
    const updated = m.lastUpdated ? formatClockTime(m.lastUpdated, Date.now()) : undefined;
    const signedOut = m.state === 'signedOut';
    const item = new vscode.TreeItem(
      signedOut ? vscode.l10n.t('Signed out — this access still runs on the server') : vscode.l10n.t('Offline — shown as last known'),
      vscode.TreeItemCollapsibleState.None,
    );
    item.id = 'status';
    item.description = updated ? vscode.l10n.t('last updated {0}', updated) : undefined;
    item.iconPath = new vscode.ThemeIcon(signedOut ? 'sign-in' : 'debug-disconnect', new vscode.ThemeColor('list.warningForeground'));
    item.tooltip = signedOut
      ? vscode.l10n.t('The server signed you out ({0}). Your access keeps running until it ends; sign in to act on it.', m.message ?? '')
      : vscode.l10n.t(
          'The Elevate server cannot be reached ({0}). These grants are as last known{1}; they keep counting down on the server. Click to retry.',
          m.message ?? '',
          updated ? vscode.l10n.t(' at {0}', updated) : '',
        );
    item.command = signedOut ? { command: Commands.signIn, title: vscode.l10n.t('Sign In') } : { command: Commands.refresh, title: vscode.l10n.t('Retry') };
    item.contextValue = ItemContext.message;
    return item;
  }

  private timeText(grant: Grant, now: number): string {
    return timeLeftText(grant, now);
  }

  getTreeItem(node: GrantNode | RequestNode | StatusNode): vscode.TreeItem {
    return node.kind === 'grant' ? this.grantItem(node) : node.kind === 'status' ? this.statusItem() : requestItem(this.model, node);
  }

  private grantItem(node: GrantNode): vscode.TreeItem {
    const { grant } = node;
    const now = this.model.now();
    const name = this.model.resourceName(grant.resourceId);
    const timeText = this.timeText(grant, now);
    // time left and role first: in a narrow sidebar the end of the row is what gets cut off
    const item = new vscode.TreeItem(`${timeText} · ${grant.role}`, vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    const severity = severityFor(Date.parse(grant.expiresAt) - now, this.thresholds());
    this.rendered.set(node.id, { text: timeText, at: now, severity });
    const extension = this.model.pendingExtensionOf(grant.id);
    const until = vscode.l10n.t('until {0}', formatClockTime(grant.expiresAt, now));
    const ready = this.model.isProvisioned(grant.id);
    // time left first: in a narrow sidebar the end of the line is cut off
    item.description = [
      name,
      ready ? '' : vscode.l10n.t('getting ready…'),
      until,
      extension ? vscode.l10n.t('extension pending') : '',
      grant.revokePending ? vscode.l10n.t('revoking…') : '',
    ]
      .filter(Boolean)
      .join(' · ');
    item.iconPath =
      grant.revokePending || !ready
        ? new vscode.ThemeIcon('loading~spin')
        : severity === 'error'
          ? new vscode.ThemeIcon('shield', new vscode.ThemeColor('errorForeground'))
          : severity === 'warning'
            ? new vscode.ThemeIcon('shield', new vscode.ThemeColor('list.warningForeground'))
            : new vscode.ThemeIcon('shield', new vscode.ThemeColor('charts.green'));
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**${escapeMd(name)}** — ${escapeMd(grant.role)}\n\n`);
    md.appendMarkdown(`- ${vscode.l10n.t('Granted {0}', formatClockTime(grant.startsAt, now))}\n`);
    md.appendMarkdown(`- ${vscode.l10n.t('Ends {0} ({1})', formatClockTime(grant.expiresAt, now), timeText)}\n`);
    md.appendMarkdown(`- ${vscode.l10n.t('Can be extended until {0}', formatClockTime(grant.maxExpiresAt, now))}\n`);
    const budget = this.model.resource(grant.resourceId)?.extension.withoutApprovalSeconds ?? 0;
    if (budget > 0) {
      const left = withoutApprovalLeft(budget, grant.addedWithoutApprovalSeconds);
      md.appendMarkdown(
        `- ${left > 0 ? vscode.l10n.t('Up to {0} more applies at once; beyond, an approver decides', formatDuration(left)) : vscode.l10n.t('Further extensions need approval (the {0} that apply at once are used)', formatDuration(budget))}\n`,
      );
    }
    if (grant.extensions)
      md.appendMarkdown(`- ${grant.extensions === 1 ? vscode.l10n.t('Extended once') : vscode.l10n.t('Extended {0} times', grant.extensions)}\n`);
    if (extension) md.appendMarkdown(`- ${vscode.l10n.t('Extension by {0} waiting for approval', formatDuration(extension.durationSeconds))}\n`);
    if (!ready) md.appendMarkdown(`- ${vscode.l10n.t('Being set up on the target system')}\n`);
    md.appendMarkdown(`- ${vscode.l10n.t('Id {0}', codeSpan(grant.id))}\n`);
    item.tooltip = md;
    item.contextValue = ready && this.model.hasProvider(grant.resourceId) ? ItemContext.grantActiveWithCredentials : ItemContext.grantActive;
    item.command = { command: Commands.showGrantActions, title: vscode.l10n.t('Show Grant Actions'), arguments: [grant.id] };
    item.accessibilityInformation = { label: vscode.l10n.t('{0} access to {1}, {2}, {3}', grant.role, name, timeText, until) };
    return item;
  }
}

export class ApprovalsTree extends ModelTree<RequestNode> {
  constructor(model: ElevateModel) {
    super(model, ['reviewable', 'resources']);
  }

  protected build(): RequestNode[] {
    return this.model.reviewable.map((request) => ({ kind: 'request', id: `review:${request.id}`, request, reviewable: true }));
  }

  getTreeItem(node: RequestNode): vscode.TreeItem {
    return requestItem(this.model, node);
  }
}

/**
 * Other people's active grants that I may revoke (approvers and admins): who, what, time left,
 * with Revoke Grant… on each. Follows the event stream like the other trees; time left is the same
 * minute-grained text as My Access, each row refreshed only when its text changes.
 */
export class OthersAccessTree extends ModelTree<OthersGrantNode> {
  private readonly rendered = new Map<string, string>();
  private tick: IDisposable | undefined;

  constructor(
    model: ElevateModel,
    private readonly ticker: Ticker,
  ) {
    super(model, ['revocable', 'resources']);
    this.register({ dispose: () => this.tick?.dispose() });
    this.register(model.onDidChange((kinds) => (kinds.has('revocable') || kinds.has('connection')) && this.followTicker()));
  }

  private followTicker(): void {
    const need = this.model.revocable.length > 0;
    if (need && !this.tick) this.tick = this.ticker.subscribe(() => this.onTick());
    if (!need && this.tick) {
      this.tick.dispose();
      this.tick = undefined;
    }
  }

  private onTick(): void {
    const now = this.model.now();
    const due = [...this.nodes.values()].filter((n) => this.rendered.has(n.id) && timeLeftText(n.grant, now) !== this.rendered.get(n.id));
    if (due.length) this.changeEmitter.fire(due);
  }

  protected build(): OthersGrantNode[] {
    const nodes: OthersGrantNode[] = this.model.revocable.map((grant) => ({ kind: 'othersGrant', id: `others:${grant.id}`, grant }));
    for (const id of this.rendered.keys()) if (!nodes.some((n) => n.id === id)) this.rendered.delete(id);
    return nodes;
  }

  getTreeItem(node: OthersGrantNode): vscode.TreeItem {
    const { grant } = node;
    const now = this.model.now();
    const name = this.model.resourceName(grant.resourceId);
    const timeText = timeLeftText(grant, now);
    this.rendered.set(node.id, timeText);
    // who, time left and role first: in a narrow sidebar the end of the row is what gets cut off
    const item = new vscode.TreeItem(`${grant.userId} · ${timeText} · ${grant.role}`, vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    const until = vscode.l10n.t('until {0}', formatClockTime(grant.expiresAt, now));
    item.description = [name, until, grant.revokePending ? vscode.l10n.t('revoking…') : ''].filter(Boolean).join(' · ');
    const resource = this.model.resource(grant.resourceId);
    item.iconPath = grant.revokePending ? new vscode.ThemeIcon('loading~spin') : new vscode.ThemeIcon(resource ? iconFor(resource) : 'shield');
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**${escapeMd(grant.userId)}** — ${escapeMd(name)} (${escapeMd(grant.role)})\n\n`);
    md.appendMarkdown(`- ${vscode.l10n.t('Granted {0}', formatClockTime(grant.startsAt, now))}\n`);
    md.appendMarkdown(`- ${vscode.l10n.t('Ends {0} ({1})', formatClockTime(grant.expiresAt, now), timeText)}\n`);
    if (grant.extensions)
      md.appendMarkdown(`- ${grant.extensions === 1 ? vscode.l10n.t('Extended once') : vscode.l10n.t('Extended {0} times', grant.extensions)}\n`);
    md.appendMarkdown(`- ${vscode.l10n.t('Id {0}', codeSpan(grant.id))}\n`);
    item.tooltip = md;
    item.contextValue = ItemContext.grantRevocable;
    // Enter (or a click) shows the request behind the grant (who asked, why, who approved);
    // revoking is destructive and stays an explicit action on the row
    item.command = { command: Commands.showRequestDetail, title: vscode.l10n.t('Show Request Details'), arguments: [grant.requestId] };
    item.accessibilityInformation = { label: vscode.l10n.t('{0} has {1} access to {2}, {3}, {4}', grant.userId, grant.role, name, timeText, until) };
    return item;
  }
}

/** "12 min left" (minute-grained, as the status bar counts down), or "ended". */
function timeLeftText(grant: Grant, now: number): string {
  const left = Date.parse(grant.expiresAt) - now;
  return left > 0 ? vscode.l10n.t('{0} left', formatMinutesLeft(left)) : vscode.l10n.t('ended');
}

function requestItem(model: ElevateModel, node: RequestNode): vscode.TreeItem {
  const { request: r, reviewable } = node;
  const now = model.now();
  const name = model.resourceName(r.resourceId);
  const title = requestTitle(r, name);
  const label = reviewable ? `${r.requesterId}: ${title}` : title;
  const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
  item.id = node.id;
  const parts = [reviewable ? formatAgo(r.createdAt, now) : vscode.l10n.t('waiting'), approvalProgress(r)];
  if (r.breakGlass) parts.unshift(vscode.l10n.t('break-glass'));
  item.description = parts.join(' · ');
  item.iconPath = r.breakGlass
    ? new vscode.ThemeIcon('flame', new vscode.ThemeColor('charts.orange'))
    : reviewable
      ? new vscode.ThemeIcon('person')
      : new vscode.ThemeIcon('clock');
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escapeMd(label)}**\n\n`);
  md.appendMarkdown(`${markdownQuote(r.justification)}\n\n`);
  if (r.ticket) md.appendMarkdown(`- ${vscode.l10n.t('Ticket: {0}', escapeMd(r.ticket))}\n`);
  md.appendMarkdown(`- ${approvalProgress(r)}\n`);
  md.appendMarkdown(`- ${vscode.l10n.t('Requested {0}; expires unanswered {1}', formatAgo(r.createdAt, now), formatClockTime(r.pendingUntil, now))}\n`);
  if (r.evaluation.reasons.length) md.appendMarkdown(`- ${vscode.l10n.t('Not auto-approved: {0}', escapeMd(r.evaluation.reasons.join('; ')))}\n`);
  md.appendMarkdown(`- ${vscode.l10n.t('Id {0}', codeSpan(r.id))}\n`);
  item.tooltip = md;
  item.contextValue = reviewable ? ItemContext.requestReviewable : ItemContext.requestMine;
  item.command = { command: Commands.showRequestDetail, title: vscode.l10n.t('Show Request Details'), arguments: [r.id] };
  item.accessibilityInformation = { label: `${label}, ${item.description}` };
  return item;
}
