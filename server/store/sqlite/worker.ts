// The SQLite store's worker threads, each with its own connection:
//  - the audit verification: recomputing the chain reads every event (about 4 s for a million);
//    on the server's thread that would stall every request, live event and expiry for as long.
//    WAL gives the worker's read-only connection one consistent snapshot while writers go on.
//  - the checkpointer: by default SQLite checkpoints inside whichever commit crosses 1,000 WAL
//    pages, stalling that commit (and the event loop) for its fsyncs. The server instead runs
//    passive checkpoints here every 100 ms while commits come in; the main connection keeps a
//    high automatic threshold only as a safety net.
//
// A worker runs a file: the server bundle (dist/server.js, one file) when built, which must
// hand its workerData to runStoreWorker() first thing (server/main.ts does); from source (tests
// under tsx) this module's sibling workerMain.ts. openStore's `workerEntry` option says which.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, parentPort } from 'node:worker_threads';
import type { AuditVerification } from '../types.js';
import { verifyAudit } from './stateCheck.js';

export const SAFETY_AUTOCHECKPOINT_PAGES = 10_000;
/**
 * Under POST load a second of commits is ~9,000 WAL pages: checkpointed once a second, the WAL
 * crossed the safety threshold between two checkpoints (a 40–50 ms checkpoint inside a COMMIT,
 * on the event loop), and a large checkpoint stalled the commits that ran beside it. A tenth
 * of that keeps every checkpoint small and the WAL far below the threshold.
 */
const CHECKPOINT_EVERY_MS = 100;

/** What a store worker is started with (the keys the server bundle's entry dispatches on). */
interface StoreWorkerData {
  elevateCheckpointer?: string;
  elevateVerify?: string;
  elevateVerifyState?: boolean;
  elevateVerifyHead?: { seq?: number; hash: string };
}

const isStoreWorkerData = (d: unknown): d is StoreWorkerData =>
  typeof d === 'object' &&
  d !== null &&
  (typeof (d as StoreWorkerData).elevateCheckpointer === 'string' || typeof (d as StoreWorkerData).elevateVerify === 'string');

/**
 * Runs the store worker `workerData` asks for; false when it is not a store worker's data (the
 * entry file then goes on as itself). The server bundle's entry calls this first.
 */
export function runStoreWorker(workerData: unknown): boolean {
  if (!isStoreWorkerData(workerData)) return false;
  if (workerData.elevateCheckpointer !== undefined) runCheckpointer(workerData.elevateCheckpointer);
  else if (workerData.elevateVerify !== undefined) runVerify(workerData.elevateVerify, workerData.elevateVerifyState === true, workerData.elevateVerifyHead);
  return true;
}

/** The worker entry when running from source (this directory's workerMain.ts or .js), if there is one. */
export function defaultWorkerEntry(): string | undefined {
  const ext = __filename.endsWith('.ts') ? '.ts' : '.js';
  const file = join(__dirname, `workerMain${ext}`);
  return existsSync(file) ? file : undefined;
}

function startWorker(entry: string, workerData: StoreWorkerData): Worker {
  if (entry.endsWith('.ts')) {
    // from source (the tests run under tsx): the worker registers tsx's loader (found from the
    // entry, like the file's own imports) before it loads the file
    const file = JSON.stringify(entry);
    return new Worker(`require('node:module').createRequire(${file})('tsx/cjs'); require(${file});`, { eval: true, workerData });
  }
  return new Worker(entry, { workerData });
}

/** Verifies the chain (and with `state` the state against it) of the database at `dbPath`, in a worker. */
export function verifyInWorker(
  dbPath: string,
  entry: string,
  opts: { state?: boolean; head?: { seq?: number; hash: string } } = {},
): Promise<AuditVerification> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(entry, { elevateVerify: dbPath, elevateVerifyState: opts.state === true, ...(opts.head && { elevateVerifyHead: opts.head }) });
    worker.unref(); // a verification under way does not hold up the server's shutdown
    let answered = false;
    worker.once('message', (r: AuditVerification) => {
      answered = true;
      resolve(r);
    });
    worker.once('error', (e) => {
      answered = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the audit verification worker exited with code ${code} without an answer`));
    });
  });
}

function runVerify(dbPath: string, state: boolean, head: { seq?: number; hash: string } | undefined): void {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    parentPort!.postMessage(verifyAudit(db, { state, head }));
  } finally {
    db.close();
  }
}

/** Starts the checkpointer for the database at `dbPath` (unref'd: it never holds up an exit). */
export function startCheckpointer(dbPath: string, entry: string): Worker {
  const w = startWorker(entry, { elevateCheckpointer: dbPath });
  w.unref();
  return w;
}

function runCheckpointer(dbPath: string): void {
  const db = new Database(dbPath);
  db.pragma('busy_timeout = 1000');
  // data_version moves when another connection commits: an idle server's tick costs one read
  const dataVersion = db.prepare('PRAGMA data_version').pluck();
  let checkpointedAt: unknown;
  setInterval(() => {
    try {
      const version = dataVersion.get();
      if (version === checkpointedAt) return;
      const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
      // a partial checkpoint (a reader still needed older frames) is finished at the next tick
      if (r && r.busy === 0 && r.log === r.checkpointed) checkpointedAt = version;
    } catch {
      // busy or gone: the next tick tries again, and the safety threshold still holds
    }
  }, CHECKPOINT_EVERY_MS);
}
