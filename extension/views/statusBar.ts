// One status-bar item counting down the grant that ends soonest, on the server's clock. It
// subscribes to the shared ticker only while a grant is active, and only redraws when its
// text or colour actually changes.
import * as vscode from 'vscode';
import { Commands } from '../constants';
import { formatClockTime } from '../model/format';
import type { ElevateModel } from '../model/model';
import { computeStatusBar, type StatusBarState, type Thresholds } from '../model/statusBarState';
import type { Ticker } from '../model/ticker';
import { Disposable, type IDisposable } from '../util/lifecycle';
import { escapeMd } from './describe';

export class GrantStatusBar extends Disposable {
  private readonly item: vscode.StatusBarItem;
  private tick: IDisposable | undefined;
  private shown = { text: '', severity: '', tooltipKey: '' };
  private stateValue: StatusBarState | undefined;

  constructor(
    private readonly model: ElevateModel,
    private readonly ticker: Ticker,
    private readonly thresholds: () => Thresholds,
  ) {
    super();
    this.item = this.register(vscode.window.createStatusBarItem('elevate.grants', vscode.StatusBarAlignment.Left, 50));
    this.item.name = vscode.l10n.t('Elevate Access');
    this.item.command = Commands.showGrantActions;
    this.register({ dispose: () => this.tick?.dispose() });
    this.register(
      model.onDidChange((kinds) => (kinds.has('grants') || kinds.has('resources') || kinds.has('connection') || kinds.has('live')) && this.update(true)),
    );
    this.update(true);
  }

  /** What the item shows now (for tests and the grant-actions picker). */
  get state(): StatusBarState | undefined {
    return this.stateValue;
  }

  /** Call when `elevate.expiryWarningMinutes` changes. */
  update(force = false): void {
    const now = this.model.now();
    const state = computeStatusBar(this.model.grants, now, this.thresholds(), (id) => this.model.resourceName(id));
    this.stateValue = state;
    if (!state.visible) {
      this.tick?.dispose();
      this.tick = undefined;
      this.item.hide();
      this.shown = { text: '', severity: '', tooltipKey: '' };
      return;
    }
    if (!this.tick) this.tick = this.ticker.subscribe(() => this.update());
    if (state.text !== this.shown.text) this.item.text = state.text;
    if (state.severity !== this.shown.severity) {
      this.item.backgroundColor =
        state.severity === 'error'
          ? new vscode.ThemeColor('statusBarItem.errorBackground')
          : state.severity === 'warning'
            ? new vscode.ThemeColor('statusBarItem.warningBackground')
            : undefined;
    }
    // the tooltip lists every grant with its end time; rebuild it only when that list changes
    const tooltipKey = state.lines.map((l) => `${l.grant.id}@${l.grant.expiresAt}`).join(',') + this.model.live + this.model.state;
    if (tooltipKey !== this.shown.tooltipKey || force) {
      const md = new vscode.MarkdownString(undefined, true);
      md.appendMarkdown(`**${vscode.l10n.t('Elevate — active access')}**\n\n`);
      for (const l of state.lines) {
        md.appendMarkdown(
          `- $(shield) ${escapeMd(this.model.resourceName(l.grant.resourceId))} — ${escapeMd(l.grant.role)}: ${vscode.l10n.t('until {0}', formatClockTime(l.grant.expiresAt, now))}\n`,
        );
      }
      if (this.model.isStale) {
        const at = this.model.lastUpdated ? formatClockTime(this.model.lastUpdated, Date.now()) : undefined;
        md.appendMarkdown(
          `\n$(warning) ${
            this.model.state === 'signedOut'
              ? vscode.l10n.t('Signed out by the server: this access still runs until it ends. Sign in to act on it.')
              : vscode.l10n.t('Offline: the server cannot be reached; times are as last known{0}.', at ? vscode.l10n.t(' (last updated {0})', at) : '')
          }\n`,
        );
      }
      md.appendMarkdown(`\n${vscode.l10n.t('Click to extend or relinquish.')}`);
      this.item.tooltip = md;
    }
    const first = state.lines[0];
    this.item.accessibilityInformation = {
      label: vscode.l10n.t(
        '{0} access to {1}, {2} left{3}',
        first.grant.role,
        this.model.resourceName(first.grant.resourceId),
        first.timeLeft,
        state.lines.length > 1 ? vscode.l10n.t(', and {0} more grants', state.lines.length - 1) : '',
      ),
    };
    this.shown = { text: state.text, severity: state.severity, tooltipKey };
    this.item.show();
  }
}
