const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const
export type LogLevel = keyof typeof LEVELS

export interface Logger {
  debug(msg: string, ctx?: object): void
  info(msg: string, ctx?: object): void
  warn(msg: string, ctx?: object): void
  error(msg: string, ctx?: object): void
}

/** One line per entry: time, level, message and its context as JSON. */
export function createLogger(level: LogLevel, write: (line: string) => void = (l) => console.error(l)): Logger {
  const at = (lvl: LogLevel) => (msg: string, ctx?: object) => {
    if (LEVELS[lvl] < LEVELS[level]) return
    let extra = ''
    if (ctx) {
      try {
        extra = ' ' + JSON.stringify(ctx, (_k, v) => (v instanceof Error ? { message: v.message, stack: v.stack } : v))
      } catch {
        extra = ' [unserialisable context]'
      }
    }
    write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${msg}${extra}`)
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
