// Everything in the editor that holds a grant's credentials (a terminal's environment, the clipboard
// after Copy Credentials) and letting go of it when the grant ends, whatever ended it: expiry,
// revocation, relinquish, failed provisioning. Without a server it lets go at the grant's end time:
// the credentials stop working then anyway. Pure (no vscode import): views/grantCredentials.ts
// supplies the terminals and the clipboard.
import type { Grant } from '../../server/protocol';
import { errorMessage } from '../api/errors';
import { Disposable, Emitter, toDisposable, type IDisposable, type Logger, type Timers } from '../util/lifecycle';
import { decideReleases, type EndReason } from './credentials';
import type { ElevateModel } from './model';
import { logText } from '../../server/protocol/escape/logLine';

export type HolderKind = 'terminal' | 'clipboard';

export interface Holder {
  readonly kind: HolderKind;
  /** Lets go of the credentials: false when there was nothing left to let go of (the user copied something else since). */
  release(): boolean | PromiseLike<boolean>;
}

/** What was let go of when a grant ended. */
export interface Released {
  /** the grant as the model saw it end (with who ended it and why), else as it was when held */
  grant: Grant;
  reason: EndReason;
  /** terminals whose credentials were ended (their shell hung up, or the terminal closed) */
  terminals: number;
  /** whether the clipboard was cleared */
  clipboard: boolean;
}

export type HoldersModel = Pick<ElevateModel, 'now' | 'state' | 'grants' | 'endedGrant' | 'onDidChange' | 'onDidReceiveEvent'>;

interface Held {
  grant: Grant;
  /** ms */
  expiresAt: number;
  holders: Set<Holder>;
}

/** Wake-up after a grant's end, so the model's own expiry or the server's event usually comes first. */
const AFTER_END_MS = 250;
/** How many ended grants to remember as announced here. */
const REMEMBER = 100;

export class CredentialHolders<M extends HoldersModel = HoldersModel> extends Disposable {
  private readonly held = new Map<string, Held>();
  private readonly announced = new Set<string>();
  private readonly releaseEmitter = this.register(new Emitter<Released>());
  /** Fires once per ended grant that something here held, after letting go of it all. */
  readonly onDidRelease = this.releaseEmitter.event;
  private timer: unknown;

  constructor(
    protected readonly model: M,
    private readonly timers: Timers,
    protected readonly log: Logger,
  ) {
    super();
    this.register(model.onDidChange((kinds) => (kinds.has('grants') || kinds.has('connection')) && this.check()));
    this.register(model.onDidReceiveEvent(() => this.check()));
    this.register(toDisposable(() => this.timers.clearTimeout(this.timer)));
  }

  /**
   * Records that `holder` carries the credentials of `grant`, which work until `expiresAt`.
   * Dispose the result when the holder goes away by itself (the user closed the terminal).
   */
  hold(grant: Grant, expiresAt: string, holder: Holder): IDisposable {
    const end = Math.max(Date.parse(expiresAt), Date.parse(grant.expiresAt));
    const entry = this.held.get(grant.id) ?? { grant, expiresAt: end, holders: new Set<Holder>() };
    entry.expiresAt = Math.max(entry.expiresAt, end);
    entry.holders.add(holder);
    this.held.set(grant.id, entry);
    // the grant may have ended while the credentials were on their way
    this.check();
    return toDisposable(() => {
      const current = this.held.get(grant.id);
      if (!current?.holders.delete(holder)) return;
      if (!current.holders.size) this.held.delete(grant.id);
      this.schedule();
    });
  }

  /** What holds a grant's credentials now. */
  holdersOf(grantId: string): readonly Holder[] {
    return [...(this.held.get(grantId)?.holders ?? [])];
  }

  /**
   * Whether the end of that grant is announced through onDidRelease (something here held its
   * credentials): true from the moment its end is noticed, before anything is let go of, so a
   * general "your access ended" notice can stand down.
   */
  announcesEndOf(grantId: string): boolean {
    return this.announced.has(grantId);
  }

  private check(): void {
    if (!this.held.size) return;
    const model = this.model;
    const decisions = decideReleases(
      [...this.held].map(([grantId, h]) => ({ grantId, expiresAt: h.expiresAt })),
      {
        now: model.now(),
        authoritative: model.state === 'ready',
        active: model.grants,
        ended: (id) => model.endedGrant(id),
      },
    );
    for (const d of decisions) {
      const entry = this.held.get(d.grantId)!;
      if (d.action === 'extend') {
        entry.expiresAt = d.expiresAt;
        continue;
      }
      this.held.delete(d.grantId);
      this.announced.add(d.grantId);
      if (this.announced.size > REMEMBER) this.announced.delete(this.announced.values().next().value!);
      void this.release(entry, d.reason);
    }
    this.schedule();
  }

  private async release(entry: Held, reason: EndReason): Promise<void> {
    const id = entry.grant.id;
    const outcomes = await Promise.all(
      [...entry.holders].map(async (h) => {
        try {
          return { kind: h.kind, released: await h.release() };
        } catch (err) {
          this.log.warn(`could not let go of the ${h.kind} holding the credentials of grant ${id}: ${logText(errorMessage(err))}`);
          return { kind: h.kind, released: false };
        }
      }),
    );
    const terminals = outcomes.filter((o) => o.kind === 'terminal' && o.released).length;
    const clipboard = outcomes.some((o) => o.kind === 'clipboard' && o.released);
    const done = [
      ...(outcomes.some((o) => o.kind === 'terminal') ? [terminals === 1 ? 'ended 1 terminal' : `ended ${terminals} terminals`] : []),
      ...(outcomes.some((o) => o.kind === 'clipboard')
        ? [clipboard ? 'cleared the clipboard' : 'left the clipboard alone (it no longer holds the copied credentials)']
        : []),
    ];
    this.log.info(`grant ${id} ${reason}: ${done.join(', ')}`);
    if (this.isDisposed) return;
    this.releaseEmitter.fire({ grant: this.model.endedGrant(id) ?? entry.grant, reason, terminals, clipboard });
  }

  /** Wakes up just after the earliest end, in case no event or refresh says so first. */
  private schedule(): void {
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.isDisposed || !this.held.size) return;
    const next = Math.min(...[...this.held.values()].map((h) => h.expiresAt));
    const delay = Math.max(0, next - this.model.now()) + AFTER_END_MS;
    this.timer = this.timers.setTimeout(() => this.check(), Math.min(delay, 2 ** 31 - 1));
  }
}
