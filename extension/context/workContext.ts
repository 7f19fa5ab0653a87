// Everything issue 15 adds, in one place for extension.ts to create: the refused-command flow,
// the workspace manifest and its This Workspace section; the branch ticket, elevate tasks and
// agent tools join it.
import { Disposable } from '../util/lifecycle';
import type { Deps } from '../commands/deps';
import { RefusalFlow } from './refusalFlow';
import { WorkspaceNeeds } from './workspaceNeeds';

export class WorkContext extends Disposable {
  readonly refusals: RefusalFlow;
  readonly needs: WorkspaceNeeds;

  constructor(deps: Deps) {
    super();
    const ticket = () => undefined;
    this.needs = this.register(new WorkspaceNeeds(deps, ticket));
    this.refusals = this.register(new RefusalFlow(deps, { needs: () => this.needs.needs, ticket }));
  }
}
