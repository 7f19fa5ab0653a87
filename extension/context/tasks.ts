// Tasks that hold access for their lifetime (issue 15, item 5). A task of type "elevate":
//   { "type": "elevate", "resource": "prod-db", "role": "write", "duration": "15m",
//     "command": "npm run migrate", "keep": false }
// requests a grant (or reuses an active one), shows approval progress in the task terminal, runs
// the command with the grant's credentials in its own environment only (never the editor's, never
// its arguments), and relinquishes the grant when the command ends, unless "keep" is true or the
// grant was there before the task. Ctrl+C while waiting cancels the request; while running, stops
// the command. If the grant ends while the command runs, the command is stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import * as vscode from 'vscode';
import type { AccessRequest, CreateRequestBody, Grant } from '../../server/protocol';
import { client, type Deps } from '../commands/deps';
import { fetchCredentials, terminalEnv } from '../model/credentials';
import { formatClockTime, formatDuration } from '../model/format';
import { Disposable, Emitter } from '../util/lifecycle';
import { approversText } from '../views/describe';
import { manifestDuration } from './manifest';
import { oneClickDuration } from './match';
import { redactCommand } from './refusals';

export const TASK_TYPE = 'elevate';

export interface ElevateTaskDefinition extends vscode.TaskDefinition {
  type: typeof TASK_TYPE;
  resource: string;
  role: string;
  duration?: string;
  command: string;
  keep?: boolean;
}

/** The definition as written in tasks.json, or why it cannot run. */
export function readDefinition(d: vscode.TaskDefinition): ElevateTaskDefinition | { error: string } {
  const str = (k: string) => (typeof d[k] === 'string' && (d[k] as string).trim() ? (d[k] as string) : undefined);
  const resource = str('resource');
  const role = str('role');
  const command = str('command');
  if (!resource || !role || !command) return { error: 'an elevate task needs "resource", "role" and "command"' };
  const duration = str('duration');
  if (duration !== undefined && manifestDuration(duration) === undefined) return { error: `"duration": "${duration}" is not a duration like "15m" or "1h"` };
  if (d.keep !== undefined && typeof d.keep !== 'boolean') return { error: '"keep" must be true or false' };
  return { type: TASK_TYPE, resource, role, command, ...(duration && { duration }), ...(d.keep !== undefined && { keep: d.keep as boolean }) };
}

/** One run of an elevate task, as the tests see it. */
export interface TaskRun {
  definition: ElevateTaskDefinition;
  grantId?: string;
  reused?: boolean;
  exitCode?: number;
  relinquished?: boolean;
}

export class ElevateTasks extends Disposable implements vscode.TaskProvider {
  private readonly writeEmitter = this.register(new Emitter<string>());
  /** every line a task terminal shows (tests read it; a pseudoterminal cannot be read back) */
  readonly onDidWrite = this.writeEmitter.event;
  private readonly endEmitter = this.register(new Emitter<TaskRun>());
  readonly onDidEnd = this.endEmitter.event;

  constructor(
    private readonly deps: Deps,
    private readonly ticket: () => string | undefined,
  ) {
    super();
    this.register(vscode.tasks.registerTaskProvider(TASK_TYPE, this));
  }

  provideTasks(): vscode.Task[] {
    return [];
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    this.deps.log.debug(`resolving task "${task.name}"`);
    const def = readDefinition(task.definition);
    if ('error' in def) {
      this.deps.log.warn(`task "${task.name}": ${def.error}`);
      return undefined;
    }
    // VS Code drops a resolved task (silently) unless it carries the very definition object it
    // was given: the checked copy drives the run, the original stays the task's identity
    return this.create(def, task.scope ?? vscode.TaskScope.Workspace, task.name, task.definition);
  }

  /** A runnable task for a definition (also for tests and keybindings). */
  create(def: ElevateTaskDefinition, scope: vscode.WorkspaceFolder | vscode.TaskScope, name: string, definition: vscode.TaskDefinition = def): vscode.Task {
    const cwd = typeof scope === 'object' ? scope.uri.fsPath : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const task = new vscode.Task(
      definition,
      scope,
      name,
      'elevate',
      new vscode.CustomExecution(
        async () =>
          new ElevatePty(
            this.deps,
            def,
            cwd,
            this.ticket,
            (l) => this.writeEmitter.fire(l),
            (r) => this.endEmitter.fire(r),
          ),
      ),
    );
    task.detail = `${def.role} on ${def.resource}: ${redactCommand(def.command, 80)}`;
    return task;
  }
}

