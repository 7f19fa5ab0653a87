// Elevate: Show Audit Log — the events the caller may see (their own; everything for auditors
// and admins) in a themed, filterable table, with export of the filtered events to JSONL or CSV.
import { homedir } from 'node:os';
import * as vscode from 'vscode';
import type { AuditEvent } from '../../server/protocol';
import type { AuditFilter } from '../api/client';
import { errorMessage } from '../api/errors';
import type { Session } from '../api/session';
import { sseEventTypes } from '../../server/protocol';
import { detailFields, exportFileName, toCsv, toJsonl } from '../model/auditExport';
import type { ElevateModel } from '../model/model';
import { Disposable } from '../util/lifecycle';
import { MEDIA, esc, nonce, page } from './html';
import { logText } from '../../server/protocol/escape/logLine';

const PAGE = 200;
const EXPORT_LIMIT = 100_000;
const ACTIONS = [...sseEventTypes.filter((t) => t !== 'policy.reloaded'), 'token.issued', 'token.revoked', 'access.checked', 'auth.failed', 'policy.reloaded'];

type Msg = { type: 'query'; filter: AuditFilter } | { type: 'more' } | { type: 'export'; format: 'jsonl' | 'csv' };

export class AuditLogPanel extends Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private filter: AuditFilter = {};
  private cursor: string | null = null;

  constructor(
    private readonly model: ElevateModel,
    private readonly session: Session,
    private readonly log: vscode.LogOutputChannel,
    /** the extension's media folder: the stylesheet, and the tab's icon (a ThemeIcon there needs a newer VS Code than engines.vscode) */
    private readonly media: vscode.Uri,
  ) {
    super();
    this.register({ dispose: () => this.panel?.dispose() });
    this.register({ dispose: () => clearTimeout(this.refreshTimer) });
    // the log grows while it is open: every live event reloads the first page (at most once a second)
    this.register(
      model.onDidReceiveEvent(() => {
        if (!this.panel || this.filter.to || this.refreshTimer) return;
        this.refreshTimer = setTimeout(() => {
          this.refreshTimer = undefined;
          void this.onMessage({ type: 'query', filter: this.filter });
        }, 1000);
      }),
    );
  }

  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  show(): void {
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel('elevate.auditLog', vscode.l10n.t('Elevate Audit Log'), vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [this.media],
    });
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.media, 'elevate.svg');
    panel.onDidDispose(() => {
      this.panel = undefined;
    });
    panel.webview.onDidReceiveMessage((m: Msg) => void this.onMessage(m));
    panel.webview.html = this.html(panel.webview);
  }

  private post(message: unknown): void {
    void this.panel?.webview.postMessage(message);
  }

  private async onMessage(m: Msg): Promise<void> {
    try {
      if (m.type === 'query') {
        this.filter = clean(m.filter);
        const res = await this.session.requireClient().audit({ ...this.filter, limit: PAGE });
        this.cursor = res.nextCursor;
        this.post({ type: 'rows', replace: true, rows: res.events.map(row), more: !!res.nextCursor });
      } else if (m.type === 'more' && this.cursor) {
        const res = await this.session.requireClient().audit({ ...this.filter, limit: PAGE, cursor: this.cursor });
        this.cursor = res.nextCursor;
        this.post({ type: 'rows', replace: false, rows: res.events.map(row), more: !!res.nextCursor });
      } else if (m.type === 'export') {
        await this.export(m.format);
      }
    } catch (err) {
      const message = errorMessage(err);
      this.log.warn(`audit log: ${logText(message)}`);
      this.post({ type: 'error', message });
    }
  }

  /** The workspace folder (else home) with a dated file name: the dialog opens there, not at `/`. */
  private exportUri(format: 'jsonl' | 'csv'): vscode.Uri {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(homedir());
    return vscode.Uri.joinPath(folder, exportFileName(format, Date.now()));
  }

  private async export(format: 'jsonl' | 'csv'): Promise<void> {
    const target = await vscode.window.showSaveDialog({
      title: vscode.l10n.t('Export Audit Log'),
      defaultUri: this.exportUri(format),
      filters: format === 'csv' ? { CSV: ['csv'] } : { 'JSON Lines': ['jsonl'] },
    });
    if (!target) return;
    const events = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Exporting audit events…'), cancellable: true },
      async (progress, token) => {
        const all: AuditEvent[] = [];
        let cursor: string | undefined;
        do {
          const res = await this.session.requireClient().audit({ ...this.filter, limit: 1000, cursor });
          all.push(...res.events);
          cursor = res.nextCursor ?? undefined;
          progress.report({ message: all.length === 1 ? vscode.l10n.t('1 event') : vscode.l10n.t('{0} events', all.length) });
        } while (cursor && !token.isCancellationRequested && all.length < EXPORT_LIMIT);
        return token.isCancellationRequested ? undefined : all;
      },
    );
    if (!events) return;
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(format === 'csv' ? toCsv(events) : toJsonl(events)));
    const open = vscode.l10n.t('Open');
    const pick = await vscode.window.showInformationMessage(
      events.length === 1
        ? vscode.l10n.t('Exported 1 audit event to {0}', target.fsPath)
        : vscode.l10n.t('Exported {0} audit events to {1}', events.length, target.fsPath),
      open,
    );
    if (pick === open) await vscode.window.showTextDocument(target);
  }

  private html(webview: vscode.Webview): string {
    const n = nonce();
    const t = (s: string) => esc(vscode.l10n.t(s));
    // one zone for every time shown, named in the column header
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const actions = ACTIONS.map((a) => `<option value="${esc(a)}">${esc(a)}</option>`).join('');
    const who = this.model.me;
    const scope =
      who && (who.roles.includes('admin') || who.roles.includes('auditor'))
        ? vscode.l10n.t('All events (you are an {0}).', who.roles.includes('admin') ? 'admin' : 'auditor')
        : vscode.l10n.t('Events about you: what you did, and what happened to your requests and access.');
    const body = `
      <h1>${t('Audit Log')}</h1>
      <p class="muted">${esc(scope)}</p>
      <form class="filters" id="filters">
        <label>${t('Actor')}<input name="actorId" size="12" placeholder="alice"></label>
        <label>${t('Resource')}<input name="resourceId" size="12" placeholder="prod-db"></label>
        <label>${t('Action')}<select name="action"><option value="">${t('any')}</option>${actions}</select></label>
        <label>${t('From')}<input name="from" type="datetime-local"></label>
        <label>${t('To')}<input name="to" type="datetime-local"></label>
        <button type="submit">${t('Apply')}</button>
        <button type="button" class="secondary" data-export="jsonl">${t('Export JSONL…')}</button>
        <button type="button" class="secondary" data-export="csv">${t('Export CSV…')}</button>
      </form>
      <p id="status" class="muted" role="status" aria-live="polite" data-loading="${t('Loading…')}" data-one="${t('1 event')}" data-many="${t('{0} events')}" data-none="${t('No events match.')}"></p>
      <table aria-label="${t('Audit events')}"><thead><tr>
        <th>#</th><th>${esc(vscode.l10n.t('Time ({0})', zone))}</th><th>${t('Actor')}</th><th>${t('Action')}</th><th>${t('Resource')}</th><th>${t('Details')}</th>
      </tr></thead><tbody id="rows"></tbody></table>
      <div class="actions"><button id="more" class="secondary" hidden>${t('Load more')}</button></div>`;
    return page(webview, this.media, n, vscode.l10n.t('Elevate Audit Log'), body, MEDIA.auditLog);
  }
}

const clean = (f: AuditFilter): AuditFilter => {
  const out: AuditFilter = {};
  for (const k of ['actorId', 'resourceId', 'action', 'from', 'to'] as const) {
    const v = typeof f?.[k] === 'string' ? f[k]!.trim() : '';
    if (v) out[k] = v;
  }
  return out;
};

const row = (e: AuditEvent) => ({
  seq: e.seq,
  at: e.at,
  time: new Date(e.at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }),
  actorId: e.actorId,
  action: e.action,
  resourceId: e.resourceId ?? '',
  ids: [e.requestId && `request ${e.requestId}`, e.grantId && `grant ${e.grantId}`].filter(Boolean).join(', '),
  fields: detailFields(e.details),
});
