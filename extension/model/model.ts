// The one owner of server state in the extension: who I am, what I may request, my grants and
// requests, and what I may review. It loads over HTTP, follows the event stream, polls while the
// stream is down, and tells views what changed. Views and the status bar only render it.
import { LiveEvent, type AccessRequest, type Grant, type Me, type ResourceView } from '../../server/protocol';
import { ElevateClient, type TimeSample } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';
import { LiveEventSource, type EventSourceOptions, type StreamState } from '../api/sse';
import { Disposable, Emitter, type IDisposable, type Logger, nullLogger, type Timers, realTimers } from '../util/lifecycle';
import type { ServerClock } from './clock';
import { logText } from '../../server/protocol/escape/logLine';

export type ConnectionState = 'signedOut' | 'connecting' | 'ready' | 'unreachable' | 'error';
export type User = Me['user'];
export type ChangeKind = 'connection' | 'me' | 'resources' | 'grants' | 'myRequests' | 'reviewable' | 'revocable' | 'live';

/** What the model needs of the API client (a fake in unit tests). */
export type ModelApi = Pick<ElevateClient, 'origin' | 'me' | 'resources' | 'listRequests' | 'listGrants' | 'openEvents'>;

export interface ModelEvent {
  event: LiveEvent;
  /** the SSE id (audit seq) */
  seq?: number;
}

export interface ModelOptions {
  clock: ServerClock;
  timers?: Timers;
  logger?: Logger;
  pollIntervalMs?: number;
  /** Event-source factory, replaceable in tests; null disables live events. */
  eventSource?: ((opts: EventSourceOptions) => Pick<LiveEventSource, 'start' | 'stop' | 'dispose' | 'onMessage' | 'onState' | 'reconnectNow' | 'state'>) | null;
}

const byEnd = (a: Grant, b: Grant) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt) || a.id.localeCompare(b.id);
const byNewest = (a: AccessRequest, b: AccessRequest) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || a.id.localeCompare(b.id);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Whether this person may end someone else's grant: an admin, or an approver of its resource. The
 * server decides it (server/domain/rights.ts canRevoke) and answers accordingly; this mirrors it
 * from /v1/me so the editor lists only what a Revoke can succeed on.
 */
export function mayRevoke(me: Pick<User, 'id' | 'roles' | 'approverOf'> | undefined, grant: Pick<Grant, 'userId' | 'resourceId'>): boolean {
  return !!me && grant.userId !== me.id && (me.roles.includes('admin') || me.approverOf.includes(grant.resourceId));
}

/** Whether this person may revoke anyone's grants at all (mayRevoke for some grant). */
const revokesAny = (me: Pick<User, 'roles' | 'approverOf'> | undefined): boolean => !!me && (me.roles.includes('admin') || me.approverOf.length > 0);

export class ElevateModel extends Disposable {
  private readonly changeEmitter = this.register(new Emitter<ReadonlySet<ChangeKind>>());
  private readonly eventEmitter = this.register(new Emitter<ModelEvent>());
  /** Fires with the kinds of data that changed; several changes of one update come together. */
  readonly onDidChange = this.changeEmitter.event;
  /** Fires for every live event after it has been applied. */
  readonly onDidReceiveEvent = this.eventEmitter.event;

  // 'connecting' until the session has looked for a stored token: a reloaded window shows
  // "Connecting…", not a "Sign in" that the signed-in views then replace
  private stateValue: ConnectionState = 'connecting';
  /** when the server last answered in full (local ms), for "last updated HH:MM" while offline */
  private updatedAt: number | undefined;
  private messageValue: string | undefined;
  private meValue: User | undefined;
  private resourcesValue: ResourceView[] = [];
  private grantsValue: Grant[] = [];
  private myRequestsValue: AccessRequest[] = [];
  private reviewableValue: AccessRequest[] = [];
  private revocableValue: Grant[] = [];
  private liveValue: StreamState | 'off' = 'off';

