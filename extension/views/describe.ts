// Human-readable summaries of policy and requests, shared by trees, pickers and the detail view.
import * as vscode from 'vscode';
import type { AccessRequest, ResourceView } from '../../server/protocol';
import { formatDuration } from '../model/format';
import { escapeMarkdown as escapeMd, markdownQuote } from '../../server/protocol/escape/markdown';

const principal = (p: string) => {
  const [kind, name] = p.includes(':') ? p.split(':', 2) : ['', p];
  if (kind === 'group') return vscode.l10n.t('group {0}', name);
  if (kind === 'role') return vscode.l10n.t('any {0}', name);
  return name;
};

/** "dba or carol" */
export function approversText(resource: ResourceView): string {
  const names = resource.approval.approvers.map(principal);
  return names.length ? names.join(vscode.l10n.t(' or ')) : vscode.l10n.t('an admin');
}

export function autoApproveText(resource: ResourceView): string | undefined {
  if (resource.approval.autoApprove.length === 0) return undefined;
  return resource.approval.autoApprove
    .map((r) => {
      let s = vscode.l10n.t('{0} up to {1}', r.roles.join(', '), formatDuration(r.maxDurationSeconds));
      if (r.groups?.length) s += vscode.l10n.t(' for {0}', r.groups.join(', '));
      if (r.window) s += ` (${r.window})`;
      return s;
    })
    .join('; ');
}

/** Markdown tooltip that summarises what the policy allows and who approves. */
export function resourceTooltip(resource: ResourceView): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escapeMd(resource.name)}** ${codeSpan(resource.id)}\n\n`);
  if (resource.description) md.appendMarkdown(`${escapeMd(resource.description)}\n\n`);
  md.appendMarkdown(`- ${vscode.l10n.t('Roles: {0}', resource.roles.join(', '))}\n`);
  md.appendMarkdown(
    `- ${vscode.l10n.t('Up to {0} (default {1})', formatDuration(resource.maxDurationSeconds), formatDuration(resource.defaultDurationSeconds))}\n`,
  );
  md.appendMarkdown(`- ${vscode.l10n.t('Approved by {0} ({1} needed)', escapeMd(approversText(resource)), resource.approval.required)}\n`);
  const auto = autoApproveText(resource);
  md.appendMarkdown(`- ${auto ? vscode.l10n.t('Approved at once: {0}', escapeMd(auto)) : vscode.l10n.t('Never approved automatically')}\n`);
  if (resource.extension.maxTotalSeconds) {
    const w = resource.extension.withoutApprovalSeconds;
    md.appendMarkdown(
      `- ${
        w
          ? vscode.l10n.t(
              'Extensions up to {0} in total; up to {1} of them per grant without approval',
              formatDuration(resource.extension.maxTotalSeconds),
              formatDuration(w),
            )
          : vscode.l10n.t('Extensions up to {0} in total; every extension needs approval', formatDuration(resource.extension.maxTotalSeconds))
      }\n`,
    );
  }
  if (resource.requireTicket) md.appendMarkdown(`- ${vscode.l10n.t('A ticket is required')}\n`);
  if (resource.breakGlass) md.appendMarkdown(`- $(warning) ${vscode.l10n.t('Break-glass allowed (self-approved, flagged and announced)')}\n`);
  return md;
}

export function requestTitle(r: AccessRequest, resourceName: string): string {
  return r.kind === 'extension'
    ? vscode.l10n.t('Extend {0} ({1}) by {2}', resourceName, r.role, formatDuration(r.durationSeconds))
    : vscode.l10n.t('{0} ({1}) for {2}', resourceName, r.role, formatDuration(r.durationSeconds));
}

export function approvalProgress(r: AccessRequest): string {
  const approvals = r.approvals.filter((a) => a.decision === 'approve').length;
  return vscode.l10n.t('{0} of {1} approvals', approvals, r.requiredApprovals);
}

/** An id as inline code: shown as typed (no escaping backslashes), safe whatever it holds. */
export function codeSpan(text: string): string {
  const fence = '`'.repeat(Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length)) + 1);
  return `${fence} ${text.replace(/[\r\n]+/g, ' ')} ${fence}`;
}

export { escapeMd, markdownQuote };
