// Child processes for the bench: every one is tracked and killed (process group) at the end, on
// error and on Ctrl+C; CPU pinning with taskset when available; RSS from /proc.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';

const children = new Set();

export const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Server on core 0, load generators (and this process) on the last core, when there are two. */
export const CORES = cpus().length;
export const SERVER_CORE = 0;
export const LOAD_CORE = CORES > 1 ? CORES - 1 : 0;
export const pinned = hasTaskset && CORES > 1;

export function pinSelf() {
  if (!pinned) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' });
  } catch {}
}

/**
 * Spawns `cmd args` (optionally pinned to a core) in its own process group. taskset execs the
 * program, so the pid is the program's own (RSS reads are of the real process).
 */
export function start(cmd, args, { core, logFile, env, stdio } = {}) {
  const [c, a] = pinned && core !== undefined ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
  let fd;
  if (logFile) fd = openSync(logFile, 'a');
  const child = spawn(c, a, {
    detached: true,
    env: { ...process.env, ...env },
    stdio: stdio ?? ['ignore', fd ?? 'ignore', fd ?? 'inherit'],
  });
  if (fd !== undefined) closeSync(fd);
  children.add(child);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => (children.delete(child), resolve({ code, signal }))));
  return child;
}

export async function stop(child, { signal = 'SIGTERM', graceMs = 3000 } = {}) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {}
  const t = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }, graceMs);
  await child.exited;
  clearTimeout(t);
}

export function killAll() {
  for (const c of children) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {}
  }
  children.clear();
}

/** Runs a command to completion, with a time limit; resolves {code, stdout, stderr, ms}. */
export function run(cmd, args, { core, timeoutMs = 120_000, env, input } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = start(cmd, args, { core, env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    if (input !== undefined) child.stdin.end(input);
    const timer = setTimeout(() => {
      void stop(child, { signal: 'SIGKILL' });
      reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')}: time limit of ${timeoutMs} ms reached`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** VmRSS / VmHWM of a process in bytes (null when /proc is not there). */
export function memOf(pid) {
  const f = `/proc/${pid}/status`;
  if (!existsSync(f)) return null;
  try {
    const s = readFileSync(f, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls GET url until 200 (or the time limit); resolves the ms it took from `since`. */
export async function waitHttp(url, { since = performance.now(), timeoutMs = 30_000, intervalMs = 5, child } = {}) {
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`process exited (code ${child.exitCode}) before ${url} answered`);
    try {
      const r = await fetch(url);
      if (r.ok) {
        await r.arrayBuffer();
        return performance.now() - since;
      }
    } catch {}
    if (performance.now() - since > timeoutMs) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

export function cpuModel() {
  try {
    return /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  } catch {
    return cpus()[0]?.model ?? 'unknown';
  }
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime, stime, cutime, cstime (clock ticks) and the parent pid from /proc/<pid>/stat, or null. */
function statOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
  } catch {
    return null;
  }
}

/**
 * CPU time (user + system, ms) a process has used so far, or null when /proc is not there. With
 * `children`: also what its children used, the live ones (read now) and the exited ones it
 * reaped (cutime/cstime), so a child that exits between two readings is still counted once.
 */
export function cpuMsOf(pid, { children = false } = {}) {
  const me = statOf(pid);
  if (!me) return null;
  let ticks = me.utime + me.stime;
  if (children) {
    ticks += me.cutime + me.cstime;
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      const c = statOf(d);
      if (c && c.ppid === pid) ticks += c.utime + c.stime;
    }
  }
  return (ticks * 1000) / CLK_TCK;
}