  private api: ModelApi | undefined;
  private source: ReturnType<NonNullable<ModelOptions['eventSource']>> | undefined;
  private sourceSubscriptions: IDisposable[] = [];
  private generation = 0;
  private lastSeq = 0;
  /** ids that reached a final state: a late or replayed event must not bring them back */
  private readonly ended = new Set<string>();
  /** how my recently ended grants ended (status, endedBy), for whoever closes what they opened */
  private readonly endedGrants = new Map<string, Grant>();
  /** new grants whose provider has not confirmed them yet ("getting ready") */
  private readonly awaitingProvider = new Set<string>();
  /** grants whose grant.provisioned was seen (it may come before the HTTP answer that created them) */
  private readonly provisionedSeen = new Set<string>();
  private pollTimer: unknown;
  private expiryTimer: unknown;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;

  private readonly clock: ServerClock;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly pollIntervalMs: number;
  private readonly makeSource: ModelOptions['eventSource'];

  constructor(opts: ModelOptions) {
    super();
    this.clock = opts.clock;
    this.timers = opts.timers ?? realTimers;
    this.log = opts.logger ?? nullLogger;
    this.pollIntervalMs = opts.pollIntervalMs ?? 30_000;
    this.makeSource = opts.eventSource === undefined ? (o) => new LiveEventSource(o) : opts.eventSource;
    this.register({ dispose: () => this.teardown() });
  }

  // ---------- state ----------

  get state(): ConnectionState {
    return this.stateValue;
  }
  /** Why the model is signed out / unreachable / in error, for the welcome views and the log. */
  get message(): string | undefined {
    return this.messageValue;
  }
  get me(): User | undefined {
    return this.meValue;
  }
  get resources(): readonly ResourceView[] {
    return this.resourcesValue;
  }
  /** My active grants, soonest end first (an ended one disappears at its end). */
  get grants(): readonly Grant[] {
    return this.grantsValue;
  }
  /** My pending requests, newest first. */
  get myRequests(): readonly AccessRequest[] {
    return this.myRequestsValue;
  }
  /** Pending requests I may decide, newest first. */
  get reviewable(): readonly AccessRequest[] {
    return this.reviewableValue;
  }
  /** Other people's active grants I may revoke, soonest end first (empty unless I may revoke any). */
  get revocable(): readonly Grant[] {
    return this.revocableValue;
  }
  /** Whether I may revoke anyone's grants at all: an admin, or an approver of some resource. */
  get mayRevokeOthers(): boolean {
    return revokesAny(this.meValue);
  }
  get live(): StreamState | 'off' {
    return this.liveValue;
  }
  /** When the server last answered in full (local ms since the epoch); undefined before that. */
  get lastUpdated(): number | undefined {
    return this.updatedAt;
  }
  /**
   * The grants and requests shown are as last known, not live: the server cannot be reached or
   * failed, or it signed this editor out (the access itself still runs on the server).
   */
  get isStale(): boolean {
    return this.stateValue === 'unreachable' || this.stateValue === 'error' || (this.stateValue === 'signedOut' && this.grantsValue.length > 0);
  }
  get origin(): string | undefined {
    return this.api?.origin;
  }
  get isApprover(): boolean {
    return (this.meValue?.approverOf.length ?? 0) > 0;
  }
  get lastEventId(): number {
    return this.lastSeq;
  }

