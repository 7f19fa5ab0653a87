// Recognises a refusal in the output of a terminal command that failed (issue 15): psql,
// kubectl, aws, gcloud, az, curl and ssh. Pure (no vscode import), unit-tested against output
// captured from the real tools (test/unit/extension/fixtures/refusals/). Runs only in the editor:
// terminal output never leaves the machine.

export type RefusalTool = 'psql' | 'kubectl' | 'aws' | 'gcloud' | 'az' | 'curl' | 'ssh';

/** What a command line and its output say about where the refused thing lives. */
export interface Where {
  host?: string;
  database?: string;
  kubeContext?: string;
  awsAccount?: string;
  url?: string;
}

export interface Refusal {
  tool: RefusalTool;
  /** what was refused, for "psql was refused on table orders": "on table orders", "to log in as alice" */
  what: string;
  where: Where;
  /** the command tried to change something (suggests a write role rather than read) */
  writes: boolean;
  /** the output line that showed the refusal (ANSI codes removed) */
  line: string;
}

/** At most this much of a command's output is looked at: refusals are printed last. */
export const MAX_OUTPUT = 64 * 1024;

/** Output as the user saw it: no colours, cursor moves or OSC sequences (shell integration's own included). */
export function plainText(raw: string): string {
  /* eslint-disable no-control-regex -- matching terminal escape sequences is the point */
  return raw
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '') // OSC … BEL/ST
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '') // CSI
    .replace(/\x1b[@-Z\\-_]/g, '')
    .replace(/\r\n?/g, '\n');
  /* eslint-enable no-control-regex */
}

// ---------- the command line ----------

/** Splits a command line into words the way a POSIX shell would for simple cases (quotes, escapes). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** The program a command line runs: past `VAR=x` assignments, sudo/env/time/exec and a path. */
export function programOf(words: readonly string[]): { program: string; args: string[] } {
  let i = 0;
  while (i < words.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]) || ['sudo', 'env', 'time', 'exec', 'command', 'nohup'].includes(words[i]))) i++;
  const program = (words[i] ?? '').split('/').pop() ?? '';
  return { program, args: words.slice(i + 1) };
}

/** The value of `-x v`, `-xv`, `--long v` or `--long=v` (last one wins, as for most CLIs). */
function option(args: readonly string[], short: string | undefined, long: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === `--${long}` || (short && a === `-${short}`)) found = args[i + 1] ?? found;
    else if (a.startsWith(`--${long}=`)) found = a.slice(long.length + 3);
    else if (short && a.startsWith(`-${short}`) && !a.startsWith('--') && a.length > 2) found = a.slice(2);
  }
  return found;
}

/** `NAME=value` assignments in front of the program, e.g. `PGHOST=db psql`. */
function assignment(words: readonly string[], name: string): string | undefined {
  for (const w of words) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) break;
    if (w.startsWith(`${name}=`)) return w.slice(name.length + 1);
  }
  return undefined;
}

/** host and database from a `postgres://` URI or a `host=… dbname=…` conninfo string. */
function pgConnInfo(s: string): Where {
  if (/^postgres(?:ql)?:\/\//.test(s)) {
    try {
      const u = new URL(s);
      const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
      return { ...(u.hostname && { host: u.hostname.replace(/^\[|\]$/g, '') }), ...(db && { database: db }) };
    } catch {
      return {};
    }
  }
  if (/\b(?:host|dbname)=/.test(s)) {
    const host = /\bhost=([^\s]+)/.exec(s)?.[1];
    const database = /\bdbname=([^\s]+)/.exec(s)?.[1];
    return { ...(host && { host }), ...(database && { database }) };
  }
  return {};
}

function psqlWhere(words: readonly string[], args: readonly string[]): Where {
  const positional = args.filter(
    (a, i) => !a.startsWith('-') && !(i > 0 && /^-[hpUdcfvP]$|^--(?:host|port|username|dbname|command|file|set|variable|pset)$/.test(args[i - 1])),
  );
  const dbArg = option(args, 'd', 'dbname') ?? positional[0];
  const fromConn = dbArg ? pgConnInfo(dbArg) : {};
  const host = option(args, 'h', 'host') ?? fromConn.host ?? assignment(words, 'PGHOST');
  const database = fromConn.database ?? (dbArg && !/[=/:]/.test(dbArg) ? dbArg : undefined) ?? assignment(words, 'PGDATABASE');
  return { ...(host && { host }), ...(database && { database }) };
}

