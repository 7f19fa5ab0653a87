// The rule behind "a notification appears once, in the focused window" (pure, unit-tested):
// every window of the user receives the same live events; the focused one shows the notice and
// records its key in storage shared by all windows. An unfocused window holds it until it gains
// focus, then shows it only if no window has and it is still relevant.

export interface GateNotice {
  key: string;
  stillRelevant?: () => boolean;
}

/** Storage shared by all windows (VS Code's globalState). */
export interface SharedStore {
  get(key: string): Record<string, number> | undefined;
  update(key: string, value: Record<string, number>): PromiseLike<void> | void;
}

const STORE_KEY = 'elevate.shownNotices';
const KEEP_MS = 24 * 3600_000;
const MAX_PENDING = 20;

export class NoticeGate<N extends GateNotice> {
  private pending: N[] = [];
  /** keys this window showed or was told about (fast path before the shared store) */
  private readonly local = new Set<string>();

  constructor(
    private readonly store: SharedStore,
    private readonly isFocused: () => boolean,
    private readonly show: (notice: N) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Marks a notice as shown, e.g. when the command that caused it already showed the result. */
  markShown(key: string): void {
    this.local.add(key);
    void this.record(key);
  }

  wasShown(key: string): boolean {
    return this.local.has(key) || key in (this.store.get(STORE_KEY) ?? {});
  }

  notify(notice: N): void {
    if (this.wasShown(notice.key)) return;
    if (this.isFocused()) return this.display(notice);
    this.pending = [...this.pending.filter((n) => n.key !== notice.key), notice].slice(-MAX_PENDING);
  }

  /** Call when this window gains focus. */
  focused(): void {
    const due = this.pending;
    this.pending = [];
    for (const n of due) if (!this.wasShown(n.key) && (n.stillRelevant?.() ?? true)) this.display(n);
  }

  get waiting(): number {
    return this.pending.length;
  }

  private display(n: N): void {
    this.markShown(n.key);
    this.show(n);
  }

  private async record(key: string): Promise<void> {
    const now = this.now();
    const shown = { ...(this.store.get(STORE_KEY) ?? {}) };
    for (const [k, at] of Object.entries(shown)) if (now - at > KEEP_MS) delete shown[k];
    shown[key] = now;
    await this.store.update(STORE_KEY, shown);
  }
}
