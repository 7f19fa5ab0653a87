// Everything issue 15 adds, in one place for extension.ts to create: the refused-command flow,
// the workspace manifest and its This Workspace section, the branch's ticket; elevate tasks and
// agent tools join it.
import { Disposable } from '../util/lifecycle';
import type { Deps } from '../commands/deps';
import { BranchTicket } from './branchTicket';
import { RefusalFlow } from './refusalFlow';
import type { Prefill } from './ticket';
import { WorkspaceNeeds } from './workspaceNeeds';

export class WorkContext extends Disposable {
  readonly refusals: RefusalFlow;
  readonly needs: WorkspaceNeeds;
  readonly branch: BranchTicket;

  constructor(deps: Deps) {
    super();
    this.branch = this.register(new BranchTicket(deps.log));
    const ticket = () => this.branch.prefill()?.ticket;
    this.needs = this.register(new WorkspaceNeeds(deps, ticket));
    this.refusals = this.register(new RefusalFlow(deps, { needs: () => this.needs.needs, ticket }));
  }

  /** What every request flow starts with: the branch's ticket and a justification naming it. */
  prefill(): Prefill | undefined {
    return this.branch.prefill();
  }
}