  now(): number {
    return this.clock.now();
  }
  resource(id: string): ResourceView | undefined {
    return this.resourcesValue.find((r) => r.id === id);
  }
  resourceName(id: string): string {
    return this.resource(id)?.name ?? id;
  }
  grant(id: string): Grant | undefined {
    return this.grantsValue.find((g) => g.id === id);
  }
  request(id: string): AccessRequest | undefined {
    return this.myRequestsValue.find((r) => r.id === id) ?? this.reviewableValue.find((r) => r.id === id);
  }
  /** The final state of one of my grants that ended while signed in (the last 100), if seen. */
  endedGrant(id: string): Grant | undefined {
    return this.endedGrants.get(id);
  }
  /** Whether a provider sets this resource's access up (so a new grant is not ready at once). */
  hasProvider(resourceId: string): boolean {
    return (this.resource(resourceId)?.provider?.type ?? 'none') !== 'none';
  }
  /** False while a grant seen starting here waits for its provider's confirmation. */
  isProvisioned(grantId: string): boolean {
    return !this.awaitingProvider.has(grantId);
  }
  /** The pending extension request of a grant, if any (at most one per grant). */
  pendingExtensionOf(grantId: string): AccessRequest | undefined {
    return this.myRequestsValue.find((r) => r.kind === 'extension' && r.grantId === grantId);
  }

  // ---------- lifecycle ----------

  /** Starts using a signed-in client: loads everything, then follows the event stream. */
  async connect(api: ModelApi): Promise<void> {
    this.teardown();
    this.api = api;
    this.lastSeq = 0;
    this.ended.clear();
    this.setState('connecting', undefined);
    await this.refresh();
    if (this.api !== api || this.stateValue === 'signedOut') return;
    this.startStream(api);
  }

  /**
   * Forgets everything (signed out). With a message (the server refused the token: revoked or
   * expired), the last-known grants stay until their end, because that access still runs on the
   * server and the person must keep seeing it.
   */
  signOut(message?: string): void {
    this.teardown();
    this.api = undefined;
    const kinds = new Set<ChangeKind>(['connection', 'me']);
    if (!message) this.meValue = undefined;
    this.replace('resources', message ? this.resourcesValue : [], kinds);
    this.replace('grants', message ? this.grantsValue.filter((g) => Date.parse(g.expiresAt) > this.clock.now()) : [], kinds);
    if (message) this.scheduleExpiry();
    this.replace('myRequests', [], kinds);
    this.replace('reviewable', [], kinds);
    this.replace('revocable', [], kinds);
    this.stateValue = 'signedOut';
    this.messageValue = message;
    this.liveValue = 'off';
    kinds.add('live');
    this.changeEmitter.fire(kinds);
  }

  private teardown(): void {
    this.generation++;
    this.timers.clearTimeout(this.pollTimer);
    this.timers.clearTimeout(this.expiryTimer);
    this.pollTimer = undefined;
    this.expiryTimer = undefined;
    for (const d of this.sourceSubscriptions.splice(0)) d.dispose();
    this.source?.dispose();
    this.source = undefined;
  }

  // ---------- loading ----------

