// Permission denied → request (issue 15, item 1). Watches commands in terminals with shell
// integration; when one fails with a refusal the matchers recognise (context/refusals.ts), and a
// resource fits (its policy hints, or this workspace's manifest), offers one notification:
// "psql was refused on table notes — Request read on Team database?". Request submits at once
// (resource, role, duration and a justification quoting the redacted command; the branch's ticket
// when there is one); once access is granted, Re-run runs the command again, in a terminal with
// the grant's credentials when the resource issues any, else in the terminal it failed in.
// Output is read only here, in the editor: it never leaves the machine.
import * as vscode from 'vscode';
import type { AccessRequest, CreateRequestBody, Grant } from '../../server/protocol';
import { CONFIG_SECTION, Commands, Settings } from '../constants';
import { client, reportError, withProgress, type Deps } from '../commands/deps';
import { fetchCredentials } from '../model/credentials';
import { formatClockTime } from '../model/format';
import { Disposable, Emitter } from '../util/lifecycle';
import { candidatesFor, oneClickDuration, refusalJustification, refusalSentence, type Candidate, type NeedLike } from './match';
import { matchRefusal, MAX_OUTPUT, redactCommand, type Refusal } from './refusals';

/** What the rest of the extension tells the flow: the workspace's needs and the branch's ticket. */
export interface RefusalContext {
  needs(): readonly (NeedLike & { durationSeconds?: number; justification?: string })[];
  ticket(): string | undefined;
}

/** A refusal that was offered, for the extension's tests (they cannot click a toast). */
export interface RefusalOffer {
  refusal: Refusal;
  command: string;
  candidates: readonly Candidate[];
  terminal: vscode.Terminal;
}

export class RefusalFlow extends Disposable {
  /** requests made from a refusal and still waiting for a decision: request id → what to re-run */
  private readonly waiting = new Map<string, { command: string; terminal: vscode.Terminal }>();
  private readonly offerEmitter = this.register(new Emitter<RefusalOffer>());
  readonly onDidOffer = this.offerEmitter.event;
  private readonly rerunEmitter = this.register(new Emitter<{ grant: Grant; terminal: vscode.Terminal; command: string }>());
  /** a command was sent to run again (tests watch which terminal) */
  readonly onDidRerun = this.rerunEmitter.event;

  /** Must be created before LiveNotifications: its listener then runs first (see onGrant). */
  constructor(
    private readonly deps: Deps,
    private readonly context: RefusalContext,
  ) {
    super();
    const outputs = new Map<vscode.TerminalShellExecution, Promise<string>>();
    this.register(
      vscode.window.onDidStartTerminalShellExecution((e) => {
        if (!this.enabled()) return;
        outputs.set(e.execution, collect(e.execution.read()));
      }),
    );
    this.register(
      vscode.window.onDidEndTerminalShellExecution((e) => {
        const output = outputs.get(e.execution);
        outputs.delete(e.execution);
        if (!output) return;
        void output.then((text) => this.onCommandEnded(e.terminal, e.execution.commandLine.value, text, e.exitCode));
      }),
    );
    // a request made here that an approver decides later: its grant gets the Re-run notice, under
    // the key the general "approved" notice would use, so only one appears
    this.register(deps.model.onDidReceiveEvent(({ event }) => event.grant && this.onGrant(event.grant)));
    this.register(
      deps.model.onDidChange((k) => {
        if (!k.has('grants')) return;
        for (const g of deps.model.grants) this.onGrant(g);
      }),
    );
  }

  private enabled(): boolean {
    return vscode.workspace.getConfiguration(CONFIG_SECTION).get<boolean>(Settings.detectRefusals, true);
  }

  private onCommandEnded(terminal: vscode.Terminal, commandLine: string, output: string, exitCode: number | undefined): void {
    const { model, log } = this.deps;
    if (!commandLine.trim() || model.state !== 'ready') return;
    const env = { ...process.env, ...((terminal.creationOptions as vscode.TerminalOptions).env ?? {}) } as Record<string, string | undefined>;
    const refusal = matchRefusal(commandLine, output, exitCode, env);
    if (!refusal) return;
    const candidates = candidatesFor(refusal, model.resources, this.context.needs());
    log.info(`refusal recognised: ${refusal.tool} ${refusal.what}; candidates: ${candidates.map((c) => `${c.resource.id}/${c.role}`).join(', ') || 'none'}`);
    if (!candidates.length) return;
    const command = redactCommand(commandLine);
    this.offerEmitter.fire({ refusal, command, candidates, terminal });
    const t = vscode.l10n.t;
    const one = candidates.length === 1 ? candidates[0] : undefined;
    const message = one
      ? t('{0} — Request {1} on {2}?', refusalSentence(refusal), one.role, one.resource.name)
      : t('{0} — Request access?', refusalSentence(refusal));
    this.deps.notifier.notify({
      key: `refused:${Date.now()}:${Math.random().toString(36).slice(2)}`,
      kind: 'refused',
      severity: 'warning',
      message,
      actions: [{ title: one ? t('Request') : t('Request…'), run: () => this.request(refusal, command, commandLine, candidates, terminal) }],
    });
  }

