// Everything issue 15 adds, in one place for extension.ts to create: the refused-command flow now;
// the workspace manifest, branch ticket, elevate tasks and agent tools join it.
import { Disposable } from '../util/lifecycle';
import type { Deps } from '../commands/deps';
import { RefusalFlow } from './refusalFlow';

export class WorkContext extends Disposable {
  readonly refusals: RefusalFlow;

  constructor(deps: Deps) {
    super();
    this.refusals = this.register(new RefusalFlow(deps, { needs: () => [], ticket: () => undefined }));
  }
}