  /** Reloads everything; concurrent calls share one load (and one more runs if asked meanwhile). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          await this.load();
        } while (this.refreshAgain && !this.isDisposed);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const api = this.api;
    if (!api) return;
    const gen = this.generation;
    const sample = (s: TimeSample) => this.clock.sample(s);
    try {
      const [me, resources, grants, mine, reviewable] = await Promise.all([
        api.me(),
        api.resources(),
        api.listGrants({ scope: 'mine', status: 'active', limit: 500 }, sample),
        api.listRequests('mine', 'pending'),
        api.listRequests('reviewable', 'pending'),
      ]);
      if (gen !== this.generation) return;
      // others' grants only for those who may revoke some (anyone else would get a 403)
      const all = revokesAny(me) ? (await api.listGrants({ scope: 'all', status: 'active', limit: 500 })).grants : [];
      if (gen !== this.generation) return;
      const kinds = new Set<ChangeKind>();
      if (!same(me, this.meValue)) {
        this.meValue = me;
        kinds.add('me');
      }
      this.replace(
        'resources',
        [...resources].sort((a, b) => a.name.localeCompare(b.name)),
        kinds,
      );
      // an event may have ended something after this snapshot was taken: the event wins
      const open = (prefix: string) => (x: { id: string }) => !this.ended.has(`${prefix}:${x.id}`);
      this.replace(
        'grants',
        grants.grants
          .filter((g) => g.status === 'active' && Date.parse(g.expiresAt) > this.clock.now())
          .filter(open('grant'))
          .sort(byEnd),
        kinds,
      );
      this.replace(
        'myRequests',
        mine
          .filter((r) => r.status === 'pending')
          .filter(open('request'))
          .sort(byNewest),
        kinds,
      );
      this.replace('reviewable', this.reviewableOnly(reviewable, me).filter(open('request')).sort(byNewest), kinds);
      this.replace(
        'revocable',
        all
          .filter((g) => g.status === 'active' && Date.parse(g.expiresAt) > this.clock.now() && mayRevoke(me, g))
          .filter(open('grant'))
          .sort(byEnd),
        kinds,
      );
      this.updatedAt = Date.now();
      if (this.stateValue !== 'ready' || this.messageValue) {
        this.stateValue = 'ready';
        this.messageValue = undefined;
        kinds.add('connection');
      }
      this.scheduleExpiry();
      if (kinds.size) this.changeEmitter.fire(kinds);
    } catch (err) {
      if (gen !== this.generation) return;
      this.fail(err);
    } finally {
      if (gen === this.generation) this.schedulePoll();
    }
  }

  private fail(err: unknown): void {
    const message = errorMessage(err);
    if (err instanceof ApiError && err.isUnauthenticated) {
      this.log.warn(`signed out: ${logText(message)}`);
      this.signOut(message);
      return;
    }
    const state: ConnectionState = err instanceof ApiError && err.isUnreachable ? 'unreachable' : 'error';
    this.log.error(`refresh failed (${state}): ${logText(message)}`);
    this.setState(state, message);
  }

  private reviewableOnly(requests: readonly AccessRequest[], me: User | undefined): AccessRequest[] {
    return requests.filter((r) => r.status === 'pending' && r.requesterId !== me?.id && !r.approvals.some((a) => a.approverId === me?.id));
  }

  private replace<K extends 'resources' | 'grants' | 'myRequests' | 'reviewable' | 'revocable'>(
    kind: K,
    value: never[] | ResourceView[] | Grant[] | AccessRequest[],
    kinds: Set<ChangeKind>,
  ): void {
    const field = `${kind}Value` as const;
    if (same(this[field], value)) return;
    (this as unknown as Record<string, unknown>)[field] = value;
    kinds.add(kind);
  }

  private setState(state: ConnectionState, message: string | undefined): void {
    if (this.stateValue === state && this.messageValue === message) return;
    this.stateValue = state;
    this.messageValue = message;
    this.changeEmitter.fire(new Set(['connection']));
  }

  /** Polls while the stream is not open: 30 s as a fallback, or to notice the server coming back. */
  private schedulePoll(): void {
    this.timers.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    if (!this.api || this.stateValue === 'signedOut') return;
    if (this.liveValue === 'open') return;
    const gen = this.generation;
    this.pollTimer = this.timers.setTimeout(() => {
      if (gen !== this.generation) return;
      this.log.debug('polling (event stream not open)');
      void this.refresh();
    }, this.pollIntervalMs);
  }

  /** Drops grants (mine and those I may revoke) at their end even if no event says so (the stream may be down). */
  private scheduleExpiry(): void {
    this.timers.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    const ends = [this.grantsValue[0], this.revocableValue[0]].filter((g) => g !== undefined).map((g) => Date.parse(g.expiresAt));
    if (!ends.length) return;
    const delay = Math.max(0, Math.min(...ends) - this.clock.now());
    this.expiryTimer = this.timers.setTimeout(() => this.pruneExpired(), Math.min(delay + 50, 2 ** 31 - 1));
  }

