// Group commit for sends: the sends that arrive in the same tick share one change (one transaction, synchronous=FULL,
// a seq per message), and each is acknowledged only after that transaction committed. A retry with the same
// client id while the first is still queued gets the same promise; after it committed, the service answers with
// the stored message. One batch at a time: the sends arriving while one commits wait for the next (the store's
// transaction holds SQLite's connection, or Postgres's seq row, anyway).
import type { Tx } from '../db/store'
import type { Message } from '../protocol'
import type { Membership, MessageRow, ThreadRow, UploadRow } from './model'

export interface SendItem {
  threadId: number
  authorId: number
  clientId: string
  /** As sent; trimmed by the check. */
  body: string
  /** The attachment: an image, or (before the check) null with `media` holding a video or voice message's. */
  image: string | null
  media?: string | null
  replyTo: number | null
  /** The thread, once the check passed (its kind, room and title travel with the message). */
  thread?: ThreadRow
  /** What the check read, kept for the wire message after the commit (no second read): the quoted message, */
  reply?: MessageRow | null
  /** the attachment's upload, */
  upload?: UploadRow | null
  /** and the thread's members (SQLite: the store's cached map, as it stood inside the batch's transaction). */
  members?: ReadonlyMap<number, Membership>
}

/** At most this many sends share one transaction; the rest go in the next tick (bounds a commit's time and size). */
export const MAX_BATCH = 1000
/**
 * Under load, a commit at most this often: the sends of the interval share it, and each socket gets its messages of
 * the batch in one write (Bun coalesces what a topic holds for a socket in one turn of the loop), instead of a write
 * per message per tab. A send after a quiet interval still commits in the next tick.
 */
const COMMIT_EVERY_MS = 20

interface Pending extends SendItem {
  key: string
  resolve: (m: Message) => void
  reject: (e: unknown) => void
}

export interface SendSink {
  /**
   * The store's change(): runs `write` in one transaction that takes seqs from `nextSeq` and saves the counter, then
   * `committed` after the commit (in commit order).
   */
  change<T, R>(write: (nextSeq: () => number, tx: Tx) => Promise<T>, committed: (written: T) => Promise<R>): Promise<R>
  /**
   * Inside the change, before the insert (its reads cost a fraction of one outside a transaction): throws why the
   * send is refused; returns the message already stored under the same client id (a retry, answered with it and not
   * inserted again), or null once the item is ready to insert.
   */
  check(item: SendItem, tx: Tx): Promise<MessageRow | null>
  /** Inserts one message with its seq and time inside the running change; returns its id. */
  insert(item: SendItem, seq: number, at: number, tx: Tx): Promise<number>
  /** Inside the same change, once per thread of the batch: its newest message (id and seq). */
  last(threadId: number, id: number, seq: number, at: number, tx: Tx): Promise<void>
  /** After commit: builds the wire message from what was inserted (no second read), delivers it and notifies. */
  committed(id: number, item: SendItem, seq: number, at: number): Promise<Message>
  /** After commit: the wire message of one already stored (a retry's answer). */
  stored(row: MessageRow): Promise<Message>
  /**
   * SQLite: check, insert and last as synchronous calls inside the change (the same rules, the store's synchronous
   * twins of the same reads), so the batch's inner loop takes no promise per call. Absent on Postgres.
   */
  now?: SendNowSink
  /**
   * Postgres: the batch's checks and inserts in a few statements under the seq lock (the same rules, over facts read
   * for the whole batch at once; one multi-row INSERT in seq order). Absent: check and insert per item.
   */
  many?: SendManySink
  logError(msg: string, ctx: object): void
}

/** The synchronous twins of SendSink's check, insert and last (SQLite). */
export interface SendNowSink {
  check(item: SendItem, tx: Tx): MessageRow | null
  insert(item: SendItem, seq: number, at: number, tx: Tx): number
  last(threadId: number, id: number, seq: number, at: number, tx: Tx): void
  /**
   * After commit, SendSink.committed from what the batch holds: the wire message built and delivered at once (a
   * promise only in the rare case that needs a read: a recipient who blocked the author or the quoted author).
   */
  committed(id: number, item: SendItem, seq: number, at: number): Message | Promise<Message>
}

/** A send's check in a batch: the message already stored (a retry), null (ready to insert), or why it is refused. */
type SendChecked = { stored: MessageRow | null } | { error: unknown }

/** The batched twins of SendSink's check, insert and last (Postgres). */
interface SendManySink {
  /** Before the change (no seq lock held): the batch's facts read early; check then reads only what changed since. */
  read?(items: SendItem[]): Promise<unknown>
  /** Each item's check, in the order given (the facts of all read together, or brought up to date from `early`). */
  check(items: SendItem[], tx: Tx, early?: unknown): Promise<SendChecked[]>
  /**
   * Inserts the items with their seqs (ascending) in one statement that also sets each thread's last message; their
   * ids, in the same order.
   */
  insert(rows: { item: SendItem; seq: number }[], at: number, tx: Tx): Promise<number[]>
}

