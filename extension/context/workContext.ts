// Everything issue 15 adds, in one place for extension.ts to create: the refused-command flow,
// the workspace manifest and its This Workspace section, the branch's ticket, elevate tasks and
// giving a grant back when its terminal closes, and the coding agents' tools.
import { AgentTools } from '../agent/tools';
import { Disposable } from '../util/lifecycle';
import type { Deps } from '../commands/deps';
import { BranchTicket } from './branchTicket';
import { GiveBackOnClose } from './giveBack';
import { RefusalFlow } from './refusalFlow';
import type { Prefill } from './ticket';
import { ElevateTasks } from './tasks';
import { WorkspaceNeeds } from './workspaceNeeds';

export class WorkContext extends Disposable {
  readonly refusals: RefusalFlow;
  readonly needs: WorkspaceNeeds;
  readonly branch: BranchTicket;
  readonly tasks: ElevateTasks;
  readonly giveBack: GiveBackOnClose;
  readonly agent: AgentTools;

  constructor(deps: Deps) {
    super();
    this.branch = this.register(new BranchTicket(deps.log));
    const ticket = () => this.branch.prefill()?.ticket;
    this.needs = this.register(new WorkspaceNeeds(deps, ticket));
    this.refusals = this.register(new RefusalFlow(deps, { needs: () => this.needs.needs, ticket }));
    this.tasks = this.register(new ElevateTasks(deps, ticket));
    this.giveBack = this.register(new GiveBackOnClose(deps));
    this.agent = this.register(new AgentTools(deps, ticket));
  }

  /** What every request flow starts with: the branch's ticket and a justification naming it. */
  prefill(): Prefill | undefined {
    return this.branch.prefill();
  }
}
