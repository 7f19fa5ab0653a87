// The current branch's ticket, through the built-in Git extension's API (issue 15, item 4). Only
// the few members used here are declared (the full typing is vscode's git.d.ts). Without Git, a
// repository or a ticket in the branch name, nothing is prefilled.
import * as vscode from 'vscode';
import { CONFIG_SECTION, Settings } from '../constants';
import { Disposable, Emitter } from '../util/lifecycle';
import { prefillFromBranch, ticketRegex, type Prefill } from './ticket';

interface GitRepository {
  readonly rootUri: vscode.Uri;
  readonly state: { readonly HEAD?: { readonly name?: string }; readonly onDidChange: vscode.Event<void> };
}
interface GitApi {
  readonly repositories: readonly GitRepository[];
  readonly onDidOpenRepository: vscode.Event<GitRepository>;
  readonly onDidCloseRepository: vscode.Event<GitRepository>;
}
interface GitExtension {
  readonly enabled: boolean;
  getAPI(version: 1): GitApi;
}

export class BranchTicket extends Disposable {
  private git: GitApi | undefined;
  private readonly watched = new Map<GitRepository, vscode.Disposable>();
  private readonly changeEmitter = this.register(new Emitter<Prefill | undefined>());
  /** the branch (or the setting) changed what is prefilled */
  readonly onDidChange = this.changeEmitter.event;
  private last: string | undefined;

  constructor(private readonly log: vscode.LogOutputChannel) {
    super();
    this.register(vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration(`${CONFIG_SECTION}.${Settings.ticketPattern}`) && this.changed()));
    this.register({
      dispose: () => {
        for (const d of this.watched.values()) d.dispose();
      },
    });
    void this.connect();
  }

  private async connect(): Promise<void> {
    const ext = vscode.extensions.getExtension<GitExtension>('vscode.git');
    if (!ext) return;
    try {
      const exports = ext.isActive ? ext.exports : await ext.activate();
      if (this.isDisposed || !exports?.enabled) return;
      this.git = exports.getAPI(1);
    } catch (err) {
      this.log.warn(`the Git extension is not available: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.register(this.git.onDidOpenRepository((r) => this.watch(r)));
    this.register(
      this.git.onDidCloseRepository((r) => {
        this.watched.get(r)?.dispose();
        this.watched.delete(r);
        this.changed();
      }),
    );
    for (const r of this.git.repositories) this.watch(r);
    this.changed();
  }

  private watch(r: GitRepository): void {
    if (this.watched.has(r)) return;
    this.watched.set(
      r,
      r.state.onDidChange(() => this.changed()),
    );
    this.changed();
  }

  /** The branch of the repository holding the active editor's file, else the first workspace folder's. */
  branch(): string | undefined {
    const repos = this.git?.repositories ?? [];
    if (!repos.length) return undefined;
    const active = vscode.window.activeTextEditor?.document.uri;
    const under = (r: GitRepository, uri: vscode.Uri | undefined) => !!uri && (uri.path === r.rootUri.path || uri.path.startsWith(`${r.rootUri.path}/`));
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const repo =
      repos.find((r) => under(r, active)) ?? repos.find((r) => under(r, folder) || (!!folder && r.rootUri.path.startsWith(`${folder.path}/`))) ?? repos[0];
    return repo.state.HEAD?.name;
  }

  /** Ticket and justification for the current branch, or undefined. */
  prefill(): Prefill | undefined {
    const re = ticketRegex(vscode.workspace.getConfiguration(CONFIG_SECTION).get<string>(Settings.ticketPattern));
    if (re && !(re instanceof RegExp)) {
      this.log.warn(`elevate.ticketPattern is not a valid regular expression: ${re.error}`);
      return undefined;
    }
    return prefillFromBranch(this.branch(), re);
  }

  private changed(): void {
    const p = this.prefill();
    const key = p ? `${p.ticket}\n${p.justification}` : undefined;
    if (key === this.last) return;
    this.last = key;
    this.log.debug(`branch ticket: ${p?.ticket ?? 'none'}`);
    this.changeEmitter.fire(p);
  }
}
