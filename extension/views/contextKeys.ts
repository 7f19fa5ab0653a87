// Mirrors the model into the context keys the manifest's `when` clauses use.
import * as vscode from 'vscode';
import { ContextKeys } from '../constants';
import type { ElevateModel } from '../model/model';
import { Disposable } from '../util/lifecycle';

export class ContextKeySync extends Disposable {
  private readonly values = new Map<string, unknown>();

  constructor(private readonly model: ElevateModel) {
    super();
    this.register(model.onDidChange(() => this.sync()));
    this.sync();
  }

  private set(key: string, value: unknown): void {
    if (this.values.get(key) === value) return;
    this.values.set(key, value);
    void vscode.commands.executeCommand('setContext', key, value);
  }

  sync(): void {
    const m = this.model;
    this.set(ContextKeys.state, m.state);
    this.set(ContextKeys.signedIn, m.state !== 'signedOut');
    this.set(ContextKeys.isApprover, m.state !== 'signedOut' && m.isApprover);
    this.set(ContextKeys.canRevoke, m.state !== 'signedOut' && m.mayRevokeOthers);
    this.set(ContextKeys.hasActiveGrants, m.grants.length > 0);
    this.set(ContextKeys.hasPendingRequests, m.myRequests.length > 0);
    this.set(ContextKeys.hasReviewable, m.reviewable.length > 0);
  }
}
