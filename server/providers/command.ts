// type "command": runs a configured executable (no shell) for each grant, extension and
// revocation, with the grant in its environment:
//   ELEVATE_EVENT=grant|extend|revoke ELEVATE_GRANT_ID ELEVATE_USER_ID ELEVATE_RESOURCE_ID
//   ELEVATE_ROLE ELEVATE_STARTS_AT ELEVATE_EXPIRES_AT (ISO-8601 UTC)
// Exit 0 is success; any other exit, a signal, or running past the timeout (the whole process
// group is killed) is a failure. For "grant", stdout may be one JSON object of strings: the
// credentials for the grant's owner (print nothing else on stdout; use stderr for logs).
// The script must be idempotent: it may run again for the same event after a failure or crash.
// Nothing else of the server's environment reaches it (it may hold the PostgreSQL admin URL or
// webhook keys): only PATH, so that it finds its tools, and the variables the policy names in
// the provider's `env:` allow-list.
import { spawn } from 'node:child_process';
import type { ProviderConfig } from '../domain/types.js';
import { CommandConfig, parseProviderConfig } from './config.js';
import type { Credentials, Provider, ProvisionedGrant } from './types.js';

const DEFAULT_TIMEOUT_S = 30;
const MAX_STDOUT = 64 * 1024;

function run(argv: string[], env: Record<string, string>, timeoutMs: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const [exe, ...args] = argv;
    // its own process group, so a timeout also ends whatever the command started
    const child = spawn(exe, args, { env, stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    let out = '';
    let tooBig = false;
    let why: string | null = null;
    const kill = (reason: string) => {
      why ??= reason;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => kill(`command timed out after ${timeoutMs} ms`), timeoutMs);
    const onAbort = () => kill('command was cancelled (provider timeout)');
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (out.length + d.length > MAX_STDOUT) tooBig = true;
      else out += d;
    });
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      done();
      reject(new Error(`cannot run ${exe}: ${e.code ?? e.message}`));
    });
    child.on('close', (code, sig) => {
      done();
      if (why) reject(new Error(why));
      else if (code !== 0) reject(new Error(`${exe} exited with ${code === null ? `signal ${sig}` : `code ${code}`}`));
      else if (tooBig) reject(new Error(`${exe} printed more than ${MAX_STDOUT} bytes on stdout`));
      else resolve(out);
    });
  });
}

function parseCredentials(stdout: string): Credentials | undefined {
  const text = stdout.trim();
  if (text === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // never echo the output: it may hold the very secrets it failed to deliver
    throw new Error('stdout of the grant command is not a JSON object');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw new Error('stdout of the grant command is not a JSON object of strings');
  }
  return v as Credentials;
}

/** The command's whole environment: PATH, the allow-listed variables that are set, and the event's. */
export function commandEnv(allowed: readonly string[], event: Record<string, string>, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', ...allowed]) {
    const v = from[name];
    if (v !== undefined) env[name] = v;
  }
  return { ...env, ...event };
}

export function commandProvider(): Provider {
  const exec = (event: 'grant' | 'extend' | 'revoke', g: ProvisionedGrant, config: ProviderConfig, signal: AbortSignal) => {
    const cfg = parseProviderConfig(CommandConfig, config);
    const env = commandEnv(cfg.env, {
      ELEVATE_EVENT: event,
      ELEVATE_GRANT_ID: g.id,
      ELEVATE_USER_ID: g.userId,
      ELEVATE_RESOURCE_ID: g.resourceId,
      ELEVATE_ROLE: g.role,
      ELEVATE_STARTS_AT: new Date(g.startsAt).toISOString(),
      ELEVATE_EXPIRES_AT: new Date(g.expiresAt).toISOString(),
    });
    return run(cfg.command, env, (cfg.timeout ?? DEFAULT_TIMEOUT_S) * 1000, signal);
  };
  return {
    async grant(g, config, signal) {
      return parseCredentials(await exec('grant', g, config, signal));
    },
    async extend(g, config, signal) {
      await exec('extend', g, config, signal);
    },
    async revoke(g, config, signal) {
      await exec('revoke', g, config, signal);
    },
  };
}
