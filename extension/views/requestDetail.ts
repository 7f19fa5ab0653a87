// The detail of one request (approvers review here; requesters follow progress): requester,
// resource and role, duration, justification, ticket, approvals so far, why it was not approved
// automatically, and the requester's recent history. Live: re-rendered when its events arrive.
import * as vscode from 'vscode';
import type { AccessRequest } from '../../server/protocol';
import { errorMessage } from '../api/errors';
import type { Session } from '../api/session';
import { Commands } from '../constants';
import { formatClockTime, formatDuration } from '../model/format';
import type { ElevateModel } from '../model/model';
import { Disposable } from '../util/lifecycle';
import { approversText, approvalProgress } from './describe';
import { MEDIA, esc, nonce, page } from './html';
import { logText } from '../../server/protocol/escape/logLine';

export class RequestDetailPanel extends Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private request: AccessRequest | undefined;
  private history: AccessRequest[] | undefined;
  private loadError: string | undefined;

  constructor(
    private readonly model: ElevateModel,
    private readonly session: Session,
    private readonly log: vscode.LogOutputChannel,
    /** the extension's media folder: the stylesheet, and the tab's icon (a ThemeIcon there needs a newer VS Code than engines.vscode) */
    private readonly media: vscode.Uri,
  ) {
    super();
    this.register(
      model.onDidReceiveEvent(({ event }) => {
        if (this.panel && event.request && event.request.id === this.request?.id) {
          this.request = event.request;
          this.render();
        }
      }),
    );
    this.register(model.onDidChange((k) => k.has('reviewable') && this.panel && this.render()));
    this.register({ dispose: () => this.panel?.dispose() });
  }

  get currentRequestId(): string | undefined {
    return this.panel ? this.request?.id : undefined;
  }

  async show(id: string): Promise<void> {
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel('elevate.requestDetail', vscode.l10n.t('Request'), vscode.ViewColumn.Active, {
        enableScripts: true,
        localResourceRoots: [this.media],
      });
      this.panel.iconPath = vscode.Uri.joinPath(this.media, 'elevate.svg');
      this.panel.onDidDispose(() => {
        this.panel = undefined;
      });
      this.panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m));
    } else {
      this.panel.reveal();
    }
    this.request = this.model.request(id) ?? (this.request?.id === id ? this.request : undefined);
    this.history = undefined;
    this.loadError = undefined;
    this.render(id);
    try {
      const detail = await this.session.requireClient().getRequest(id);
      this.request = detail.request;
      this.history = detail.requesterHistory;
    } catch (err) {
      this.loadError = errorMessage(err);
      this.log.warn(`request ${logText(id)}: ${logText(this.loadError)}`);
    }
    this.render(id);
  }

  private onMessage(m: unknown): void {
    const msg = m as { type?: unknown };
    const id = this.request?.id;
    if (!id) return;
    const command =
      msg.type === 'approve'
        ? Commands.approveRequest
        : msg.type === 'deny'
          ? Commands.denyRequest
          : msg.type === 'cancel'
            ? Commands.cancelRequest
            : msg.type === 'copyId'
              ? Commands.copyId
              : msg.type === 'copyLink'
                ? Commands.copyRequestLink
                : undefined;
    if (command) void vscode.commands.executeCommand(command, id);
  }

  private render(id = this.request?.id): void {
    if (!this.panel) return;
    const r = this.request;
    const webview = this.panel.webview;
    const n = nonce();
    if (!r) {
      this.panel.title = vscode.l10n.t('Request');
      webview.html = page(
        webview,
        this.media,
        n,
        'Request',
        this.loadError
          ? `<h1>${esc(vscode.l10n.t('Request {0}', id ?? ''))}</h1><p class="error">${esc(this.loadError)}</p>`
          : `<p class="muted">${esc(vscode.l10n.t('Loading…'))}</p>`,
      );
      return;
    }
    const now = this.model.now();
    const resource = this.model.resource(r.resourceId);
    const name = resource?.name ?? r.resourceId;
    this.panel.title = vscode.l10n.t('{0}: {1}', r.requesterId, name);
    const me = this.model.me;
    const reviewable = r.status === 'pending' && this.model.reviewable.some((x) => x.id === r.id);
    const mine = r.status === 'pending' && r.requesterId === me?.id;
    const statusClass = r.status === 'approved' ? 'ok' : r.status === 'pending' ? 'warn' : 'bad';
    const row = (k: string, v: string) => `<dt>${esc(k)}</dt><dd>${v}</dd>`;
    const approvals = r.approvals.length
      ? `<ul>${r.approvals.map((a) => `<li>${esc(a.decision === 'approve' ? '✔' : '✖')} <strong>${esc(a.approverId)}</strong> ${esc(a.decision === 'approve' ? vscode.l10n.t('approved') : vscode.l10n.t('denied'))} <span class="muted">${esc(formatClockTime(a.at, now))}</span>${a.comment ? `<blockquote>${esc(a.comment)}</blockquote>` : ''}</li>`).join('')}</ul>`
      : `<p class="muted">${esc(vscode.l10n.t('No decisions yet.'))}</p>`;
    const reasons = r.evaluation.reasons.length
      ? `<ul>${r.evaluation.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`
      : `<p class="muted">${esc(r.autoApproved ? vscode.l10n.t('Approved automatically by policy.') : vscode.l10n.t('No reason recorded.'))}</p>`;
    const history = this.history
      ? this.history.length
        ? `<table><thead><tr><th>${esc(vscode.l10n.t('When'))}</th><th>${esc(vscode.l10n.t('Resource'))}</th><th>${esc(vscode.l10n.t('Role'))}</th><th>${esc(vscode.l10n.t('Duration'))}</th><th>${esc(vscode.l10n.t('Status'))}</th><th>${esc(vscode.l10n.t('Justification'))}</th></tr></thead><tbody>${this.history
            .map(
              (h) =>
                `<tr><td>${esc(formatClockTime(h.createdAt, now))}</td><td>${esc(this.model.resourceName(h.resourceId))}</td><td>${esc(h.role)}</td><td>${esc(formatDuration(h.durationSeconds))}</td><td>${esc(h.status)}${h.breakGlass ? ' 🔥' : ''}</td><td>${esc(h.justification)}</td></tr>`,
            )
            .join('')}</tbody></table>`
        : `<p class="muted">${esc(vscode.l10n.t('No earlier requests.'))}</p>`
      : `<p class="muted">${esc(this.loadError ?? vscode.l10n.t('Shown to approvers only.'))}</p>`;
    const buttons = [
      reviewable
        ? `<button data-action="approve">${esc(vscode.l10n.t('Approve…'))}</button><button class="secondary" data-action="deny">${esc(vscode.l10n.t('Deny…'))}</button>`
        : '',
      mine ? `<button class="secondary" data-action="copyLink">${esc(vscode.l10n.t('Copy Link for Approver'))}</button>` : '',
      mine ? `<button class="secondary" data-action="cancel">${esc(vscode.l10n.t('Cancel Request'))}</button>` : '',
    ].join('');
    const body = `
      <h1>${esc(r.kind === 'extension' ? vscode.l10n.t('Extension of {0} ({1})', name, r.role) : vscode.l10n.t('{0} ({1})', name, r.role))} <span class="badge ${statusClass}">${esc(r.status)}</span>
      ${r.breakGlass ? `<span class="badge bad">${esc(vscode.l10n.t('break-glass'))}</span>` : ''}</h1>
      <p class="muted">${esc(vscode.l10n.t('Requested by {0}, {1}', r.requesterId, formatClockTime(r.createdAt, now)))}</p>
      <dl>
        ${row(vscode.l10n.t('Id'), `<code>${esc(r.id)}</code> <button class="secondary" data-action="copyId">${esc(vscode.l10n.t('Copy'))}</button>`)}
        ${row(vscode.l10n.t('Requester'), `<strong>${esc(r.requesterId)}</strong>`)}
        ${row(vscode.l10n.t('Resource'), `${esc(name)} <code>${esc(r.resourceId)}</code>`)}
        ${row(vscode.l10n.t('Role'), esc(r.role))}
        ${row(vscode.l10n.t('Duration'), esc(formatDuration(r.durationSeconds)))}
        ${row(vscode.l10n.t('Ticket'), r.ticket ? `<code>${esc(r.ticket)}</code>` : `<span class="muted">${esc(vscode.l10n.t('none'))}</span>`)}
        ${row(vscode.l10n.t('Approvals'), esc(approvalProgress(r)) + (resource ? ` <span class="muted">(${esc(approversText(resource))})</span>` : ''))}
        ${r.status === 'pending' ? row(vscode.l10n.t('Expires unanswered'), esc(formatClockTime(r.pendingUntil, now))) : row(vscode.l10n.t('Decided'), esc(r.decidedAt ? formatClockTime(r.decidedAt, now) : '—'))}
      </dl>
      <h2>${esc(vscode.l10n.t('Justification'))}</h2>
      <blockquote>${esc(r.justification)}</blockquote>
      <div class="actions">${buttons}</div>
      <h2>${esc(vscode.l10n.t('Decisions'))}</h2>${approvals}
      <h2>${esc(vscode.l10n.t('Why it was not approved automatically'))}</h2>${reasons}
      <h2>${esc(vscode.l10n.t('Recent requests by {0}', r.requesterId))}</h2>${history}`;
    webview.html = page(webview, this.media, n, this.panel.title, body, MEDIA.requestDetail);
  }
}