const firstUrl = (s: string) => /\bhttps?:\/\/[^\s'"<>]+/.exec(s)?.[0];

function sshHost(args: readonly string[]): string | undefined {
  // options that take a value, so their value is not mistaken for the destination
  const withValue = /^-[BbcDEeFIiJLlmOoPpQRSWw]$/;
  for (let i = 0; i < args.length; i++) {
    if (withValue.test(args[i])) {
      i++;
      continue;
    }
    if (args[i].startsWith('-')) continue;
    const dest = args[i].replace(/^ssh:\/\//, '');
    return dest.slice(dest.lastIndexOf('@') + 1).replace(/:\d+$/, '');
  }
  return undefined;
}

/** Does the command try to change something? Decides between a read and a write role. */
export function writesSomething(commandLine: string, program: string): boolean {
  if (program === 'psql' || /\bpsql\b/.test(commandLine))
    return /\b(insert|update|delete|truncate|create|drop|alter|grant|revoke|copy\s+\w+\s+from|merge)\b/i.test(commandLine);
  if (program === 'kubectl')
    return /\b(apply|create|delete|edit|patch|replace|scale|rollout|set|label|annotate|exec|cp|drain|cordon|taint)\b/.test(commandLine);
  if (program === 'aws')
    return /\s(?:put|create|delete|update|modify|start|stop|terminate|run|attach|detach|tag|untag|invoke|cp|mv|rm|sync|mb|rb)[-\s]/.test(` ${commandLine} `);
  if (program === 'gcloud' || program === 'az') return /\b(create|delete|update|set|add|remove|deploy|start|stop|reset|resize)\b/.test(commandLine);
  if (program === 'curl')
    return /(?:^|\s)(?:-X\s*|--request[\s=])(?:POST|PUT|PATCH|DELETE)\b|(?:^|\s)(?:-d|--data\S*|-F|--form|-T|--upload-file)\b/.test(commandLine);
  return false;
}

// ---------- the output ----------

interface Matcher {
  tool: RefusalTool;
  /** the tool's own program names; its patterns are also tried for other commands when distinctive */
  programs: readonly string[];
  distinctive: boolean;
  /** also when the command exited 0 (curl prints a 403 page and exits 0 unless -f) */
  evenOnSuccess?: boolean;
  match(text: string, words: readonly string[], args: readonly string[]): Omit<Refusal, 'tool' | 'writes'> | undefined;
}

const lineWith = (text: string, re: RegExp): { line: string; m: RegExpExecArray } | undefined => {
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m) return { line: line.trim(), m };
  }
  return undefined;
};