  private pruneExpired(): void {
    const now = this.clock.now();
    const kinds = new Set<ChangeKind>();
    const left = this.grantsValue.filter((g) => Date.parse(g.expiresAt) > now);
    if (left.length !== this.grantsValue.length) {
      this.grantsValue = left;
      kinds.add('grants');
    }
    const others = this.revocableValue.filter((g) => Date.parse(g.expiresAt) > now);
    if (others.length !== this.revocableValue.length) {
      this.revocableValue = others;
      kinds.add('revocable');
    }
    if (kinds.size) this.changeEmitter.fire(kinds);
    this.scheduleExpiry();
  }

  // ---------- live events ----------

  private startStream(api: ModelApi): void {
    if (!this.makeSource) return;
    const source = this.makeSource({
      open: (lastId, signal) => api.openEvents(lastId, signal),
      errorOf: (res) => ElevateClient.errorOf(res),
      lastEventId: this.lastSeq ? String(this.lastSeq) : undefined,
      logger: this.log,
      timers: this.timers,
    });
    this.source = source;
    const gen = this.generation;
    this.sourceSubscriptions.push(
      source.onMessage((m) => {
        if (gen !== this.generation) return;
        let json: unknown;
        try {
          json = JSON.parse(m.data);
        } catch {
          json = undefined;
        }
        const parsed = LiveEvent.safeParse(json);
        if (!parsed.success) {
          this.log.warn(`ignoring an event that does not match the protocol: ${logText(m.data, 200)}`);
          return;
        }
        const seq = m.id !== undefined && /^\d+$/.test(m.id) ? Number(m.id) : undefined;
        this.applyEvent(parsed.data, seq);
      }),
      source.onState(({ state, error }) => {
        if (gen !== this.generation) return;
        this.liveValue = state;
        this.changeEmitter.fire(new Set(['live']));
        if (state === 'open') {
          this.log.info('event stream open');
          this.timers.clearTimeout(this.pollTimer);
          // catch up on anything that happened while the stream was not open (including the
          // moment between the first load and the stream's start)
          void this.refresh();
        } else if (state === 'down') {
          if (error instanceof ApiError && error.isUnauthenticated) return this.signOut(error.userMessage);
          // the stream notices a lost server first: check now, so the views say "unreachable"
          // at once instead of at the next 30 s poll
          if (this.stateValue === 'ready') void this.refresh();
          else if (!this.pollTimer) this.schedulePoll();
        }
      }),
    );
    source.start();
  }

  /** Reconnects the stream at once if it is waiting to retry (user pressed Retry/Refresh). */
  reconnect(): void {
    this.source?.reconnectNow();
  }

  /** Applies one live event (idempotent: replays and duplicates are ignored). */
  applyEvent(event: LiveEvent, seq?: number): void {
    if (seq !== undefined) {
      if (seq <= this.lastSeq) return;
      this.lastSeq = seq;
    }
    const kinds = new Set<ChangeKind>();
    if (event.type === 'grant.provisioned' && event.grant) {
      this.provisionedSeen.add(event.grant.id);
      if (this.provisionedSeen.size > 200) this.provisionedSeen.delete(this.provisionedSeen.values().next().value!);
      if (this.awaitingProvider.delete(event.grant.id)) kinds.add('grants');
    }
    if (event.grant) this.applyGrant(event.grant, kinds);
    if (event.request) this.applyRequest(event.request, kinds);
    if (event.type === 'policy.reloaded') void this.refresh();
    if (kinds.has('grants') || kinds.has('revocable')) this.scheduleExpiry();
    if (kinds.size) this.changeEmitter.fire(kinds);
    this.eventEmitter.fire({ event, seq });
  }

  /** Records a grant the user just changed (from an HTTP answer), without waiting for its event. */
  upsertGrant(grant: Grant): void {
    const kinds = new Set<ChangeKind>();
    this.applyGrant(grant, kinds);
    if (kinds.has('grants') || kinds.has('revocable')) this.scheduleExpiry();
    if (kinds.size) this.changeEmitter.fire(kinds);
  }

