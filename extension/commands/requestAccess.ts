// Elevate: Request Access — resource, role, mode (break-glass resources), duration,
// justification, ticket (when required), then a confirmation that shows the server's dry-run
// verdict (approved at once, or who must approve) before anything is created.
import * as vscode from 'vscode';
import { CreateRequestBody, MAX_TEXT, type ResourceView } from '../../server/protocol';
import { ApiError } from '../api/errors';
import { Commands } from '../constants';
import { matchingRule } from '../../server/protocol/rules';
import { durationChoices, roleChoices } from '../model/choices';
import { formatDuration } from '../model/format';
import { grantedNotice, waitingNotice } from '../model/notices';
import { approversText } from '../views/describe';
import { durationStep } from './durationStep';
import { BACK, inputStep, pickStep, runSteps, SKIP, type Step } from './flow';
import { Cancelled, client, registerCommand, withProgress, type Deps } from './deps';

/** Arguments for running the command without the pickers (keybindings, tests). */
export type RequestAccessArgs = Partial<CreateRequestBody>;

type Draft = {
  resource?: ResourceView;
  role?: string;
  breakGlass: boolean;
  durationSeconds?: number;
  justification: string;
  ticket: string;
};

export function registerRequestAccess(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.requestAccess, async (arg?: unknown) => {
    const { model } = deps;
    if (model.state !== 'ready') throw new ApiError(0, 'network', vscode.l10n.t('Elevate is not connected. Sign in or retry first.'));
    const preset: RequestAccessArgs =
      typeof arg === 'string'
        ? { resourceId: arg }
        : arg && typeof arg === 'object' && 'resource' in arg
          ? { resourceId: (arg as { resource: ResourceView }).resource.id }
          : arg && typeof arg === 'object'
            ? (arg as RequestAccessArgs)
            : {};
    // everything given: submit without asking (still validated here and by the server)
    const direct = CreateRequestBody.safeParse(preset);
    if (direct.success) return submit(deps, direct.data);

    const branch = deps.prefill?.();
    const draft: Draft = {
      resource: preset.resourceId ? model.resource(preset.resourceId) : undefined,
      role: preset.role,
      breakGlass: preset.breakGlass ?? false,
      durationSeconds: preset.durationSeconds,
      justification: preset.justification ?? branch?.justification ?? '',
      ticket: preset.ticket ?? branch?.ticket ?? '',
    };
    if (preset.resourceId && !draft.resource) throw new ApiError(404, 'not_found', vscode.l10n.t('Unknown resource {0}.', preset.resourceId));
    const fixedResource = !!draft.resource;
    const user = model.me ?? { id: '', groups: [] };
    const title = () => (draft.resource ? vscode.l10n.t('Request Access to {0}', draft.resource.name) : vscode.l10n.t('Request Access'));

    // what the role and duration labels promised: approved at once (the dry run's own matching).
    // Then the confirmation step is left out: the dry run is still asked, and only if it
    // disagrees does the step appear, saying why.
    const atOnce = () =>
      !draft.breakGlass &&
      !!draft.resource &&
      !!draft.role &&
      draft.durationSeconds !== undefined &&
      matchingRule(draft.resource.approval.autoApprove, { role: draft.role, durationSeconds: draft.durationSeconds }, user, model.now()) >= 0;
    // which steps apply with what is chosen so far, for "step n of m"
    const plan = () =>
      [
        !fixedResource && 'resource',
        (draft.resource?.roles.length ?? 2) > 1 && 'role',
        draft.resource?.breakGlass && 'mode',
        'duration',
        'justification',
        (draft.resource?.requireTicket ?? false) && 'ticket',
        !atOnce() && 'confirm',
      ].filter(Boolean) as string[];
    const frame = (name: string) => {
      const p = plan();
      // a step left out of the plan that shows after all (the dry run disagreed) comes last
      const step = p.indexOf(name) + 1 || p.length + 1;
      return { title: title(), step, totalSteps: Math.max(p.length, step), canGoBack: step > 1 };
    };

    let body: CreateRequestBody | undefined;
    const steps: Step[] = [
      async () => {
        if (fixedResource) return SKIP;
        const items = model.resources.map((r) => ({ label: `$(database) ${r.name}`, description: r.id, detail: r.description || undefined, resource: r }));
        if (!items.length) throw new ApiError(404, 'not_found', vscode.l10n.t('No resources are available to you.'));
        const picked = await pickStep({
          ...frame('resource'),
          placeholder: vscode.l10n.t('Which resource do you need access to?'),
          items,
          activeItem: items.find((i) => i.resource === draft.resource),
        });
        if (picked && picked !== BACK) {
          if (picked.resource !== draft.resource) {
            draft.role = undefined;
            draft.durationSeconds = undefined;
            draft.breakGlass = false;
          }
          draft.resource = picked.resource;
        }
        return picked;
      },
      async () => {
        const r = draft.resource!;
        if (r.roles.length === 1) {
          draft.role = r.roles[0];
          return SKIP;
        }
        // from the same matching as the dry run, for this person, now (groups and windows included)
        const items = roleChoices(r, user, model.now()).map((c) => ({
          label: c.role,
          description: c.atOnceUpToSeconds ? vscode.l10n.t('approved at once up to {0}', formatDuration(c.atOnceUpToSeconds)) : vscode.l10n.t('needs approval'),
        }));
        const picked = await pickStep({
          ...frame('role'),
          placeholder: vscode.l10n.t('Which role?'),
          items,
          activeItem: items.find((i) => i.label === draft.role),
        });
        if (picked && picked !== BACK) draft.role = picked.label;
        return picked;
      },
      async () => {
        const r = draft.resource!;
        if (!r.breakGlass) {
          draft.breakGlass = false;
          return SKIP;
        }
        const normal = {
          label: `$(person) ${vscode.l10n.t('Request approval')}`,
          detail: vscode.l10n.t('Approved by {0}, or at once when the policy allows it', approversText(r)),
          glass: false,
        };
        const glass = {
          label: `$(flame) ${vscode.l10n.t('Break glass — emergency access now')}`,
          detail: vscode.l10n.t('Warning: self-approved, flagged in the audit log and announced to every approver. Emergencies only.'),
          glass: true,
        };
        const picked = await pickStep({
          ...frame('mode'),
          placeholder: vscode.l10n.t('How should this request be approved?'),
          items: [normal, glass],
          activeItem: draft.breakGlass ? glass : normal,
        });
        if (picked && picked !== BACK) draft.breakGlass = picked.glass;
        return picked;
      },
      async () => {
        const r = draft.resource!;
        const now = model.now();
        const atOnceText = (seconds: number) =>
          draft.breakGlass
            ? ''
            : matchingRule(r.approval.autoApprove, { role: draft.role!, durationSeconds: seconds }, user, now) >= 0
              ? vscode.l10n.t('approved at once')
              : vscode.l10n.t('needs approval');
        const choices = durationChoices(r, draft.role!, user, now);
        const seconds = await durationStep({
          ...frame('duration'),
          placeholder: vscode.l10n.t('For how long? Pick or type a duration (up to {0})', formatDuration(r.maxDurationSeconds)),
          options: choices.map((c) => ({
            seconds: c.seconds,
            description: [c.isDefault ? vscode.l10n.t('default') : '', c.isMax ? vscode.l10n.t('maximum') : '', atOnceText(c.seconds)]
              .filter(Boolean)
              .join(' · '),
          })),
          current: draft.durationSeconds ?? Math.min(r.defaultDurationSeconds, r.maxDurationSeconds),
          maxSeconds: r.maxDurationSeconds,
          describe: (s) => ({ description: atOnceText(s) }),
        });
        if (typeof seconds === 'number') draft.durationSeconds = seconds;
        return seconds;
      },
      async () => {
        const typed = await inputStep({
          ...frame('justification'),
          prompt: draft.breakGlass
            ? vscode.l10n.t('What is the emergency? Approvers are told at once.')
            : vscode.l10n.t('Why do you need this access? Approvers and the audit log see it.'),
          placeholder: vscode.l10n.t('e.g. Investigating INC-1234: slow queries on orders'),
          value: draft.justification,
          validate: (v) =>
            !v.trim() ? vscode.l10n.t('A justification is required.') : v.length > MAX_TEXT ? vscode.l10n.t('At most {0} characters.', MAX_TEXT) : undefined,
        });
        if (typeof typed === 'string') draft.justification = typed.trim();
        return typed;
      },
      async () => {
        if (!draft.resource!.requireTicket) {
          draft.ticket = '';
          return SKIP;
        }
        const typed = await inputStep({
          ...frame('ticket'),
          prompt: vscode.l10n.t('Ticket (required for {0})', draft.resource!.name),
          placeholder: vscode.l10n.t('e.g. OPS-4711'),
          value: draft.ticket,
          validate: (v) =>
            !v.trim()
              ? vscode.l10n.t('{0} requires a ticket.', draft.resource!.name)
              : v.length > MAX_TEXT
                ? vscode.l10n.t('At most {0} characters.', MAX_TEXT)
                : undefined,
        });
        if (typeof typed === 'string') draft.ticket = typed.trim();
        return typed;
      },
      async () => {
        const candidate = {
          resourceId: draft.resource!.id,
          role: draft.role!,
          durationSeconds: draft.durationSeconds!,
          justification: draft.justification,
          ...(draft.ticket ? { ticket: draft.ticket } : {}),
          ...(draft.breakGlass ? { breakGlass: true } : {}),
        };
        const parsed = CreateRequestBody.safeParse(candidate);
        if (!parsed.success) throw new ApiError(400, 'invalid_request', parsed.error.issues.map((i) => i.message).join('; '));
        const r = draft.resource!;
        type Item = vscode.QuickPickItem & { submit?: boolean };
        const evaluation = client(deps).dryRun(parsed.data);
        if (atOnce()) {
          const ev = await withProgress(vscode.l10n.t('Checking the request…'), () => evaluation);
          if (ev.allowed && ev.autoApproved) {
            body = parsed.data;
            return true;
          }
        }
        const items = evaluation.then((ev): Item[] => {
          const summary = vscode.l10n.t('{0} · {1} · {2}', r.name, draft.role!, formatDuration(draft.durationSeconds!));
          if (!ev.allowed) {
            return [
              { label: `$(error) ${vscode.l10n.t('This request would be refused')}`, detail: ev.reasons.join(' · ') || undefined, alwaysShow: true },
              { label: `$(arrow-left) ${vscode.l10n.t('Go back and change it')}`, alwaysShow: true },
            ];
          }
          const verdict = draft.breakGlass
            ? vscode.l10n.t('Break glass: granted at once, flagged and announced to approvers')
            : ev.autoApproved
              ? vscode.l10n.t('Will be approved at once by policy')
              : vscode.l10n.t('Needs approval by {0} ({1} needed)', approversText(r), r.approval.required);
          return [
            {
              label: `$(${draft.breakGlass ? 'flame' : ev.autoApproved ? 'pass' : 'person'}) ${vscode.l10n.t('Submit request')}`,
              description: summary,
              detail: verdict,
              submit: true,
              alwaysShow: true,
            },
            ...(ev.reasons.length && !ev.autoApproved && !draft.breakGlass
              ? [{ label: `$(info) ${vscode.l10n.t('Why not at once')}`, detail: ev.reasons.join(' · '), alwaysShow: true }]
              : []),
          ];
        });
        const picked = await pickStep<Item>({ ...frame('confirm'), placeholder: vscode.l10n.t('Check and submit'), items });
        if (!picked || picked === BACK) return picked;
        if (!picked.submit) return BACK;
        body = parsed.data;
        return picked;
      },
    ];
    if (!(await runSteps(steps)) || !body) throw new Cancelled();
    return submit(deps, body);
  });
}

async function submit(deps: Deps, body: CreateRequestBody) {
  const { model } = deps;
  const name = model.resourceName(body.resourceId);
  const result = await withProgress(vscode.l10n.t('Requesting access to {0}…', name), () => client(deps).createRequest(body));
  model.upsertRequest(result.request);
  if (result.grant) model.upsertGrant(result.grant);
  // the same notice (and key) as the live event for it, whichever comes first: told once
  if (result.grant) deps.announce(grantedNotice(result.grant, result.request, model));
  else if (result.request.status === 'pending') deps.announce(waitingNotice(result.request));
  return result;
}
