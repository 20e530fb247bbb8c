const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const
export type LogLevel = keyof typeof LEVELS
/** text: `time LEVEL message {context}`; json: one object a line, `{time, level, msg, ...context}` (LOG_FORMAT). */
export type LogFormat = 'text' | 'json'

export interface Logger {
  debug(msg: string, ctx?: object): void
  info(msg: string, ctx?: object): void
  warn(msg: string, ctx?: object): void
  error(msg: string, ctx?: object): void
}

const errors = (_k: string, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack } : v)

/** One line per entry: time, level, message and its context (LOG_FORMAT text or json). */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => console.error(l),
  format: LogFormat = 'text',
): Logger {
  const at = (lvl: LogLevel) => (msg: string, ctx?: object) => {
    if (LEVELS[lvl] < LEVELS[level]) return
    const time = new Date().toISOString()
    if (format === 'json') {
      let line: string
      try {
        // time, level and message first; the context's own fields cannot hide them.
        const head = { time, level: lvl, msg }
        line = JSON.stringify(Object.assign({ ...head }, ctx, head), errors)
      } catch {
        line = JSON.stringify({ time, level: lvl, msg, context: '[unserialisable context]' })
      }
      write(line)
      return
    }
    let extra = ''
    if (ctx) {
      try {
        extra = ' ' + JSON.stringify(ctx, errors)
      } catch {
        extra = ' [unserialisable context]'
      }
    }
    write(`${time} ${lvl.toUpperCase().padEnd(5)} ${msg}${extra}`)
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
