// The workspace access manifest in the editor (issue 15, item 3): reads .vscode/elevate.json from
// every workspace folder (as saved, or as typed while it is open), puts what the server does not
// offer in the Problems view, and shows the This Workspace section: each need with its state
// (held until 14:30 / pending / not requested) and Request All with one justification.
import * as vscode from 'vscode';
import type { AccessRequest, CreateRequestBody, Grant } from '../../server/protocol';
import { Commands, ContextKeys, Views } from '../constants';
import { client, registerCommand, withProgress, type Deps } from '../commands/deps';
import { formatClockTime, formatDuration } from '../model/format';
import { Disposable, Emitter } from '../util/lifecycle';
import { checkManifest, MANIFEST_PATH, needState, readManifest, type Need, type NeedState } from './manifest';
import { oneClickDuration } from './match';

export interface WorkspaceNeed extends Need {
  uri: vscode.Uri;
}

export interface NeedNode {
  need: WorkspaceNeed;
  state: NeedState;
}

export interface RequestAllArgs {
  /** skip the input box (tests, keybindings) */
  justification?: string;
}

export interface RequestAllOutcome {
  need: WorkspaceNeed;
  request?: AccessRequest;
  grant?: Grant;
  error?: string;
}

export class WorkspaceNeeds extends Disposable implements vscode.TreeDataProvider<NeedNode> {
  private readonly texts = new Map<string, { uri: vscode.Uri; text: string }>();
  private readonly diagnostics = this.register(vscode.languages.createDiagnosticCollection('elevate'));
  private readonly treeEmitter = this.register(new Emitter<NeedNode | undefined>());
  readonly onDidChangeTreeData = this.treeEmitter.event as vscode.Event<NeedNode | undefined>;
  private readonly changeEmitter = this.register(new Emitter<void>());
  /** the needs or their states changed (tests wait on it) */
  readonly onDidChange = this.changeEmitter.event;
  readonly view: vscode.TreeView<NeedNode>;

  constructor(
    private readonly deps: Deps,
    /** the branch's ticket, prefilled into Request All's justification */
    private readonly ticket: () => string | undefined,
  ) {
    super();
    this.view = this.register(vscode.window.createTreeView(Views.workspace, { treeDataProvider: this }));
    const watcher = this.register(vscode.workspace.createFileSystemWatcher(`**/${MANIFEST_PATH}`));
    this.register(watcher.onDidCreate((uri) => void this.load(uri)));
    this.register(watcher.onDidChange((uri) => void this.load(uri)));
    this.register(watcher.onDidDelete((uri) => this.forget(uri)));
    // a .vscode folder that arrives with its manifest already in it (a checkout, a copy): a
    // recursive watcher can miss a file written before it watches the new folder
    const [dir, file] = MANIFEST_PATH.split('/');
    const folders = this.register(vscode.workspace.createFileSystemWatcher(`**/${dir}`, false, true, true));
    this.register(folders.onDidCreate((uri) => void this.load(vscode.Uri.joinPath(uri, file))));
    this.register(vscode.workspace.onDidChangeTextDocument((e) => this.isManifest(e.document.uri) && this.set(e.document.uri, e.document.getText())));
    this.register(vscode.workspace.onDidChangeWorkspaceFolders(() => void this.loadAll()));
    this.register(
      deps.model.onDidChange((k) => {
        if (k.has('resources') || k.has('connection')) this.check();
        if (k.has('grants') || k.has('myRequests') || k.has('resources') || k.has('connection')) this.changed();
      }),
    );
    this.register(registerCommand(deps, Commands.requestAll, (arg?: RequestAllArgs) => this.requestAll(arg ?? {})));
    void this.loadAll();
  }

  /** Every need of every workspace folder's manifest, in file order. */
  get needs(): readonly WorkspaceNeed[] {
    return [...this.texts.values()].flatMap(({ uri, text }) => readManifest(text).needs.map((n) => ({ ...n, uri })));
  }

  private isManifest(uri: vscode.Uri): boolean {
    return uri.path.endsWith(`/${MANIFEST_PATH}`) && !!vscode.workspace.getWorkspaceFolder(uri);
  }

  private async loadAll(): Promise<void> {
    for (const f of vscode.workspace.workspaceFolders ?? []) await this.load(vscode.Uri.joinPath(f.uri, MANIFEST_PATH));
  }

