// Backchannel state kept in step over the socket: the inbox, the open threads' messages, typing, Q&A, and an outbox.
// Nothing is lost: the client remembers the last seq it saw and syncs from it after every reconnect; a send keeps its
// client id until the server acknowledged it, so a retry after a dropped connection is answered with the stored copy.
import { signal } from '@preact/signals'
import type {
  Inbox,
  Media,
  Message,
  Prefs,
  Question,
  Reply,
  RequestFields,
  RequestType,
  RoomBackchannel,
  SearchResult,
  SentMessage,
  SharedQuestion,
  Thread,
} from '../../server/protocol'
import { errorCode, get, post, RequestError } from './api'
import { loadPlayed } from './bcmedia'
import { conn } from './connection'
import { me } from './state'

export type { Media, Message, Question, RoomBackchannel, SearchResult, Thread }
/** An image uploaded to a thread, to send in a message by its name. */
interface UploadedImage {
  name: string
  url: string
  mime: string
  size: number
}
/** A message as the view holds it: a stored one, or one of mine still on its way (`pending`) or refused (`failed`). */
export type Shown = Message & { pending?: boolean; failed?: string }

export const threads = signal<ReadonlyMap<number, Thread>>(new Map())
export const messages = signal<ReadonlyMap<number, Shown[]>>(new Map())
/** Whether older messages exist before the first one held, per thread. */
export const hasMore = signal<ReadonlyMap<number, boolean>>(new Map())
export const typing = signal<ReadonlyMap<number, { userId: number; username: string; until: number }[]>>(new Map())
export const questions = signal<ReadonlyMap<number, Question[]>>(new Map())
export const prefs = signal<Prefs>({ followersOnly: false })
export const inboxState = signal<'loading' | 'ready' | 'offline'>('loading')
/** The thread on screen (its new messages are read at once while the page is visible). */
const openThreadId = signal<number | null>(null)

const TYPING_SHOWN_MS = 4000
const TYPING_SEND_EVERY_MS = 2500

let cursor = 0
let localId = Number.MAX_SAFE_INTEGER
let syncing = false
let started = false
/** Sends not yet acknowledged, by client id; kept in localStorage so that a reload or a closed tab loses none. */
interface Outgoing {
  threadId: number
  body: string
  image?: string
  imageUrl?: string
  /** A video or voice message uploaded to the thread, and how it shows meanwhile. */
  media?: string
  mediaView?: Media
  replyTo?: number
  reply?: Message['replyTo']
  createdAt: number
}
const outbox = new Map<string, Outgoing>()
const outboxKey = () => `townhall.bc.outbox.${me.value?.id ?? 0}`
function saveOutbox() {
  try {
    localStorage.setItem(outboxKey(), JSON.stringify([...outbox]))
  } catch {
    /* storage full or blocked: the outbox still lives in memory */
  }
}
function loadOutbox() {
  try {
    for (const [k, v] of JSON.parse(localStorage.getItem(outboxKey()) ?? '[]') as [string, Outgoing][]) outbox.set(k, v)
  } catch {
    /* nothing saved */
  }
}
/** How a send of mine shows until the server has it. */
function pendingMessage(clientId: string, o: Outgoing): Shown {
  const user = me.value!
  return {
    id: localId--,
    threadId: o.threadId,
    seq: 0,
    clientId,
    pending: true,
    author: { id: user.id, username: user.username, displayName: user.displayName, avatar: user.avatar },
    body: o.body,
    image: o.imageUrl ?? null,
    media: o.mediaView ?? null,
    reactions: {},
    createdAt: o.createdAt,
    editedAt: null,
    deleted: false,
    replyTo: o.reply ?? null,
  }
}

const mutate = <K, V>(s: { value: ReadonlyMap<K, V> }, fn: (m: Map<K, V>) => void) => {
  const m = new Map(s.value)
  fn(m)
  s.value = m
}

/** Resolves once the socket is open (the first connect may still be under way when a screen asks). */
function whenOpen(timeout = 15000): Promise<void> {
  if (conn.state.value === 'open') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new RequestError('offline', 'You are offline. Check your connection.'))
    }, timeout)
    const off = conn.onResume(() => {
      clearTimeout(timer)
      off()
      resolve()
    })
  })
}
/** A request that waits for the socket first. */
const rq = async <K extends RequestType>(type: K, fields: RequestFields<K>): Promise<Reply<K>> => {
  await whenOpen()
  return conn.request(type, fields)
}

