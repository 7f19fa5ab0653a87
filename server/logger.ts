// Structured JSON logs on stdout, one object per line. Never pass tokens, credentials or
// request bodies here: the log is not a secret store.
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: Level, msg: string, fields?: Record<string, unknown>): void;
  /** whether a line at this level is written (so a hot path can skip building one) */
  enabled?(level: Level): boolean;
}

const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function jsonLogger(min: Level = 'info', write: (line: string) => void = (l) => process.stdout.write(l + '\n')): Logger {
  return {
    enabled: (level) => order[level] >= order[min],
    log(level, msg, fields) {
      if (order[level] < order[min]) return;
      write(JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields }));
    },
  };
}

export const silentLogger: Logger = { log() {}, enabled: () => false };

/** Error → loggable fields, without dumping arbitrary objects. */
export const errorFields = (e: unknown) =>
  e instanceof Error ? { error: e.message, code: (e as { code?: unknown }).code, stack: e.stack?.split('\n').slice(0, 4).join(' | ') } : { error: String(e) };
