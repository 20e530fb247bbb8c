// How long tests wait. A busy machine (CI beside other jobs, two `yes >/dev/null` loops) is slow, not wrong: a test
// waits for an event (a reply, a socket closing, a page showing something, a packet arriving) and gives up only
// after a generous limit, never after a fixed sleep.

/** The limit of one wait for an event: WebSocket replies and events, bots connecting, browser pages, polls. */
export const WAIT = 30_000

/**
 * The limit of one test and of each hook: well above any single wait it contains, so that a stuck wait fails with its
 * own message. Bun ignores `timeout` in bunfig.toml and applies setDefaultTimeout() to the file that calls it only,
 * so every test file starts with `setDefaultTimeout(TEST_LIMIT)` (test/unit/test-limits.test.ts checks it).
 */
export const TEST_LIMIT = 180_000

/**
 * Waits until pred() holds (checked every 20 ms), at most `timeout`; `what` names it in the error (a function: its
 * state at that moment). For what has no event of its own: a server's counter, a fake service's inbox.
 */
export async function until(
  pred: () => boolean | Promise<boolean>,
  what: string | (() => string) = 'condition',
  timeout = WAIT,
) {
  const end = Date.now() + timeout
  while (!(await pred())) {
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout} ms waiting for ${typeof what === 'function' ? what() : what}`)
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * Calls `read` (a page's state, stats over CDP…) every 50 ms until `ok` accepts its value, and returns it; at most
 * `timeout`, then fails naming `what` and the last value read.
 */
export async function poll<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeout = WAIT): Promise<T> {
  const end = Date.now() + timeout
  for (;;) {
    const v = await read()
    if (ok(v)) return v
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(v)})`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}
