// WAL checkpoints off the request path. By default SQLite checkpoints inside whichever commit
// crosses 1,000 WAL pages, stalling that request (and the event loop) for its fsyncs. The
// server instead runs passive checkpoints every second from a worker thread with its own
// connection; the main connection keeps a high automatic threshold only as a safety net.
import Database from 'better-sqlite3';
import { Worker } from 'node:worker_threads';

export const SAFETY_AUTOCHECKPOINT_PAGES = 10_000;
const EVERY_MS = 1000;

export function startCheckpointer(dbPath: string, entryFile: string): Worker {
  const w = new Worker(entryFile, { workerData: { elevateCheckpointer: dbPath } });
  w.unref();
  return w;
}

/** The worker's body (main.ts calls it when started as the checkpointer). */
export function runCheckpointer(dbPath: string): void {
  const db = new Database(dbPath);
  db.pragma('busy_timeout = 1000');
  setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // busy or gone: the next tick tries again, and the safety threshold still holds
    }
  }, EVERY_MS);
}