  /** Records a request the user just created or decided, without waiting for its event. */
  upsertRequest(request: AccessRequest): void {
    const kinds = new Set<ChangeKind>();
    this.applyRequest(request, kinds);
    if (kinds.size) this.changeEmitter.fire(kinds);
  }

  private applyGrant(grant: Grant, kinds: Set<ChangeKind>): void {
    const me = this.meValue;
    if (!me) return;
    if (grant.userId !== me.id) return this.applyOthersGrant(me, grant, kinds);
    const key = `grant:${grant.id}`;
    const live = grant.status === 'active' && Date.parse(grant.expiresAt) > this.clock.now();
    if (!live) this.ended.add(key);
    if (grant.status !== 'active') {
      this.endedGrants.delete(grant.id);
      this.endedGrants.set(grant.id, grant);
      if (this.endedGrants.size > 100) this.endedGrants.delete(this.endedGrants.keys().next().value!);
    } else if (this.ended.has(key)) return;
    const current = this.grantsValue.find((g) => g.id === grant.id);
    if (!live) this.awaitingProvider.delete(grant.id);
    // a grant starting now (not one loaded from a list) on a provider's resource: getting ready
    else if (!current && this.hasProvider(grant.resourceId) && !this.provisionedSeen.has(grant.id)) this.awaitingProvider.add(grant.id);
    // an older snapshot (e.g. replayed) must not shorten a grant that was extended since
    if (live && current && Date.parse(current.expiresAt) > Date.parse(grant.expiresAt) && current.extensions > grant.extensions) return;
    const others = this.grantsValue.filter((g) => g.id !== grant.id);
    const next = live ? [...others, grant].sort(byEnd) : others;
    if (!same(next, this.grantsValue)) {
      this.grantsValue = next;
      kinds.add('grants');
    }
  }

  /** Someone else's grant (an approver follows those they may revoke): in the list while live. */
  private applyOthersGrant(me: User, grant: Grant, kinds: Set<ChangeKind>): void {
    const key = `grant:${grant.id}`;
    const live = grant.status === 'active' && Date.parse(grant.expiresAt) > this.clock.now() && mayRevoke(me, grant);
    if (grant.status !== 'active') this.ended.add(key);
    else if (this.ended.has(key)) return;
    const current = this.revocableValue.find((g) => g.id === grant.id);
    // an older snapshot (e.g. replayed) must not shorten a grant that was extended since
    if (live && current && Date.parse(current.expiresAt) > Date.parse(grant.expiresAt) && current.extensions > grant.extensions) return;
    const others = this.revocableValue.filter((g) => g.id !== grant.id);
    const next = live ? [...others, grant].sort(byEnd) : others;
    if (!same(next, this.revocableValue)) {
      this.revocableValue = next;
      kinds.add('revocable');
    }
  }

  private applyRequest(request: AccessRequest, kinds: Set<ChangeKind>): void {
    const me = this.meValue;
    if (!me) return;
    const key = `request:${request.id}`;
    const pending = request.status === 'pending';
    if (!pending) this.ended.add(key);
    else if (this.ended.has(key)) return;
    if (request.requesterId === me.id) {
      const others = this.myRequestsValue.filter((r) => r.id !== request.id);
      const next = pending ? [...others, request].sort(byNewest) : others;
      if (!same(next, this.myRequestsValue)) {
        this.myRequestsValue = next;
        kinds.add('myRequests');
      }
      return;
    }
    const mayReview = me.approverOf.includes(request.resourceId) || this.reviewableValue.some((r) => r.id === request.id);
    if (!mayReview) return;
    const keep = pending && !request.approvals.some((a) => a.approverId === me.id);
    const others = this.reviewableValue.filter((r) => r.id !== request.id);
    const next = keep ? [...others, request].sort(byNewest) : others;
    if (!same(next, this.reviewableValue)) {
      this.reviewableValue = next;
      kinds.add('reviewable');
    }
  }
}
