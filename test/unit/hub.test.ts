// The event hub (server/engine/hub.ts) follows the log on a real store. With no stream open it
// reads only the stream controls, never the payloads; these tests pin down that a stream never
// loses an event to that shortcut, whenever it opens.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { parsePolicy } from '../../server/domain/policy.js';
import { EventHub, type Subscriber } from '../../server/engine/hub.js';
import { SqliteStore } from '../../server/store/sqlite/store.js';
import type { AuditInput, FollowedEvent, Store } from '../../server/store/types.js';

const parsed = parsePolicy(`
users:
  - { id: alice, groups: [developers] }
resources:
  - id: prod-db
    roles: [read]
    maxDuration: 1h
    approval: { approvers: [group:developers], required: 1 }
`);
if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
const policy = parsed.policy;

const stores: Store[] = [];
afterEach(async () => {
  while (stores.length) await stores.pop()!.close();
});

function memoryStore(): SqliteStore {
  const s = new SqliteStore(':memory:', { groupCommit: false, serverLock: false, checkpointer: false, verify: 'inline' });
  stores.push(s);
  return s;
}

const created = (n: number): AuditInput => ({
  at: n,
  actorId: 'alice',
  action: 'request.created',
  resourceId: 'prod-db',
  requestId: `req-${n}`,
  subjectId: 'alice',
  details: {},
  live: `{"n":${n}}`,
});

const fail = (e: unknown) => assert.fail(String(e));

function subscriber(sent: number[]): Subscriber {
  return { userId: 'alice', tokenId: 'tok-1', send: (id) => void sent.push(id), close: () => {} };
}

test('withNoStreamOpen_theHubReadsOnlyTheControls_andMovesPastTheStreamEvents', async () => {
  const store = memoryStore();
  const asked: (boolean | undefined)[] = [];
  const controls: FollowedEvent[] = [];
  const watched: Pick<Store, 'read'> = {
    read: (fn) =>
      store.read((tx) =>
        fn({
          ...tx,
          audit: Object.assign(Object.create(tx.audit) as typeof tx.audit, {
            follow: (seq: number, limit: number, opts?: { streams?: boolean }) => (asked.push(opts?.streams), tx.audit.follow(seq, limit, opts)),
          }),
        }),
      ),
  };
  const hub = new EventHub(
    () => policy,
    watched,
    fail,
    (e) => void controls.push(e),
  );
  await hub.start();
  await store.transaction((tx) =>
    tx.audit.append([created(1), { at: 2, actorId: 'cli', action: 'token.revoked', subjectId: 'alice', details: { tokenId: 'tok-9', userId: 'alice' } }]),
  );
  await hub.follow();
  assert.deepEqual(asked, [false]);
  assert.deepEqual(
    controls.map((c) => c.action),
    ['token.revoked'],
  );
  // a stream opened now starts after them: it gets what commits next, with its payload
  const sent: number[] = [];
  hub.add(subscriber(sent));
  await store.transaction((tx) => tx.audit.append([created(3)]));
  await hub.follow();
  assert.deepEqual(asked, [false, true]);
  assert.deepEqual(sent, [3]);
});

test('aStreamOpenedWhileTheHubReadsWithoutPayloads_isHandedThatRangeAgainWithThem', async () => {
  const store = memoryStore();
  const sent: number[] = [];
  let armed = false;
  // as on PostgreSQL, where the read is a round trip: the stream subscribes while it is under way
  const slow: Pick<Store, 'read'> = {
    read: async (fn) => {
      const r = await store.read(fn);
      if (armed) {
        armed = false;
        hub.add(subscriber(sent));
      }
      return r;
    },
  };
  const hub = new EventHub(() => policy, slow, fail);
  await hub.start();
  armed = true;
  await store.transaction((tx) => tx.audit.append([created(1), created(2)]));
  await hub.follow();
  assert.deepEqual(sent, [1, 2]);
});

test('wakeUps_withNoStreamOpen_shareOneReadWithinMoments_withAStreamOpen_eachTurnReads', async () => {
  const store = memoryStore();
  let reads = 0;
  const counted: Pick<Store, 'read'> = { read: (fn) => (reads++, store.read(fn)) };
  const hub = new EventHub(() => policy, counted, fail);
  await hub.start();
  const turn = () => new Promise((r) => setImmediate(r));
  reads = 0;
  // a burst of commits with nobody listening: one read for all of them, a moment later
  for (let i = 1; i <= 20; i++) {
    await store.transaction((tx) => tx.audit.append([created(i)]));
    hub.wake();
  }
  await turn();
  assert.equal(reads, 0, 'read at once with no stream open');
  await new Promise((r) => setTimeout(r, 60)); // past IDLE_FOLLOW_MS, on the real clock
  await turn();
  assert.equal(reads, 1);
  // with a stream open, a commit is read in the next turn, and the stream gets only what follows
  const sent: number[] = [];
  hub.add(subscriber(sent));
  await store.transaction((tx) => tx.audit.append([created(21)]));
  hub.wake();
  await turn();
  await hub.follow();
  assert.deepEqual(sent, [21]);
  hub.closeAll();
});