const matchers: readonly Matcher[] = [
  {
    tool: 'psql',
    programs: ['psql', 'pg_dump', 'pg_restore', 'pgcli'],
    distinctive: true,
    match(text, words, args) {
      const where = psqlWhere(words, args);
      // ERROR:  permission denied for table orders / for schema x / for sequence y
      let hit = lineWith(text, /permission denied for (table|relation|schema|sequence|database|function|view|materialized view) "?([^"\s]+)"?/);
      if (hit) return { what: `on ${hit.m[1]} ${hit.m[2]}`, where: hit.m[1] === 'database' ? { ...where, database: hit.m[2] } : where, line: hit.line };
      // psql: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "alice"
      hit = lineWith(
        text,
        /(?:password authentication failed|role "[^"]+" does not exist|permission denied for database|no pg_hba\.conf entry for host)[^\n]*?(?:user|role)? ?"?([^"\s,]*)"?/,
      );
      if (hit) {
        const server = /connection to server (?:at|on socket) "([^"]+)"/.exec(hit.line)?.[1];
        const user = /(?:for user|role) "([^"]+)"/.exec(hit.line)?.[1];
        const db = /database "([^"]+)"/.exec(hit.line)?.[1];
        const w: Where = { ...where, ...(!where.host && server && !server.startsWith('/') && { host: server }), ...(db && { database: db }) };
        return { what: user ? `to log in as ${user}` : 'to log in', where: w, line: hit.line };
      }
      // ERROR:  must be owner of table orders
      hit = lineWith(text, /must be (?:owner of|superuser|a member of)[^\n]*/);
      if (hit) return { what: hit.m[0].replace(/^must be /, 'as not ').trim(), where, line: hit.line };
      return undefined;
    },
  },
  {
    tool: 'kubectl',
    programs: ['kubectl', 'oc', 'helm', 'k9s'],
    distinctive: true,
    match(text, _words, args) {
      const ctx = option(args, undefined, 'context');
      const where: Where = ctx ? { kubeContext: ctx } : {};
      // Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"
      let hit = lineWith(text, /\(Forbidden\)[^\n]*?cannot (\w+) resource "([^"]+)"/);
      if (hit) {
        const [, verb, resource] = hit.m;
        const ns = /in the namespace "([^"]+)"/.exec(hit.line)?.[1];
        return { what: `to ${verb} ${resource}${ns ? ` in namespace ${ns}` : ''}`, where, line: hit.line };
      }
      hit = lineWith(text, /\(Forbidden\)|forbidden: User "|^error: You must be logged in to the server/);
      if (hit) return { what: /logged in/.test(hit.line) ? 'as not logged in' : 'by the API server', where, line: hit.line };
      return undefined;
    },
  },
  {
    tool: 'aws',
    programs: ['aws'],
    distinctive: true,
    match(text) {
      // An error occurred (AccessDeniedException) when calling the ListTables operation: User: arn:aws:iam::123456789012:user/alice is not authorized to perform: dynamodb:ListTables on resource: …
      const hit = lineWith(
        text,
        /An error occurred \((AccessDenied\w*|UnauthorizedOperation|UnauthorizedAccess\w*|Forbidden|AuthorizationError|InvalidClientTokenId|ExpiredToken\w*|UnrecognizedClientException)\) when calling the (\w+) operation/,
      );
      if (!hit) return undefined;
      const account = /arn:aws[\w-]*:[\w-]+:[\w-]*:(\d{12}):/.exec(hit.line)?.[1];
      const action = /not authorized to perform: ([\w-]+:[\w*]+)/.exec(hit.line)?.[1];
      return { what: action ? `to ${action}` : `on ${hit.m[2]}`, where: account ? { awsAccount: account } : {}, line: hit.line };
    },
  },
  {
    tool: 'gcloud',
    programs: ['gcloud', 'gsutil', 'bq'],
    distinctive: true,
    match(text) {
      const hit = lineWith(
        text,
        /ERROR: \((?:gcloud|gsutil|bq)[^)]*\)[^\n]*(?:does not have (?:\S+ )?permission|PERMISSION_DENIED|Permission denied|403|The caller does not have permission)|AccessDeniedException: 403|PERMISSION_DENIED/,
      );
      if (!hit) return undefined;
      const perm = /permission[s]? (?:\[|')?([\w.]+\.[\w.]+)/.exec(hit.line)?.[1];
      return { what: perm ? `lacking ${perm}` : 'by Google Cloud', where: {}, line: hit.line };
    },
  },
  {
    tool: 'az',
    programs: ['az'],
    distinctive: true,
    match(text) {
      const hit = lineWith(
        text,
        /\((AuthorizationFailed|Forbidden|AuthorizationPermissionMismatch|InsufficientAccountPermissions)\)|does not have authorization to perform action/,
      );
      if (!hit) return undefined;
      const action = /perform action '([^']+)'/.exec(hit.line)?.[1];
      return { what: action ? `to ${action}` : 'by Azure', where: {}, line: hit.line };
    },
  },
  {
    tool: 'curl',
    programs: ['curl', 'wget', 'http', 'https', 'xh'],
    distinctive: false,
    evenOnSuccess: true,
    match(text, words, args) {
      // curl -f: "curl: (22) The requested URL returned error: 403"; -i/-v: the status line
      const hit = lineWith(text, /returned error: (401|403)\b|^(?:< )?HTTP\/[\d.]+ (401|403)\b|ERROR (401|403)\b/);
      if (!hit) return undefined;
      const url = args.map(firstUrl).find(Boolean) ?? firstUrl(words.join(' '));
      const status = hit.m[1] ?? hit.m[2] ?? hit.m[3];
      const where: Where = url ? { url, host: new URL(url).hostname } : {};
      return { what: status === '401' ? 'with 401 Unauthorized' : 'with 403 Forbidden', where, line: hit.line };
    },
  },
  {
    tool: 'ssh',
    programs: ['ssh', 'scp', 'sftp', 'rsync', 'git'],
    distinctive: false,
    match(text, _words, args) {
      // alice@db.prod.internal: Permission denied (publickey).
      const hit = lineWith(text, /(?:^|\s)(?:([^@\s]+)@)?([\w.-]+): Permission denied \(([^)]+)\)/);
      if (!hit) return undefined;
      const host = hit.m[2] ?? sshHost(args);
      return { what: hit.m[1] ? `to log in as ${hit.m[1]}` : 'to log in', where: host ? { host } : {}, line: hit.line };
    },
  },
];

