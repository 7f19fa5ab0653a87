// The store's worker entry when running from source (tests under tsx); the built server bundle
// is its own entry (see worker.ts).
import { workerData } from 'node:worker_threads';
import { runStoreWorker } from './worker.js';

if (!runStoreWorker(workerData)) throw new Error('workerMain.ts runs only as a store worker');
