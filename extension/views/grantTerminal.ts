// A terminal that carries a grant's credentials, and ends them without closing the terminal (issue
// 16 §3): when the grant ends, the shell and everything it started are hung up, one line says
// "Access ended at HH:MM — credentials removed", and the terminal stays open, read-only, so its
// output can still be read. No process in it holds the credentials afterwards.
//
// How: the terminal runs a small POSIX sh wrapper that starts the user's shell in the foreground
// (a real pty, job control and Ctrl+C as usual) and writes that shell's pid into a 0700 directory
// of its own. The wrapper lives in that directory under the shell's own name (`bash`, `zsh`, …)
// and passes its arguments and environment on unchanged: VS Code then injects its shell
// integration exactly as for the shell itself, so command detection and Re-run keep working.
// At the end the extension writes the line there, tells the wrapper (SIGUSR1: "the end is ours,
// not an exit") and hangs up the shell (SIGHUP, which an interactive shell passes on to its jobs;
// SIGKILL if it is still there after a grace period). The wrapper then prints the line, turns
// echo off and replaces itself with an idle process started with an empty environment.
// Where there is no POSIX sh (Windows), the terminal is closed instead, as before.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';

/** Whether grant terminals keep their output when the grant ends (else they close). */
export const terminalsKeepOutput = process.platform !== 'win32' && existsSync('/bin/sh');

/** Grace period between hanging up the shell and killing it. */
const KILL_AFTER_MS = 3000;

// The wrapper, for the user's shell and the wrapper's own 0700 directory (both single-quoted in).
// The shell is exec'd by an inner sh that first writes its pid, so that pid is the shell's. A trap
// for USR1 set before the shell starts runs once the shell has ended (sh runs traps after the
// foreground command): it marks an end the extension asked for, as opposed to the user's `exit`.
const wrapper = (shell: string, dir: string) => `#!/bin/sh
dir=${shellQuote(dir)}
ended=
trap 'ended=1' USR1
/bin/sh -c 'echo $$ > "$0/pid" && exec "$@"' "$dir" ${shellQuote(shell)} "$@"
status=$?
if [ -z "$ended" ]; then rm -rf "$dir"; exit "$status"; fi
trap '' INT QUIT TSTP TTIN TTOU
stty -echo -icanon 2>/dev/null
line=$(cat "$dir/ended" 2>/dev/null)
rm -rf "$dir"
printf '\\r\\n\\033[1;33m%s\\033[0m\\r\\n' "$line"
exec /usr/bin/env -i PATH=/usr/bin:/bin sleep 2147483647
`;

export interface GrantTerminal {
  readonly terminal: vscode.Terminal;
  /**
   * Ends the credentials: hangs up the shell and writes `line`, leaving the terminal open (or
   * closes it where that cannot be done). False when there was nothing left to end.
   */
  end(line: string): Promise<boolean>;
  /** The terminal closed by itself: forget the wrapper's directory. */
  closed(): void;
}

export function openGrantTerminal(opts: { name: string; env: Record<string, string>; log: { warn(message: string): void } }): GrantTerminal {
  const common = {
    name: opts.name,
    env: opts.env,
    iconPath: new vscode.ThemeIcon('shield'),
    color: new vscode.ThemeColor('terminal.ansiYellow'),
    // never restored after a reload: the credentials die with the grant
    isTransient: true,
  };
  if (!terminalsKeepOutput) {
    const terminal = vscode.window.createTerminal(common);
    return { terminal, end: async () => (terminal.dispose(), true), closed: () => undefined };
  }
  const dir = mkdtempSync(join(tmpdir(), 'elevate-terminal-'));
  const shell = vscode.env.shell || process.env.SHELL || '/bin/sh';
  // named as the shell, so VS Code treats it as that shell (its shell integration included)
  const shellPath = join(dir, basename(shell));
  writeFileSync(shellPath, wrapper(shell, dir), { mode: 0o700 });
  const terminal = vscode.window.createTerminal({ ...common, shellPath });
  let ended = false;
  const forget = () => rmSync(dir, { recursive: true, force: true });
  return {
    terminal,
    closed: forget,
    end: async (line) => {
      if (ended) return false;
      ended = true;
      const wrapperPid = await terminal.processId;
      let shellPid: number | undefined;
      try {
        const text = readFileSync(join(dir, 'pid'), 'utf8').trim();
        shellPid = /^\d+$/.test(text) ? Number(text) : undefined;
      } catch {
        shellPid = undefined;
      }
      if (!wrapperPid || !shellPid || !alive(shellPid)) {
        // the shell is not (or no longer) there to hang up: closing is the safe way to end it
        opts.log.warn("a grant terminal's shell could not be found; closing the terminal instead");
        terminal.dispose();
        forget();
        return true;
      }
      writeFileSync(join(dir, 'ended'), line, { mode: 0o600 });
      try {
        process.kill(wrapperPid, 'SIGUSR1');
        process.kill(shellPid, 'SIGHUP');
      } catch (err) {
        opts.log.warn(`could not end a grant terminal's shell (${err instanceof Error ? err.message : String(err)}); closing the terminal instead`);
        terminal.dispose();
        forget();
        return true;
      }
      const pid = shellPid;
      // still the wrapper's child (not a new process that reused the pid): it ignored the hangup
      setTimeout(() => {
        if (alive(pid) && childOf(pid, wrapperPid))
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone meanwhile */
          }
      }, KILL_AFTER_MS).unref();
      return true;
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid`'s parent is `parent` (Linux /proc; elsewhere assumed, the window is short). */
function childOf(pid: number, parent: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
  } catch {
    return !existsSync('/proc/self/stat');
  }
}

/** A word for sh, single-quoted. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