  /** The notification's Request: pick when several fit, then submit without further questions. */
  async request(
    refusal: Refusal,
    command: string,
    original: string,
    candidates: readonly Candidate[],
    terminal: vscode.Terminal,
  ): Promise<AccessRequest | undefined> {
    try {
      let chosen = candidates[0];
      if (candidates.length > 1) {
        const picked = await vscode.window.showQuickPick(
          candidates.map((c) => ({
            label: `$(database) ${c.resource.name}`,
            description: `${c.role} · ${c.resource.id}`,
            detail: c.resource.description || undefined,
            c,
          })),
          { title: refusalSentence(refusal), placeHolder: vscode.l10n.t('Which resource was it?') },
        );
        if (!picked) return undefined;
        chosen = picked.c;
      }
      const { resource, role } = chosen;
      const need = this.context.needs().find((n) => n.resource === resource.id && n.role === role);
      const ticket = this.context.ticket();
      const body: CreateRequestBody = {
        resourceId: resource.id,
        role,
        durationSeconds: oneClickDuration(resource, role, this.deps.model.me ?? { id: '', groups: [] }, Date.now(), need?.durationSeconds),
        justification: need?.justification
          ? `${need.justification} — ${refusalJustification(command, refusal)}`
          : refusalJustification(command, refusal, ticket),
        ...(ticket && { ticket }),
      };
      // a resource that needs a ticket nobody gave: the usual flow, prefilled, asks for it
      if (resource.requireTicket && !ticket) {
        await vscode.commands.executeCommand(Commands.requestAccess, {
          resourceId: body.resourceId,
          role: body.role,
          durationSeconds: body.durationSeconds,
          justification: body.justification,
        });
        return undefined;
      }
      const { model, notifier } = this.deps;
      const result = await withProgress(vscode.l10n.t('Requesting access to {0}…', resource.name), () => client(this.deps).createRequest(body));
      model.upsertRequest(result.request);
      if (result.grant) model.upsertGrant(result.grant);
      if (result.grant) {
        notifier.markShown(`decided:${result.request.id}`);
        this.offerRerun(result.grant, original, terminal);
      } else if (result.request.status === 'pending') {
        // the request's own "Waiting for approval" notice says so (and is replaced by Re-run once
        // granted); a second toast here would outlive the truth it tells
        this.waiting.set(result.request.id, { command: original, terminal });
      }
      return result.request;
    } catch (err) {
      reportError(this.deps, err);
      return undefined;
    }
  }

  private onGrant(grant: Grant): void {
    const w = this.waiting.get(grant.requestId);
    if (!w || grant.status !== 'active') return;
    this.waiting.delete(grant.requestId);
    this.offerRerun(grant, w.command, w.terminal);
  }

  private offerRerun(grant: Grant, command: string, terminal: vscode.Terminal): void {
    const { model } = this.deps;
    const t = vscode.l10n.t;
    this.deps.notifier.notify({
      key: `decided:${grant.requestId}`,
      kind: 'refused',
      subject: `request:${grant.requestId}`,
      severity: 'info',
      message: t(
        'Access to {0} ({1}) granted until {2} — re-run `{3}`?',
        model.resourceName(grant.resourceId),
        grant.role,
        formatClockTime(grant.expiresAt, model.now()),
        redactCommand(command, 80),
      ),
      actions: [{ title: t('Re-run'), run: () => this.rerun(grant, command, terminal) }],
      stillRelevant: () => !!model.grant(grant.id),
    });
  }

  /**
   * Runs the command again: in a terminal carrying the grant's credentials when its resource
   * issues any (so the re-run uses them), else in the terminal it was refused in.
   */
  async rerun(grant: Grant, command: string, terminal: vscode.Terminal): Promise<vscode.Terminal | undefined> {
    try {
      const { model } = this.deps;
      // only a resource with a provider can issue credentials: asking for others' would only wait
      // out the retries on 409s before running the command where it failed
      const creds = model.hasProvider(grant.resourceId)
        ? await fetchCredentials(() => client(this.deps).credentials(grant.id), model.resourceName(grant.resourceId), { attempts: 4, delayMs: 500 }).catch(
            () => undefined,
          )
        : undefined;
      const target = creds ? this.deps.credentials.openTerminal(model.grant(grant.id) ?? grant, creds) : terminal;
      if (creds) this.deps.grantTerminalOpened?.(target, grant);
      if (target.exitStatus !== undefined) throw new Error(vscode.l10n.t('The terminal the command ran in is closed.'));
      target.show();
      run(target, command);
      this.rerunEmitter.fire({ grant, terminal: target, command });
      return target;
    } catch (err) {
      reportError(this.deps, err);
      return undefined;
    }
  }
}

/** Sends a command once the terminal's shell integration is there (so its end is seen), or as text after a while. */
function run(terminal: vscode.Terminal, command: string): void {
  if (terminal.shellIntegration) return void terminal.shellIntegration.executeCommand(command);
  let done = false;
  const go = () => {
    if (done) return;
    done = true;
    sub.dispose();
    clearTimeout(timer);
    if (terminal.shellIntegration) terminal.shellIntegration.executeCommand(command);
    else terminal.sendText(command);
  };
  const sub = vscode.window.onDidChangeTerminalShellIntegration((e) => e.terminal === terminal && go());
  const timer = setTimeout(go, 3000);
}

/** The tail of a command's output, at most MAX_OUTPUT characters. */
async function collect(stream: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += chunk;
    if (text.length > 2 * MAX_OUTPUT) text = text.slice(-MAX_OUTPUT);
  }
  return text;
}
