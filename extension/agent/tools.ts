// Coding agents ask, people decide (issue 15, item 6): two language-model tools for agent mode.
//  - elevate_listAccess: what I hold, what is pending, what I may request (read-only).
//  - elevate_requestAccess: asks for a role on a resource for a duration with a justification.
//    prepareInvocation returns a confirmation that shows exactly what will be requested (and the
//    server's dry-run verdict), so the person decides before anything is sent; the request carries
//    via: "agent", which the server keeps in the audit log. Results never hold credentials.
import * as vscode from 'vscode';
import { client, type Deps } from '../commands/deps';
import { formatClockTime, formatDuration } from '../model/format';
import { lmTools, type LmTool } from './lm';
import { escapeMarkdown, planRequest, type RequestAccessInput } from './plan';
import { approversText } from '../views/describe';
import { Disposable } from '../util/lifecycle';

export const Tools = { listAccess: 'elevate_listAccess', requestAccess: 'elevate_requestAccess' } as const;

export class AgentTools extends Disposable {
  readonly listAccess: LmTool<Record<string, never>>;
  readonly requestAccess: LmTool<RequestAccessInput>;

  constructor(
    private readonly deps: Deps,
    private readonly ticket: () => string | undefined,
  ) {
    super();
    const lm = lmTools();
    // without the API (an editor before 1.95) nothing calls these; the text parts are then plain objects
    const text = (s: string) => (lm ? new lm.LanguageModelToolResult([new lm.LanguageModelTextPart(s)]) : { content: [{ value: s }] });
    this.listAccess = {
      prepareInvocation: () => ({ invocationMessage: vscode.l10n.t('Reading your Elevate access') }),
      invoke: async () => text(this.describeAccess()),
    };
    this.requestAccess = {
      prepareInvocation: async (options: { input: RequestAccessInput }) => {
        const plan = planRequest(this.deps, options.input, this.ticket());
        if ('error' in plan) return { invocationMessage: plan.error };
        const { body, name } = plan;
        const r = this.deps.model.resource(body.resourceId)!;
        const verdict = await client(this.deps)
          .dryRun(body)
          .then(
            (ev) =>
              !ev.allowed
                ? vscode.l10n.t('The policy would refuse it: {0}', ev.reasons.join('; '))
                : ev.autoApproved
                  ? vscode.l10n.t('The policy approves it at once.')
                  : vscode.l10n.t('It needs approval by {0}.', approversText(r)),
            () => '',
          );
        const md = new vscode.MarkdownString();
        md.appendMarkdown(vscode.l10n.t('An agent asks for **{0}** access to **{1}** for **{2}**.', body.role, name, formatDuration(body.durationSeconds)));
        md.appendMarkdown('\n\n');
        md.appendMarkdown(vscode.l10n.t('Justification: '));
        md.appendMarkdown(escapeMarkdown(body.justification));
        if (body.ticket) md.appendMarkdown(`\n\n${vscode.l10n.t('Ticket: ')}${escapeMarkdown(body.ticket)}`);
        if (verdict) md.appendMarkdown(`\n\n${verdict}`);
        md.appendMarkdown(`\n\n${vscode.l10n.t('The request is made in your name and marked as made by an agent in the audit log.')}`);
        return {
          invocationMessage: vscode.l10n.t('Requesting {0} access to {1}', body.role, name),
          confirmationMessages: { title: vscode.l10n.t('Request access with Elevate?'), message: md },
        };
      },
      invoke: async (options: { input: RequestAccessInput }) => {
        const plan = planRequest(this.deps, options.input, this.ticket());
        if ('error' in plan) return text(plan.error);
        const { model, notifier } = this.deps;
        const result = await client(this.deps).createRequest(plan.body);
        model.upsertRequest(result.request);
        if (result.grant) {
          model.upsertGrant(result.grant);
          notifier.markShown(`decided:${result.request.id}`);
          return text(
            `Granted: ${plan.body.role} access to ${plan.name} until ${result.grant.expiresAt} (request ${result.request.id}, grant ${result.grant.id}). ` +
              'Credentials are not given to agents; the user can run commands in a terminal with the grant (Elevate: Open Terminal with Grant) or an "elevate" task.',
          );
        }
        const r = model.resource(plan.body.resourceId);
        return text(
          `Request ${result.request.id} for ${plan.body.role} access to ${plan.name} is ${result.request.status}` +
            (result.request.status === 'pending'
              ? `, waiting for approval by ${r ? approversText(r) : 'an approver'} (${result.request.requiredApprovals} needed). Ask the user to check back; do not request it again.`
              : '.'),
        );
      },
    };
    if (lm) {
      this.register(lm.lm.registerTool(Tools.listAccess, this.listAccess));
      this.register(lm.lm.registerTool(Tools.requestAccess, this.requestAccess));
    } else deps.log.warn('this editor has no language-model tools API: the Elevate agent tools are not registered');
  }

  /** Held, pending and requestable, as plain text for a model. No credentials, ever. */
  describeAccess(): string {
    const { model } = this.deps;
    if (model.state !== 'ready') return 'Elevate is not connected (the user must sign in).';
    const now = model.now();
    const lines: string[] = [];
    lines.push('Held now:');
    for (const g of model.grants)
      lines.push(
        `- ${g.role} on ${g.resourceId} (${model.resourceName(g.resourceId)}) until ${g.expiresAt} (local ${formatClockTime(g.expiresAt, now)}), grant ${g.id}`,
      );
    if (!model.grants.length) lines.push('- nothing');
    lines.push('Pending requests:');
    const pending = model.myRequests.filter((r) => r.status === 'pending');
    for (const r of pending) lines.push(`- ${r.role} on ${r.resourceId} for ${formatDuration(r.durationSeconds)}, request ${r.id}`);
    if (!pending.length) lines.push('- none');
    lines.push('May request (resource id: roles; longest; roles approved at once):');
    for (const r of model.resources) {
      const atOnce = r.approval.autoApprove.map((a) => `${a.roles.join('/')} up to ${formatDuration(a.maxDurationSeconds)}${a.window ? ` (${a.window})` : ''}`);
      lines.push(
        `- ${r.id} (${r.name}): ${r.roles.join(', ')}; at most ${formatDuration(r.maxDurationSeconds)}; ${atOnce.length ? `at once: ${atOnce.join(', ')}` : 'always needs approval'}${r.requireTicket ? '; needs a ticket' : ''}`,
      );
    }
    return lines.join('\n');
  }
}