class ElevatePty implements vscode.Pseudoterminal {
  private readonly write = new vscode.EventEmitter<string>();
  private readonly closed = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.write.event;
  readonly onDidClose = this.closed.event;
  private child: ChildProcess | undefined;
  private pending: AccessRequest | undefined;
  private stopped = false;
  private readonly subs: vscode.Disposable[] = [];
  private readonly run: TaskRun;

  constructor(
    private readonly deps: Deps,
    private readonly def: ElevateTaskDefinition,
    private readonly cwd: string | undefined,
    private readonly ticket: () => string | undefined,
    private readonly mirror: (line: string) => void,
    private readonly ended: (run: TaskRun) => void,
  ) {
    this.run = { definition: def };
  }

  private line(text: string): void {
    this.mirror(text);
    this.write.fire(`${text.replace(/\r?\n/g, '\r\n')}\r\n`);
  }

  open(): void {
    void this.main().then(
      (code) => this.finish(code),
      (err: unknown) => {
        this.line(`\x1b[31mElevate: ${err instanceof Error ? err.message : String(err)}\x1b[0m`);
        this.finish(1);
      },
    );
  }

  handleInput(data: string): void {
    if (data !== '\x03') return;
    this.stopped = true;
    if (this.child) this.child.kill('SIGINT');
    else if (this.pending) {
      const id = this.pending.id;
      this.line('Elevate: cancelling the request…');
      void client(this.deps)
        .cancel(id)
        .then(
          (r) => this.deps.model.upsertRequest(r),
          () => undefined,
        );
    }
  }

  private async main(): Promise<number> {
    const { model } = this.deps;
    const def = this.def;
    if (model.state !== 'ready') throw new Error('Elevate is not connected. Sign in first.');
    const r = model.resource(def.resource);
    if (!r) throw new Error(`the server offers no resource "${def.resource}"`);
    if (!r.roles.includes(def.role)) throw new Error(`${r.name} has no role "${def.role}" (its roles: ${r.roles.join(', ')})`);

    let grant = model.grants.find((g) => g.resourceId === r.id && g.role === def.role && g.status === 'active' && Date.parse(g.expiresAt) > model.now());
    if (grant) {
      this.run.reused = true;
      this.line(`Elevate: using your ${def.role} access to ${r.name} (until ${formatClockTime(grant.expiresAt, model.now())}).`);
    } else {
      const seconds = oneClickDuration(r, def.role, model.me ?? { id: '', groups: [] }, model.now(), def.duration ? manifestDuration(def.duration) : undefined);
      const ticket = this.ticket();
      const body: CreateRequestBody = {
        resourceId: r.id,
        role: def.role,
        durationSeconds: seconds,
        justification: `${ticket ? `${ticket}: ` : ''}Task: ${redactCommand(def.command)}`,
        ...(ticket && { ticket }),
      };
      this.line(`Elevate: requesting ${def.role} on ${r.name} for ${formatDuration(seconds)}…`);
      const result = await client(this.deps).createRequest(body);
      model.upsertRequest(result.request);
      if (result.grant) model.upsertGrant(result.grant);
      this.deps.notifier.markShown(`decided:${result.request.id}`);
      grant = result.grant ?? (await this.awaitDecision(result.request, r.name));
      if (!grant) return 1;
      this.line(`Elevate: granted until ${formatClockTime(grant.expiresAt, model.now())}.`);
    }
    this.run.grantId = grant.id;

    // only a resource with a provider can issue credentials (asking for others' waits out retries)
    const creds = model.hasProvider(r.id)
      ? await fetchCredentials(() => client(this.deps).credentials(grant.id), `your ${def.role} access to ${r.name}`, { attempts: 6, delayMs: 500 }).catch(
          () => undefined,
        )
      : undefined;
    const env = creds ? terminalEnv(creds.credentials) : {};
    this.line(
      creds
        ? `Elevate: running with the grant's credentials (${Object.keys(env).sort().join(', ')}).`
        : `Elevate: ${r.name} issues no credentials; running as you are.`,
    );
    this.line(`$ ${redactCommand(def.command)}`);
    const code = await this.spawn(env, grant.id);
    this.run.exitCode = code;
    if (!this.run.reused && !def.keep && model.grant(grant.id)) {
      try {
        const ended = await client(this.deps).relinquish(grant.id);
        model.upsertGrant(ended);
        this.run.relinquished = true;
        this.line(`Elevate: the command ended (exit ${code}); your ${def.role} access to ${r.name} was given back.`);
      } catch (err) {
        this.line(`Elevate: could not give the access back: ${err instanceof Error ? err.message : String(err)}`);
      }
    } else {
      this.line(
        `Elevate: the command ended (exit ${code}); ${this.run.reused ? 'the access you held before stays' : 'the access is kept'} until ${formatClockTime(grant.expiresAt, model.now())}.`,
      );
    }
    return code;
  }