export class SendQueue {
  private queue: Pending[] = []
  private inflight = new Map<string, Promise<Message>>()
  private scheduled = false
  /** The batch being committed, if any: the next one starts after it. */
  private flushing: Promise<void> | null = null
  /** When the last flush began (performance.now()). */
  private lastFlush = -Infinity
  commits = 0
  messages = 0
  maxBatch = 0
  /** The messages this queue stored and delivered as their events (not a retry's stored one): a short ack's (B64). */
  readonly live = new WeakSet<Message>()

  constructor(private sink: SendSink) {}

  send(item: SendItem): Promise<Message> {
    const key = `${item.authorId}:${item.clientId}`
    const same = this.inflight.get(key)
    if (same) return same
    const p = new Promise<Message>((resolve, reject) => this.queue.push({ ...item, key, resolve, reject }))
    this.inflight.set(key, p)
    if (!this.scheduled) this.schedule()
    return p
  }

  /**
   * The next flush: in the next tick, or once COMMIT_EVERY_MS have passed since the last one began; while a batch
   * commits, once it is done.
   */
  private schedule() {
    this.scheduled = true
    if (this.flushing) return
    const wait = this.lastFlush + COMMIT_EVERY_MS - performance.now()
    if (wait > 0) setTimeout(() => void this.flush(), wait)
    else setImmediate(() => void this.flush())
  }

  get pending() {
    return this.queue.length
  }

  /** Commits everything still queued (the server stopping: acknowledged sends are committed, the rest now). */
  async drain() {
    while (this.flushing || this.queue.length) await (this.flushing ?? this.flush())
  }

  /** Commits everything queued (up to MAX_BATCH) in one transaction, then acknowledges; one batch at a time. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing
    this.scheduled = false
    this.lastFlush = performance.now()
    const batch = this.queue.splice(0, MAX_BATCH)
    if (!batch.length) return Promise.resolve()
    const done = this.commit(batch).finally(() => {
      this.flushing = null
      if (this.queue.length) this.schedule()
    })
    this.flushing = done
    return done
  }

  private async commit(batch: Pending[]) {
    const ids = new Map<Pending, { id: number; seq: number }>()
    const stored = new Map<Pending, MessageRow>()
    const errors = new Map<Pending, unknown>()
    // One time for the batch: its messages are committed together.
    const at = Date.now()
    const now = this.sink.now
    // Committed (or not at all): each send is answered, and its message delivered.
    const answer = async () => {
      this.commits++
      this.messages += ids.size
      this.maxBatch = Math.max(this.maxBatch, batch.length)
      for (const item of batch) {
        this.inflight.delete(item.key)
        const done = ids.get(item)
        const already = stored.get(item)
        if (already) {
          try {
            item.resolve(await this.sink.stored(already))
          } catch (e) {
            item.reject(e)
          }
          continue
        }
        if (done === undefined) {
          item.reject(errors.get(item))
          continue
        }
        try {
          // SQLite: built and delivered at once, no await per send (in commit order all the same: one pass).
          const m = now ? now.committed(done.id, item, done.seq, at) : this.sink.committed(done.id, item, done.seq, at)
          const message = m instanceof Promise ? await m : m
          this.live.add(message)
          item.resolve(message)
        } catch (e) {
          item.reject(e)
        }
      }
    }
    const many = now ? undefined : this.sink.many
    try {
      // Postgres: the facts read before the change takes the seq lock (under it, only what changed since).
      const early = await many?.read?.(batch)
      await this.sink.change(async (nextSeq, tx) => {
        // SQLite: the loop runs synchronously (no await in it), the same checks through the store's twins.
        // Postgres: every check's facts in a few statements, then the ready messages (seqs in batch order) and the
        // threads' last messages in one.
        if (many) {
          const checked = await many.check(batch, tx, early)
          const ready: { item: Pending; seq: number }[] = []
          for (const [i, item] of batch.entries()) {
            const c = checked[i]!
            if ('error' in c) errors.set(item, c.error)
            else if (c.stored) stored.set(item, c.stored)
            else ready.push({ item, seq: nextSeq() })
          }
          const inserted = await many.insert(ready, at, tx)
          for (const [i, { item, seq }] of ready.entries()) ids.set(item, { id: inserted[i]!, seq })
        }
        for (const item of many ? [] : batch) {
          try {
            const already = now ? now.check(item, tx) : await this.sink.check(item, tx)
            if (already) {
              stored.set(item, already)
              continue
            }
            const seq = nextSeq()
            ids.set(item, { id: now ? now.insert(item, seq, at, tx) : await this.sink.insert(item, seq, at, tx), seq })
          } catch (e) {
            errors.set(item, e)
          }
        }
        // Each thread's newest message, once per batch rather than once per message (many: by its insert).
        const last = new Map<number, { id: number; seq: number }>()
        for (const [item, done] of many ? [] : ids) last.set(item.threadId, done)
        for (const [threadId, done] of last)
          if (now) now.last(threadId, done.id, done.seq, at, tx)
          else await this.sink.last(threadId, done.id, done.seq, at, tx)
      }, answer)
    } catch (e) {
      // The commit itself failed: nothing of this batch is stored, nothing is acknowledged.
      this.sink.logError('backchannel: batch commit failed', { size: batch.length, error: e })
      ids.clear()
      stored.clear()
      for (const item of batch) errors.set(item, e)
      await answer()
    }
  }
}
