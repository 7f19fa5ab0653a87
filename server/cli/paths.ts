// Where the CLI finds the policy and the database when no flag or environment variable names
// them: ./elevate.yaml and .elevate/elevate.db, or, in a folder where only `elevate-server demo`
// ran, the demo's own files (so `token issue alice` right after the demo just works).
import { existsSync, statSync } from 'node:fs';

export const DEFAULT_CONFIG = 'elevate.yaml';
export const DEFAULT_DB = '.elevate/elevate.db';
const DEMO_POLICIES = ['.elevate/demo-policy.yaml', '.elevate/demo-postgres-policy.yaml'];
const DEMO_DB = '.elevate/demo.db';

const newest = (files: string[]) => files.filter((f) => existsSync(f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];

/** The default policy file: ./elevate.yaml, else the demo's (the one used last), else ./elevate.yaml. */
export function defaultConfig(): { path: string; demo: boolean } {
  if (existsSync(DEFAULT_CONFIG)) return { path: DEFAULT_CONFIG, demo: false };
  const demo = newest(DEMO_POLICIES);
  return demo ? { path: demo, demo: true } : { path: DEFAULT_CONFIG, demo: false };
}

/** The default database: .elevate/elevate.db, else the demo's, else .elevate/elevate.db. */
export function defaultDb(): { path: string; demo: boolean } {
  if (existsSync(DEFAULT_DB)) return { path: DEFAULT_DB, demo: false };
  return existsSync(DEMO_DB) ? { path: DEMO_DB, demo: true } : { path: DEFAULT_DB, demo: false };
}