const newClientId = () => crypto.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`

// ——— applying what the server says ———

function putThread(t: Thread) {
  mutate(threads, (m) => {
    const old = m.get(t.id)
    if (old && old.seq > t.seq) return
    // A thread I am looking at has nothing unread.
    m.set(t.id, openThreadId.value === t.id && visible() ? { ...t, unread: 0 } : t)
  })
}

/** A thread's messages as shown: stored ones by id, then the pending ones. */
const shownOrder = (a: Shown, b: Shown) => (a.pending ? 1 : 0) - (b.pending ? 1 : 0) || a.id - b.id

function putMessage(msg: Message) {
  const list = messages.value.get(msg.threadId)
  if (list) {
    mutate(messages, (m) => {
      const next = list.filter(
        (x) => !(x.pending || x.failed) || x.clientId !== msg.clientId || x.author?.id !== msg.author?.id,
      )
      const i = next.findIndex((x) => x.id === msg.id)
      if (i >= 0) {
        if (next[i]!.seq <= msg.seq) next[i] = msg
      } else {
        next.push(msg)
        next.sort(shownOrder)
      }
      m.set(msg.threadId, next)
    })
  }
  const t = threads.value.get(msg.threadId)
  if (!t) {
    void refreshThread(msg.threadId)
    return
  }
  const newer = !t.lastMessage || msg.id >= t.lastMessage.id
  const fromOther = msg.author?.id !== me.value?.id
  const isNew = newer && (!t.lastMessage || msg.id > t.lastMessage.id)
  const reading = openThreadId.value === t.id && visible()
  mutate(threads, (m) =>
    m.set(t.id, {
      ...t,
      lastMessage: newer ? msg : t.lastMessage,
      lastAt: isNew ? msg.createdAt : t.lastAt,
      unread: reading ? 0 : t.unread + (isNew && fromOther && !msg.deleted && msg.id > t.lastReadId ? 1 : 0),
    }),
  )
  if (reading && fromOther && isNew) markRead(t.id)
}

function putQuestion(q: SharedQuestion & { voted?: boolean }) {
  mutate(questions, (m) => {
    const list = [...(m.get(q.roomId) ?? [])]
    const i = list.findIndex((x) => x.id === q.id)
    const merged: Question = { ...q, voted: q.voted ?? (i >= 0 ? list[i]!.voted : false) }
    if (i >= 0) {
      if (list[i]!.seq <= q.seq) list[i] = merged
    } else list.push(merged)
    m.set(q.roomId, list)
  })
}

const seen = (seq: number | undefined) => {
  if (!syncing && seq && seq > cursor) cursor = seq
}

async function refreshThread(id: number) {
  try {
    putThread((await rq('bc.thread', { threadId: id })).thread)
  } catch {
    /* not mine (any more): nothing to show */
  }
}

// ——— start, sync, inbox ———

/** Listens to the socket once; the inbox loads now and the state syncs after every (re)connect. */
export function startBackchannel() {
  if (started) return
  started = true
  ownState()
  conn.on('bc.message', (e) => {
    putMessage(e.message)
    seen(e.seq)
    // The message the typing line announced has arrived: its author is no longer typing.
    const author = e.message.author?.id
    const typists = typing.value.get(e.message.threadId)
    if (author !== undefined && typists?.some((x) => x.userId === author))
      mutate(typing, (m) =>
        m.set(
          e.message.threadId,
          typists.filter((x) => x.userId !== author),
        ),
      )
  })
  conn.on('bc.thread', (e) => {
    putThread(e.thread)
    seen(e.seq)
  })
  conn.on('bc.read', (e) => {
    seen(e.seq)
    const t = threads.value.get(e.threadId)
    if (!t) return
    const mine = e.userId === me.value?.id
    mutate(threads, (m) =>
      m.set(t.id, {
        ...t,
        lastReadId: mine ? Math.max(t.lastReadId, e.messageId) : t.lastReadId,
        unread: mine ? 0 : t.unread,
        members: t.members.map((x) =>
          x.id === e.userId ? { ...x, lastReadId: Math.max(x.lastReadId, e.messageId) } : x,
        ),
      }),
    )
  })
  conn.on('bc.typing', (e) => {
    mutate(typing, (m) =>
      m.set(e.threadId, [
        ...(m.get(e.threadId) ?? []).filter((x) => x.userId !== e.userId),
        { userId: e.userId, username: e.username, until: Date.now() + TYPING_SHOWN_MS },
      ]),
    )
    setTimeout(
      () =>
        mutate(typing, (m) =>
          m.set(
            e.threadId,
            (m.get(e.threadId) ?? []).filter((x) => x.until > Date.now()),
          ),
        ),
      TYPING_SHOWN_MS + 50,
    )
  })
  conn.on('bc.question', (e) => {
    putQuestion(e.question)
    seen(e.seq)
  })
  conn.on('bc.chat', (e) => {
    seen(e.seq)
    const t = threads.value.get(e.threadId)
    if (t) mutate(threads, (m) => m.set(t.id, { ...t, chatEnabled: e.enabled }))
  })
  conn.onResume(() => {
    void resume()
  })
  if (conn.state.value === 'open') void resume()
  document.addEventListener('visibilitychange', () => {
    const id = openThreadId.value
    if (id && visible()) markRead(id)
  })
}

/** Another member signed in on this tab: forget everything of the previous one. */
let stateOf: number | null = null
function ownState() {
  const id = me.value?.id ?? null
  if (id === stateOf) return
  stateOf = id
  cursor = 0
  threads.value = new Map()
  messages.value = new Map()
  hasMore.value = new Map()
  typing.value = new Map()
  questions.value = new Map()
  inboxState.value = 'loading'
  outbox.clear()
  loadOutbox()
}

/** After a (re)connect: catch up from the last seq (or load the inbox the first time), then resend the outbox. */
async function resume() {
  ownState()
  try {
    if (cursor === 0) await loadInbox()
    else await syncFrom(cursor)
  } catch {
    /* the connection dropped again: the next resume repeats this */
  }
  for (const [clientId, o] of outbox) void deliver(clientId, o)
}

async function syncFrom(after: number) {
  syncing = true
  try {
    for (;;) {
      const r = await conn.request('bc.sync', { after })
      for (const t of r.threads) putThread(t)
      for (const m of r.messages) putMessage(m)
      for (const q of r.questions) putQuestion(q)
      after = r.seq
      if (!r.more) break
    }
    cursor = Math.max(cursor, after)
  } finally {
    syncing = false
  }
}

/** The inbox over HTTP (the service worker keeps the last copy for offline use). */
export async function loadInbox() {
  ownState()
  try {
    const r = await get<Inbox>('/threads')
    mutate(threads, (m) => {
      // `rooms ?? []`: the service worker may answer offline with a copy an older version cached.
      for (const t of [...r.threads, ...r.requests, ...(r.rooms ?? [])])
        m.set(t.id, openThreadId.value === t.id ? { ...t, unread: 0 } : t)
    })
    prefs.value = r.prefs
    if (r.seq > cursor && !syncing) cursor = r.seq
    inboxState.value = 'ready'
  } catch (e) {
    if (errorCode(e) === 'offline' || (e as { status?: number }).status === 503)
      inboxState.value = threads.value.size ? 'ready' : 'offline'
    else throw e
  }
}

// ——— a thread ———

/** Loads a thread and its latest page of messages. */
export async function openThread(id: number) {
  openThreadId.value = id
  const r = await rq('bc.thread', { threadId: id })
  void loadPlayed(id)
  putThread(r.thread)
  if (!messages.value.has(id)) {
    const h = await rq('bc.history', { threadId: id })
    // Sends of mine the server already has are done; the others show as pending until they go through.
    const stored = new Set(h.messages.filter((x) => x.author?.id === me.value?.id).map((x) => x.clientId))
    for (const [cid, o] of outbox) if (o.threadId === id && stored.has(cid)) outbox.delete(cid)
    saveOutbox()
    const local = (messages.value.get(id) ?? []).filter((x) => (x.pending || x.failed) && !stored.has(x.clientId))
    const held = [...outbox]
      .filter(([cid, o]) => o.threadId === id && !local.some((x) => x.clientId === cid))
      .map(([cid, o]) => pendingMessage(cid, o))
    mutate(messages, (m) => m.set(id, [...h.messages, ...local, ...held]))
    mutate(hasMore, (m) => m.set(id, h.more))
  }
  markRead(id)
}

export function closeThread(id: number) {
  if (openThreadId.value === id) openThreadId.value = null
}

export async function loadEarlier(id: number) {
  const first = messages.value.get(id)?.find((m) => !m.pending)
  const h = await rq('bc.history', { threadId: id, before: first?.id })
  mutate(messages, (m) => m.set(id, [...h.messages, ...(m.get(id) ?? [])]))
  mutate(hasMore, (m) => m.set(id, h.more))
}

const visible = () => typeof document === 'undefined' || document.visibilityState === 'visible'

function markRead(id: number) {
  const t = threads.value.get(id)
  const last =
    messages.value
      .get(id)
      ?.filter((m) => !m.pending && !m.failed)
      .at(-1)?.id ?? t?.lastMessage?.id
  if (!t || !last || last <= t.lastReadId || !visible()) return
  mutate(threads, (m) => m.set(id, { ...t, unread: 0, lastReadId: last }))
  conn.request('bc.read', { threadId: id, messageId: last }).catch(() => {
    /* read state catches up on the next open */
  })
}

// ——— sending ———

/** Shows the message at once, sends it, and keeps it in the outbox until the server has stored it. */
export function send(
  threadId: number,
  body: string,
  opts: {
    image?: string
    imageUrl?: string
    media?: string
    mediaView?: Media
    replyTo?: Message | null
    clientId?: string
  } = {},
) {
  const clientId = opts.clientId ?? newClientId()
  const r = opts.replyTo
  const o: Outgoing = {
    threadId,
    body,
    image: opts.image,
    imageUrl: opts.imageUrl,
    media: opts.media,
    mediaView: opts.mediaView,
    replyTo: r?.id,
    createdAt: Date.now(),
    reply: r ? { id: r.id, author: r.author?.username ?? null, body: r.body.slice(0, 140), deleted: r.deleted } : null,
  }
  mutate(messages, (m) => m.set(threadId, [...(m.get(threadId) ?? []), pendingMessage(clientId, o)]))
  outbox.set(clientId, o)
  saveOutbox()
  return deliver(clientId, o)
}

async function deliver(clientId: string, o: Outgoing): Promise<void> {
  try {
    // Answered short (B64): the message itself comes as its `bc.message` event, just before the answer; a retry's
    // stored message comes whole.
    const r = await conn.request('bc.send', {
      threadId: o.threadId,
      clientId,
      body: o.body,
      ...(o.image ? { image: o.image } : {}),
      ...(o.media ? { media: o.media } : {}),
      ...(o.replyTo ? { replyTo: o.replyTo } : {}),
      ack: 'short',
    })
    outbox.delete(clientId)
    saveOutbox()
    if ('message' in r) putMessage(r.message)
    else stored(clientId, r.sent)
  } catch (e) {
    const code = errorCode(e)
    // Offline or no answer: it stays in the outbox and goes again after the reconnect, with the same client id.
    if (code === 'offline' || code === 'timeout' || code === 'internal') return
    outbox.delete(clientId)
    saveOutbox()
    mutate(messages, (m) =>
      m.set(
        o.threadId,
        (m.get(o.threadId) ?? []).map((x) =>
          x.clientId === clientId && x.pending ? { ...x, pending: false, failed: (e as Error).message } : x,
        ),
      ),
    )
    throw e
  }
}

/** A short answer (B64) before its event: the pending copy is marked stored, with its id, seq and time. */
function stored(clientId: string, sent: SentMessage) {
  const list = messages.value.get(sent.threadId)
  if (!list?.some((x) => x.pending && x.clientId === clientId)) return
  const { id, seq, createdAt } = sent
  mutate(messages, (m) =>
    m.set(
      sent.threadId,
      list
        .map((x) => (x.pending && x.clientId === clientId ? { ...x, id, seq, createdAt, pending: false } : x))
        .sort(shownOrder),
    ),
  )
}

export function discardFailed(threadId: number, clientId: string) {
  mutate(messages, (m) =>
    m.set(
      threadId,
      (m.get(threadId) ?? []).filter((x) => !(x.failed && x.clientId === clientId)),
    ),
  )
}

/** Uploads an image (the file's raw bytes: PNG, JPEG, WebP or GIF, at most 10 MB) to send in a thread. */
export const uploadImage = (threadId: number, file: Blob) =>
  post<{ image: UploadedImage }>(`/threads/${threadId}/images`, file).then((r) => r.image)

let lastTyping = 0
export function sendTyping(threadId: number) {
  if (Date.now() - lastTyping < TYPING_SEND_EVERY_MS) return
  lastTyping = Date.now()
  conn.request('bc.typing', { threadId }).catch(() => {})
}

export const edit = (messageId: number, body: string) =>
  rq('bc.edit', { messageId, body }).then((r) => putMessage(r.message))
export const remove = (messageId: number) => rq('bc.delete', { messageId }).then((r) => putMessage(r.message))
export const react = (messageId: number, emoji: string, on: boolean) =>
  rq('bc.react', { messageId, emoji, on }).then((r) => putMessage(r.message))

// ——— threads and requests ———

export async function openDm(username: string): Promise<Thread> {
  const t = (await rq('bc.dm', { username })).thread
  putThread(t)
  return t
}
export async function createGroup(title: string, usernames: string[]): Promise<Thread> {
  const t = (await rq('bc.group.create', { title, usernames })).thread
  putThread(t)
  return t
}
export const addMembers = (threadId: number, usernames: string[]) =>
  rq('bc.group.add', { threadId, usernames }).then((r) => putThread(r.thread))
export const removeMember = (threadId: number, userId: number) =>
  rq('bc.group.remove', { threadId, userId }).then((r) => putThread(r.thread))
export const rename = (threadId: number, title: string) =>
  rq('bc.group.rename', { threadId, title }).then((r) => putThread(r.thread))
export async function leave(threadId: number) {
  await rq('bc.group.leave', { threadId })
  forget(threadId)
}
export const mute = (threadId: number, muted: boolean) =>
  rq('bc.mute', { threadId, muted }).then((r) => putThread(r.thread))
export const accept = (threadId: number) => rq('bc.request.accept', { threadId }).then((r) => putThread(r.thread))
export async function decline(threadId: number) {
  await rq('bc.request.decline', { threadId })
  forget(threadId)
}
function forget(threadId: number) {
  mutate(threads, (m) => m.delete(threadId))
}
export async function setFollowersOnly(on: boolean) {
  prefs.value = (await rq('bc.prefs', { followersOnly: on })).prefs
}

export const search = (q: string) =>
  get<{ results: SearchResult[] }>(`/threads/search?q=${encodeURIComponent(q)}`).then((r) => r.results)

// ——— in a room ———

export async function openRoom(roomId: number): Promise<RoomBackchannel> {
  const r = await rq('bc.room.open', { roomId })
  putThread(r.chat)
  if (r.backstage) putThread(r.backstage)
  mutate(questions, (m) => m.set(roomId, r.questions))
  return r
}
export const setChat = (roomId: number, enabled: boolean) => rq('bc.room.chat', { roomId, enabled })
export const ask = (roomId: number, body: string) =>
  rq('bc.q.ask', { roomId, clientId: newClientId(), body }).then((r) => putQuestion(r.question))
export const upvote = (questionId: number) => rq('bc.q.upvote', { questionId }).then((r) => putQuestion(r.question))
export const markQuestion = (questionId: number, state: 'answered' | 'dismissed' | 'open') =>
  rq('bc.q.mark', { questionId, state }).then((r) => putQuestion(r.question))
export const bringToStage = (questionId: number) =>
  rq('bc.q.stage', { questionId }).then((r) => putQuestion(r.question))

/** Threads for the inbox view, newest first. */
export function inboxLists() {
  const all = [...threads.value.values()].filter(
    (t) => (t.kind === 'dm' || t.kind === 'group') && (t.kind === 'group' || t.lastMessage),
  )
  all.sort((a, b) => b.lastAt - a.lastAt || b.id - a.id)
  const rooms = [...threads.value.values()].filter(
    (t) => (t.kind === 'room_chat' || t.kind === 'backstage') && t.lastMessage,
  )
  rooms.sort((a, b) => b.lastAt - a.lastAt || b.id - a.id)
  return { inbox: all.filter((t) => t.state === 'active'), requests: all.filter((t) => t.state === 'request'), rooms }
}

export const unreadTotal = () => inboxLists().inbox.reduce((n, t) => n + (t.muted ? 0 : t.unread), 0)
