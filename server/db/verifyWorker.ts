// Recomputing the audit chain reads every event: about 4 s for a million. On the server's own
// thread that would stall every request, live event and expiry for as long, so the server runs it
// in a worker thread with its own read-only connection. WAL gives that connection one consistent
// snapshot while the main thread keeps writing.
import Database from 'better-sqlite3';
import { Worker, parentPort } from 'node:worker_threads';
import { type AuditVerification, verifyAudit } from './stateCheck.js';

/**
 * Verifies the chain (and with `state`, checks the state against it) in the database file at
 * `dbPath`, in a worker started from `entryFile` (the server bundle).
 */
export function verifyInWorker(dbPath: string, entryFile: string, opts: { state?: boolean } = {}): Promise<AuditVerification> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(entryFile, { workerData: { elevateVerify: dbPath, elevateVerifyState: opts.state === true } });
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

/** The worker's body (main.ts calls it when started as the verifier). */
export function runVerifyWorker(dbPath: string, state = false): void {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    parentPort!.postMessage(verifyAudit(db, { state }));
  } finally {
    db.close();
  }
}