/** What the terminal's environment adds when the command line did not say (PGHOST, PGDATABASE). */
function withEnv(tool: RefusalTool, where: Where, env: Readonly<Record<string, string | undefined>>): Where {
  if (tool !== 'psql') return where;
  return { ...(env.PGHOST && !env.PGHOST.startsWith('/') && { host: env.PGHOST }), ...(env.PGDATABASE && { database: env.PGDATABASE }), ...where };
}

/**
 * The refusal a failed command's output shows, if any. `exitCode` undefined means unknown (the
 * shell did not say); 0 means it succeeded, which only a tool that prints an HTTP status can still
 * have been refused with.
 */
export function matchRefusal(
  commandLine: string,
  rawOutput: string,
  exitCode: number | undefined,
  env: Readonly<Record<string, string | undefined>> = {},
): Refusal | undefined {
  const text = plainText(rawOutput.length > MAX_OUTPUT ? rawOutput.slice(-MAX_OUTPUT) : rawOutput);
  const words = shellWords(commandLine);
  const { program, args } = programOf(words);
  const own = matchers.filter((m) => m.programs.includes(program));
  // e.g. `npm run migrate` printing psql's refusal: distinctive patterns are tried for any command
  const others = matchers.filter((m) => !own.includes(m) && m.distinctive);
  for (const m of [...own, ...others]) {
    if (exitCode === 0 && !m.evenOnSuccess) continue;
    const found = m.match(text, words, own.includes(m) ? args : []);
    if (found) return { tool: m.tool, ...found, where: withEnv(m.tool, found.where, env), writes: writesSomething(commandLine, program) };
  }
  return undefined;
}

// ---------- what may be quoted ----------

/**
 * The command line as it may appear in a justification: passwords in URLs, `X_PASSWORD=…`-style
 * assignments, `-u user:pass`, `--password=…`, bearer tokens and `-H 'Authorization: …'` replaced
 * by "***", and at most `max` characters.
 */
export function redactCommand(commandLine: string, max = 300): string {
  let s = commandLine
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]+@/gi, '$1***@')
    .replace(/\b([A-Za-z_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIALS?)[A-Za-z_]*=)("[^"]*"|'[^']*'|\S+)/gi, '$1***')
    .replace(/(--?(?:password|passwd|pass|token|secret|api-key|apikey|client-secret)[= ])("[^"]*"|'[^']*'|\S+)/gi, '$1***')
    .replace(/((?:^|\s)(?:-u|--user)\s+['"]?[^\s:'"]+:)[^\s'"]+/g, '$1***')
    .replace(/(authorization:\s*(?:bearer|basic|token)?\s*)[^\s'"]+/gi, '$1***')
    .replace(/\bpassword=\S+/gi, 'password=***');
  if (s.length > max) s = `${s.slice(0, max - 1)}…`;
  return s;
}
