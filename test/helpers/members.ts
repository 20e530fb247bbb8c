// Signed-in members with a WebSocket each, requests that must succeed (ok) or fail (outcome), rooms created over HTTP.
import { signedInClient, type TestServer } from './server'
import type { RequestFields, RequestType } from '../../server/protocol'
import { connectWs, type WsClient } from './ws'

let n = 0
export interface Member {
  id: number
  name: string
  http: Awaited<ReturnType<typeof signedInClient>>
  ws: WsClient & { hello: any }
}

/** A new member (unique name) with an open socket. */
export async function member(s: TestServer, prefix = 'm'): Promise<Member> {
  const name = `${prefix}${++n}_${Math.random().toString(36).slice(2, 6)}`.slice(0, 20)
  const http = await signedInClient(s, name)
  const ws = await connectWs(s.url, { cookie: http.cookie, origin: s.origin })
  return { id: http.user.id, name, http, ws }
}

export async function reconnect(s: TestServer, m: Member) {
  m.ws = await connectWs(s.url, { cookie: m.http.cookie, origin: s.origin })
  return m
}

export async function createRoom(host: Member, body: Record<string, unknown> = {}) {
  const r = await host.http.post('/api/rooms', { title: 'A room', kind: 'open', ...body })
  if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.text}`)
  return r.json.room as { id: number; state: string; kind: string }
}

/** Sends a request and returns its reply (typed by the protocol); throws unless ok. */
export async function ok<K extends RequestType>(m: Member, type: K, fields: RequestFields<K>) {
  const r = await m.ws.request(type, fields)
  if (!r.ok) throw new Error(`${m.name} ${type}: ${r.error.code} ${r.error.message}`)
  return r
}

/**
 * The error code of a request's reply, or 'ok'.
 * Loose on purpose: permission and malformed-input tables send any type and fields.
 */
export async function outcome(m: { ws: WsClient }, type: string, fields: Record<string, unknown>) {
  const r = await m.ws.requestUnchecked(type, fields)
  return r.ok ? 'ok' : (r.error.code as string)
}

export const closeAll = (ms: Member[]) => {
  for (const m of ms) m.ws.close()
}

/** A moderator invites a member to speak and they accept. */
export async function bringUp(mod: Member, m: Member, roomId: number) {
  await ok(mod, 'room.invite', { roomId, userId: m.id })
  await ok(m, 'room.respond', { roomId, accept: true })
}

/** A live room with its host and the given members joined. */
export async function roomWith(host: Member, others: Member[], body: Record<string, unknown> = {}) {
  const room = await createRoom(host, body)
  for (const m of [host, ...others]) await ok(m, 'room.join', { roomId: room.id })
  return room
}
