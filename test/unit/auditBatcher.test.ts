// The access-check batcher (server/engine/auditBatcher.ts) on a real store whose transactions
// the test holds open: one batch is written at a time, what arrives meanwhile goes as the next
// batch, flush() resolves only once what was queued before it has committed, and a batch the
// database refused is kept and written later.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { AuditBatcher, MAX_BATCH } from '../../server/engine/auditBatcher.js';
import { SqliteStore } from '../../server/store/sqlite/store.js';
import type { AuditInput, Store } from '../../server/store/types.js';

const stores: Store[] = [];
afterEach(async () => {
  while (stores.length) await stores.pop()!.close();
});

const check = (n: number): AuditInput => ({ at: n, actorId: 'svc', action: 'access.checked', resourceId: 'prod-db', subjectId: 'alice', details: { n } });

/** A real store whose batch transactions wait for `open()`, or fail while `failing` is set. */
function heldStore() {
  const real = new SqliteStore(':memory:', { groupCommit: false, serverLock: false, checkpointer: false, verify: 'inline' });
  stores.push(real);
  const batches: number[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let gates: (() => void)[] = [];
  const state = { failing: false };
  const store: Store = Object.assign(Object.create(real) as Store, {
    transaction: async <T>(fn: Parameters<Store['transaction']>[0]): Promise<T> => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await new Promise<void>((r) => gates.push(r));
        if (state.failing) throw new Error('database unavailable');
        return (await real.transaction((tx) =>
          fn({
            ...tx,
            audit: Object.assign(Object.create(tx.audit) as typeof tx.audit, {
              append: (inputs: AuditInput[]) => {
                batches.push(inputs.map((e) => e.at));
                return tx.audit.append(inputs);
              },
            }),
          }),
        )) as T;
      } finally {
        inFlight--;
      }
    },
  });
  /** lets the transactions waiting now go on */
  const open = async () => {
    const g = gates;
    gates = [];
    for (const r of g) r();
    await new Promise((r) => setImmediate(r));
  };
  const logged = async () => (await real.read((tx) => tx.audit.query({ limit: 10_000 }))).events.map((e) => (e.details as { n: number }).n).reverse();
  return { store, batches, open, state, logged, maxInFlight: () => maxInFlight, waiting: () => gates.length };
}

test('batches_oneWrittenAtATime_whatArrivesMeanwhileGoesAsTheNextBatch', async () => {
  const h = heldStore();
  const b = new AuditBatcher(h.store, (e) => assert.fail(String(e)));
  b.add(check(1));
  const first = b.flush();
  for (let n = 2; n <= 6; n++) b.add(check(n));
  const second = b.flush();
  await new Promise((r) => setTimeout(r, 10)); // past FLUSH_MS: the timer finds a batch under way
  assert.equal(h.waiting(), 1, 'the second batch waits for the first instead of starting a transaction of its own');
  await h.open();
  await first;
  await h.open();
  await second;
  assert.deepEqual(h.batches, [[1], [2, 3, 4, 5, 6]]);
  assert.equal(h.maxInFlight(), 1);
  assert.deepEqual(await h.logged(), [1, 2, 3, 4, 5, 6]);
});

test('flush_whileABatchIsWritten_resolvesOnlyOnceWhatWasQueuedBeforeItHasCommitted', async () => {
  const h = heldStore();
  const b = new AuditBatcher(h.store, (e) => assert.fail(String(e)));
  b.add(check(1));
  void b.flush();
  b.add(check(2));
  let flushed = false;
  const f = b.flush().then(() => (flushed = true));
  await h.open(); // the first batch commits
  assert.equal(flushed, false, 'event 2 has not been written yet');
  await h.open();
  await f;
  assert.deepEqual(await h.logged(), [1, 2]);
});

test('aQueueLongerThanABatch_isWrittenInSeveralBatches_eachAtMostMAX_BATCH', async () => {
  const h = heldStore();
  const b = new AuditBatcher(h.store, (e) => assert.fail(String(e)));
  b.add(check(0));
  const first = b.flush();
  for (let n = 1; n <= MAX_BATCH + 10; n++) b.add(check(n));
  while (h.batches.length < 3 || h.waiting() > 0) await h.open();
  await first;
  await b.flush();
  assert.deepEqual(
    h.batches.map((x) => x.length),
    [1, MAX_BATCH, 10],
  );
  assert.equal((await h.logged()).length, MAX_BATCH + 11);
});

test('aBatchTheDatabaseRefused_isKept_andWrittenWithWhatCameAfter', async () => {
  const h = heldStore();
  const errors: unknown[] = [];
  const b = new AuditBatcher(h.store, (e) => void errors.push(e));
  h.state.failing = true;
  b.add(check(1));
  const failed = b.flush();
  b.add(check(2));
  const queuedMeanwhile = b.flush();
  await h.open();
  await failed;
  await queuedMeanwhile; // resolves: the batch failed and waits for its retry (not retried at once)
  assert.equal(errors.length, 1);
  assert.equal(h.waiting(), 0, 'no second attempt right after the failure');
  h.state.failing = false;
  const retried = b.flush();
  await h.open();
  await retried;
  assert.deepEqual(await h.logged(), [1, 2]);
});
