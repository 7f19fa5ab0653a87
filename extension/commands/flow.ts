// Building blocks for multi-step QuickPick flows: each step shows "title (step/total)", a back
// button from the second step on, and resolves to a value, BACK, or undefined (dismissed).
import * as vscode from 'vscode';

export const BACK = Symbol('back');
export type StepOutcome<T> = T | typeof BACK | undefined;

interface StepFrame {
  title: string;
  step: number;
  totalSteps: number;
  canGoBack: boolean;
}

export interface PickStep<T extends vscode.QuickPickItem> extends StepFrame {
  items: readonly T[] | Promise<readonly T[]>;
  placeholder: string;
  activeItem?: T;
  matchOnDescription?: boolean;
  /**
   * Items made from what the person typed (e.g. "Use 6m" for "6m"), shown first; called on every
   * change of the filter text. They must set `alwaysShow`, as VS Code would otherwise filter them out.
   */
  typed?: (value: string) => T[];
}

export function pickStep<T extends vscode.QuickPickItem>(o: PickStep<T>): Promise<StepOutcome<T>> {
  const qp = vscode.window.createQuickPick<T>();
  qp.title = o.title;
  qp.step = o.step;
  qp.totalSteps = o.totalSteps;
  qp.placeholder = o.placeholder;
  qp.ignoreFocusOut = true;
  qp.matchOnDescription = o.matchOnDescription ?? true;
  qp.matchOnDetail = true;
  qp.buttons = o.canGoBack ? [vscode.QuickInputButtons.Back] : [];
  return new Promise<StepOutcome<T>>((resolve) => {
    let done = false;
    const finish = (v: StepOutcome<T>) => {
      if (done) return;
      done = true;
      resolve(v);
      qp.dispose();
    };
    qp.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    qp.onDidAccept(() => {
      const picked = qp.selectedItems[0] ?? qp.activeItems[0];
      if (picked && picked.kind !== vscode.QuickPickItemKind.Separator) finish(picked);
    });
    qp.onDidHide(() => finish(undefined));
    if (Array.isArray(o.items)) {
      const base = o.items;
      qp.items = base;
      if (o.activeItem) qp.activeItems = [o.activeItem];
      if (o.typed) {
        const typed = o.typed;
        qp.onDidChangeValue((value) => {
          const extra = value.trim() ? typed(value) : [];
          qp.items = [...extra, ...base];
          if (extra.length) qp.activeItems = [extra[0]];
        });
      }
    } else {
      qp.busy = true;
      qp.enabled = false;
      void Promise.resolve(o.items).then(
        (items) => {
          qp.items = items;
          qp.busy = false;
          qp.enabled = true;
        },
        (err: unknown) => {
          qp.busy = false;
          qp.enabled = true;
          qp.items = [{ label: `$(error) ${err instanceof Error ? err.message : String(err)}`, alwaysShow: true } as T];
        },
      );
    }
    qp.show();
  });
}

export interface InputStep extends StepFrame {
  prompt: string;
  placeholder?: string;
  value?: string;
  password?: boolean;
  validate(value: string): string | undefined;
  /** A slower check when the value is accepted (e.g. asking the server); a message keeps the box open. */
  check?(value: string): Promise<string | undefined>;
}

export function inputStep(o: InputStep): Promise<StepOutcome<string>> {
  const box = vscode.window.createInputBox();
  box.title = o.title;
  box.step = o.step;
  box.totalSteps = o.totalSteps;
  box.prompt = o.prompt;
  box.placeholder = o.placeholder;
  box.value = o.value ?? '';
  box.password = o.password ?? false;
  box.ignoreFocusOut = true;
  box.buttons = o.canGoBack ? [vscode.QuickInputButtons.Back] : [];
  return new Promise<StepOutcome<string>>((resolve) => {
    let done = false;
    const finish = (v: StepOutcome<string>) => {
      if (done) return;
      done = true;
      resolve(v);
      box.dispose();
    };
    const check = () => {
      const problem = o.validate(box.value);
      box.validationMessage = problem;
      return !problem;
    };
    box.onDidChangeValue(() => check());
    box.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    box.onDidAccept(async () => {
      if (!check() || box.busy) return;
      if (o.check) {
        box.busy = true;
        box.enabled = false;
        const problem = await o.check(box.value).catch((err: unknown) => (err instanceof Error ? err.message : String(err)));
        box.busy = false;
        box.enabled = true;
        if (problem) {
          box.validationMessage = { message: problem, severity: vscode.InputBoxValidationSeverity.Error };
          return;
        }
      }
      finish(box.value);
    });
    box.onDidHide(() => finish(undefined));
    box.show();
    if (box.value) check();
  });
}

/**
 * Runs steps in order. A step returns BACK to return to the previous one that was shown, or
 * SKIP when it does not apply (skipped steps are passed over in both directions).
 */
export const SKIP = Symbol('skip');
export type Step = () => Promise<StepOutcome<unknown> | typeof SKIP>;

export async function runSteps(steps: readonly Step[]): Promise<boolean> {
  const shown: number[] = [];
  let i = 0;
  while (i < steps.length) {
    const result = await steps[i]();
    if (result === undefined) return false;
    if (result === BACK) {
      const previous = shown.pop();
      if (previous === undefined) return false;
      i = previous;
      continue;
    }
    if (result !== SKIP) shown.push(i);
    i++;
  }
  return true;
}