  /** Waits for the approver, showing progress; undefined when denied, expired or cancelled. */
  private awaitDecision(request: AccessRequest, name: string): Promise<Grant | undefined> {
    const { model } = this.deps;
    const r = model.resource(request.resourceId);
    this.pending = request;
    this.line(`Elevate: waiting for approval by ${r ? approversText(r) : 'an approver'} (0 of ${request.requiredApprovals}). Ctrl+C cancels the request.`);
    return new Promise((resolve) => {
      let approvals = 0;
      const check = () => {
        const grant = model.grants.find((g) => g.requestId === request.id && g.status === 'active');
        if (grant) return done(grant);
        const now = model.myRequests.find((q) => q.id === request.id);
        if (!now) return;
        const n = now.approvals.filter((a) => a.decision === 'approve').length;
        if (n !== approvals) {
          approvals = n;
          this.line(`Elevate: ${n} of ${now.requiredApprovals} approvals.`);
        }
        if (now.status === 'denied' || now.status === 'cancelled' || now.status === 'expired') {
          this.line(`Elevate: the request for ${name} was ${now.status}.`);
          done(undefined);
        }
      };
      const sub = model.onDidReceiveEvent(({ event }) => {
        if (event.request?.id === request.id && event.request.status !== 'pending' && event.request.status !== 'approved') {
          this.line(`Elevate: the request for ${name} was ${event.request.status}.`);
          return done(undefined);
        }
        check();
      });
      const sub2 = model.onDidChange(() => check());
      const done = (g: Grant | undefined) => {
        sub.dispose();
        sub2.dispose();
        this.pending = undefined;
        resolve(g);
      };
      check();
    });
  }

  private spawn(extraEnv: Record<string, string>, grantId: string): Promise<number> {
    const { model } = this.deps;
    return new Promise((resolve) => {
      const shell = process.platform === 'win32' ? (process.env.ComSpec ?? 'cmd.exe') : process.env.SHELL || '/bin/sh';
      const args = process.platform === 'win32' ? ['/d', '/s', '/c', this.def.command] : ['-c', this.def.command];
      const child = spawn(shell, args, { cwd: this.cwd, env: { ...process.env, ...extraEnv, FORCE_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      this.child = child;
      const out = (d: Buffer) => {
        const text = d.toString('utf8');
        this.mirror(text);
        this.write.fire(text.replace(/\r?\n/g, '\r\n'));
      };
      child.stdout?.on('data', out);
      child.stderr?.on('data', out);
      // the grant ended (expired, revoked) while the command runs: its credentials stop working
      const watch = model.onDidChange((k) => {
        if (!k.has('grants') || model.grant(grantId)) return;
        this.line('Elevate: the access ended; stopping the command.');
        child.kill('SIGTERM');
      });
      this.subs.push({ dispose: () => watch.dispose() });
      child.on('error', (err) => {
        this.line(`Elevate: could not start the command: ${err.message}`);
      });
      child.on('close', (code, signal) => {
        watch.dispose();
        this.child = undefined;
        resolve(code ?? (signal ? 130 : 1));
      });
    });
  }

  private finish(code: number): void {
    for (const s of this.subs.splice(0)) s.dispose();
    this.ended({ ...this.run, exitCode: this.run.exitCode ?? code });
    this.closed.fire(code);
  }

  /** The task terminal was closed (or the task terminated): stop the command; the end relinquishes. */
  close(): void {
    this.stopped = true;
    this.child?.kill('SIGTERM');
  }
}