  private async load(uri: vscode.Uri): Promise<void> {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (open) return this.set(uri, open.getText());
    try {
      this.set(uri, new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)));
    } catch {
      this.forget(uri);
    }
  }

  private set(uri: vscode.Uri, text: string): void {
    this.texts.set(uri.toString(), { uri, text });
    this.check();
    this.changed();
  }

  private forget(uri: vscode.Uri): void {
    if (!this.texts.delete(uri.toString())) return;
    this.diagnostics.delete(uri);
    this.changed();
  }

  /** Problems only the server can tell: checked once it has said what it offers. */
  private check(): void {
    const { model } = this.deps;
    for (const { uri, text } of this.texts.values()) {
      if (model.state !== 'ready') {
        this.diagnostics.delete(uri);
        continue;
      }
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      const pos = (offset: number) => (doc ? doc.positionAt(offset) : positionAt(text, offset));
      this.diagnostics.set(
        uri,
        checkManifest(text, model.resources).map((p) => {
          const d = new vscode.Diagnostic(
            new vscode.Range(pos(p.offset), pos(p.offset + p.length)),
            p.message,
            p.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning,
          );
          d.source = 'Elevate';
          return d;
        }),
      );
    }
  }

  private changed(): void {
    void vscode.commands.executeCommand('setContext', ContextKeys.hasManifest, this.texts.size > 0);
    this.treeEmitter.fire(undefined);
    this.changeEmitter.fire();
  }

  state(need: Pick<Need, 'resource' | 'role'>): NeedState {
    const { model } = this.deps;
    return needState(need, model.resources, model.grants, model.myRequests, model.now());
  }

  getChildren(node?: NeedNode): NeedNode[] {
    if (node) return [];
    return this.needs.map((need) => ({ need, state: this.state(need) }));
  }

  getTreeItem({ need, state }: NeedNode): vscode.TreeItem {
    const { model } = this.deps;
    const t = vscode.l10n.t;
    const item = new vscode.TreeItem(`${model.resourceName(need.resource)} · ${need.role}`);
    item.id = `need:${need.uri.toString()}:${need.at.offset}`;
    item.description =
      state.kind === 'held'
        ? t('held until {0}', formatClockTime(state.grant.expiresAt, model.now()))
        : state.kind === 'pending'
          ? t('pending')
          : state.kind === 'unknown'
            ? model.state === 'ready'
              ? t('not offered by the server')
              : ''
            : t('not requested');
    item.iconPath = new vscode.ThemeIcon(
      state.kind === 'held' ? 'pass-filled' : state.kind === 'pending' ? 'watch' : state.kind === 'unknown' ? 'warning' : 'circle-large-outline',
    );
    item.tooltip =
      [need.justification, need.durationSeconds ? t('for {0}', formatDuration(need.durationSeconds)) : undefined].filter(Boolean).join(' · ') || undefined;
    item.contextValue = `need.${state.kind}`;
    item.command = { command: 'vscode.open', title: t('Open'), arguments: [need.uri] };
    return item;
  }

  /**
   * Requests every need that is neither held nor pending, with one justification (prefilled with
   * the branch's ticket and the needs' own justifications), each for its declared duration.
   */
  async requestAll(arg: RequestAllArgs): Promise<RequestAllOutcome[]> {
    const { model } = this.deps;
    const t = vscode.l10n.t;
    const open = this.needs.filter((n) => this.state(n).kind === 'none');
    if (!open.length) {
      void vscode.window.showInformationMessage(t('Everything this workspace needs is held or pending.'));
      return [];
    }
    const ticket = this.ticket();
    let justification = arg.justification;
    if (justification === undefined) {
      const declared = [...new Set(open.map((n) => n.justification).filter(Boolean))].join('; ');
      justification = await vscode.window.showInputBox({
        title: t('Request All ({0})', open.map((n) => `${model.resourceName(n.resource)} ${n.role}`).join(', ')),
        prompt: t('One justification for all of them. Approvers and the audit log see it.'),
        value: [ticket, declared].filter(Boolean).join(': '),
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() ? undefined : t('A justification is required.')),
      });
      if (!justification?.trim()) return [];
    }
    const outcomes: RequestAllOutcome[] = [];
    await withProgress(t('Requesting {0} accesses…', open.length), async () => {
      for (const need of open) {
        const r = model.resource(need.resource)!;
        const body: CreateRequestBody = {
          resourceId: need.resource,
          role: need.role,
          durationSeconds: oneClickDuration(r, need.role, model.me ?? { id: '', groups: [] }, Date.now(), need.durationSeconds),
          justification: justification!.trim(),
          ...(ticket && { ticket }),
        };
        try {
          const result = await client(this.deps).createRequest(body);
          model.upsertRequest(result.request);
          if (result.grant) model.upsertGrant(result.grant);
          if (result.request.status !== 'pending') this.deps.notifier.markShown(`decided:${result.request.id}`);
          outcomes.push({ need, request: result.request, ...(result.grant && { grant: result.grant }) });
        } catch (err) {
          outcomes.push({ need, error: err instanceof Error ? err.message : String(err) });
        }
      }
    });
    const granted = outcomes.filter((o) => o.grant).length;
    const pending = outcomes.filter((o) => o.request?.status === 'pending').length;
    const failed = outcomes.filter((o) => o.error);
    const summary = t('Requested {0}: {1} granted at once, {2} waiting for approval.', outcomes.length - failed.length, granted, pending);
    if (failed.length) {
      void vscode.window.showWarningMessage(
        `${summary} ${t('Not requested: {0}', failed.map((o) => `${model.resourceName(o.need.resource)} ${o.need.role} (${o.error})`).join('; '))}`,
      );
    } else void vscode.window.showInformationMessage(summary);
    return outcomes;
  }
}

/** Line/character of an offset in a text no editor has open. */
function positionAt(text: string, offset: number): vscode.Position {
  const before = text.slice(0, offset);
  const line = before.split('\n').length - 1;
  return new vscode.Position(line, offset - (before.lastIndexOf('\n') + 1));
}
