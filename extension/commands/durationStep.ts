// The duration step shared by Request Access and Extend Grant: presets, what the person types
// ("6m" offers "Use 6m"; a bare number is read as minutes and shown as such), "Other duration…"
// always there, and a custom duration that survives Back.
import * as vscode from 'vscode';
import { parseTypedDuration } from '../../server/protocol/duration';
import { formatDuration } from '../model/format';
import { BACK, inputStep, pickStep, type StepOutcome } from './flow';

export interface DurationOption {
  seconds: number;
  description?: string;
  detail?: string;
}

export interface DurationStepOptions {
  title: string;
  step: number;
  totalSteps: number;
  canGoBack: boolean;
  placeholder: string;
  options: readonly DurationOption[];
  /** the duration chosen before (kept across Back, also when it was typed) */
  current?: number;
  /** the most that can be asked for */
  maxSeconds: number;
  /** how an option the person typed is described (e.g. "approved at once" or "until 10:45") */
  describe(seconds: number): Pick<DurationOption, 'description' | 'detail'>;
  /** label prefix: "" for a request, "+" for an extension */
  prefix?: string;
}

type Item = vscode.QuickPickItem & { seconds?: number; other?: boolean };

/** What a typed text offers: "Use 6m", or why it cannot be used; nothing when it is not a duration. */
export function typedOption(value: string, maxSeconds: number, prefix = ''): { seconds?: number; label: string; minutes: boolean } | undefined {
  const seconds = parseTypedDuration(value);
  if (seconds === undefined) return undefined;
  const minutes = /^\s*\d+\s*$/.test(value);
  if (seconds > maxSeconds)
    return { label: vscode.l10n.t('{0}{1} is more than the {2} allowed', prefix, formatDuration(seconds), formatDuration(maxSeconds)), minutes };
  return { seconds, label: vscode.l10n.t('Use {0}{1}', prefix, formatDuration(seconds)), minutes };
}

export async function durationStep(o: DurationStepOptions): Promise<StepOutcome<number>> {
  const prefix = o.prefix ?? '';
  const options = [...o.options];
  // a duration typed earlier is offered again after Back, not silently replaced by a preset
  if (o.current !== undefined && !options.some((x) => x.seconds === o.current) && o.current <= o.maxSeconds) {
    options.push({ seconds: o.current, ...o.describe(o.current) });
    options.sort((a, b) => a.seconds - b.seconds);
  }
  for (;;) {
    const items: Item[] = options.map((x) => ({
      label: `${prefix}${formatDuration(x.seconds)}`,
      description: x.description,
      detail: x.detail,
      seconds: x.seconds,
    }));
    items.push({
      label: `$(edit) ${vscode.l10n.t('Other duration…')}`,
      description: vscode.l10n.t('up to {0}', formatDuration(o.maxSeconds)),
      other: true,
      alwaysShow: true,
    });
    const picked = await pickStep<Item>({
      title: o.title,
      step: o.step,
      totalSteps: o.totalSteps,
      canGoBack: o.canGoBack,
      placeholder: o.placeholder,
      items,
      activeItem: items.find((i) => i.seconds === o.current) ?? items[0],
      typed: (value) => {
        const t = typedOption(value, o.maxSeconds, prefix);
        // a length that is already offered is found by the filter itself (VS Code would sort the
        // preset above a "Use …" twin anyway)
        if (!t || options.some((x) => x.seconds === t.seconds)) return [];
        if (t.seconds === undefined) return [{ label: `$(error) ${t.label}`, alwaysShow: true }];
        const d = o.describe(t.seconds);
        return [
          {
            label: `$(check) ${t.label}`,
            description: [t.minutes ? vscode.l10n.t('a number alone is minutes') : '', d.description].filter(Boolean).join(' · '),
            detail: d.detail,
            seconds: t.seconds,
            alwaysShow: true,
          },
        ];
      },
    });
    if (!picked || picked === BACK) return picked;
    if (picked.seconds) return picked.seconds;
    if (!picked.other) continue; // "too long": nothing to use, ask again
    const typed = await inputStep({
      title: o.title,
      step: o.step,
      totalSteps: o.totalSteps,
      canGoBack: true,
      prompt: vscode.l10n.t('A duration like 45m, 1h30m or 2h (a number alone is minutes), at most {0}', formatDuration(o.maxSeconds)),
      value: o.current ? formatDuration(o.current).replace(/ /g, '') : '',
      validate: (v) => {
        const s = parseTypedDuration(v);
        if (s === undefined) return vscode.l10n.t('Enter a duration like 45m, 1h30m or 2h.');
        if (s > o.maxSeconds) return vscode.l10n.t('At most {0}.', formatDuration(o.maxSeconds));
        return undefined;
      },
    });
    if (typed === undefined) return undefined;
    if (typed === BACK) continue;
    return parseTypedDuration(typed);
  }
}
