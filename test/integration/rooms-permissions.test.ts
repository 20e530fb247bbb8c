// The permission tables: who (audience, speaker, moderator, host, non-member, guest, blocked, removed) × every room
// action → allowed or the catalog error, each cell in a fresh room over real WebSockets; and who may join by kind.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startTestServer, type TestServer } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'
import { closeAll, createRoom, member, ok, outcome, reconnect, type Member } from '../helpers/members'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let H: Member, M: Member, TM: Member, S: Member, TS: Member, A: Member, TA: Member, X: Member, B: Member, R: Member
let guest: WsClient
const rooms = () => s.ctx.rooms.service

beforeAll(async () => {
  s = await startTestServer()
  await s.ctx.core.settings.update({ guests: true })
  ;[H, M, TM, S, TS, A, TA, X, B, R] = await Promise.all(
    ['host', 'mod', 'tmod', 'spk', 'tspk', 'aud', 'taud', 'non', 'blk', 'rem'].map((p) => member(s, p)),
  )
  await H.http.put(`/api/users/${B.name}/block`)
  guest = await connectWs(s.url, { origin: s.origin })
})
afterAll(async () => {
  closeAll([H, M, TM, S, TS, A, TA, X, B, R])
  guest.close()
  await s.stop()
})

/** Fresh sockets now and then, so that the per-socket rate limit (a burst of 60) never answers instead of the rule. */
let setups = 0
async function freshSockets() {
  for (const m of [H, M, TM, S, TS, A, TA, X, B, R]) {
    m.ws.close()
    await reconnect(s, m)
  }
  guest.close()
  guest = await connectWs(s.url, { origin: s.origin })
}

/** A fresh live room: host, two moderators, two speakers, two in the audience, and one removed member. */
async function setup() {
  if (++setups % 12 === 0) await freshSockets()
  const room = await createRoom(H, { title: 'Permissions' })
  for (const m of [H, M, TM, S, TS, A, TA, R]) await ok(m, 'room.join', { roomId: room.id })
  const r = rooms()
  for (const m of [M, TM, S, TS]) {
    r.inviteToSpeak(room.id, H.id, m.id)
    await r.respond(m.id, room.id, true)
  }
  for (const m of [M, TM]) await r.setModerator(H.id, room.id, m.id, true)
  await r.remove(H.id, room.id, R.id)
  return room.id
}

type Actor = 'audience' | 'speaker' | 'moderator' | 'host' | 'non-member' | 'guest' | 'blocked' | 'removed'
const ACTORS: Actor[] = ['audience', 'speaker', 'moderator', 'host', 'non-member', 'guest', 'blocked', 'removed']
const who = (a: Actor): { ws: WsClient; id: number } => {
  if (a === 'guest') return { ws: guest, id: 0 }
  return ({ audience: A, speaker: S, moderator: M, host: H, 'non-member': X, blocked: B, removed: R } as const)[a]
}

// Each action: the request (given the room) and, optionally, what must be true first for the actor.
interface Action {
  name: string
  type: string
  fields: (roomId: number) => Record<string, unknown>
  before?: (roomId: number, actor: Actor) => void
}
const ACTIONS: Action[] = [
  { name: 'join', type: 'room.join', fields: (roomId) => ({ roomId }) },
  { name: 'leave quietly', type: 'room.leave', fields: (roomId) => ({ roomId }) },
  { name: 'raise hand', type: 'room.hand', fields: (roomId) => ({ roomId, up: true }) },
  {
    name: 'accept an invitation',
    type: 'room.respond',
    fields: (roomId) => ({ roomId, accept: true }),
    before: (roomId, a) => {
      if (a === 'audience') rooms().inviteToSpeak(roomId, H.id, A.id)
    },
  },
  { name: 'invite to speak', type: 'room.invite', fields: (roomId) => ({ roomId, userId: TA.id }) },
  { name: 'move a speaker to the audience', type: 'room.move', fields: (roomId) => ({ roomId, userId: TS.id }) },
  { name: 'mute a speaker', type: 'room.mute', fields: (roomId) => ({ roomId, userId: TS.id, muted: true }) },
  { name: 'unmute self', type: 'room.mute', fields: (roomId) => ({ roomId, muted: false }) },
  { name: 'make a speaker moderator', type: 'room.mod', fields: (roomId) => ({ roomId, userId: TS.id, on: true }) },
  { name: 'unmake a moderator', type: 'room.mod', fields: (roomId) => ({ roomId, userId: TM.id, on: false }) },
  { name: 'remove an audience member', type: 'room.remove', fields: (roomId) => ({ roomId, userId: TA.id }) },
  { name: 'remove a moderator', type: 'room.remove', fields: (roomId) => ({ roomId, userId: TM.id }) },
  { name: 'end the room', type: 'room.end', fields: (roomId) => ({ roomId }) },
]

const out = { not: 'not_in_room', guest: 'unauthorized' }
// columns: audience, speaker, moderator, host, non-member, guest, blocked, removed
const TABLE: Record<string, string[]> = {
  'join': ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'blocked', 'removed_from_room'],
  'leave quietly': ['ok', 'ok', 'ok', 'ok', out.not, out.not, out.not, out.not],
  'raise hand': ['ok', 'on_stage', 'on_stage', 'on_stage', out.not, out.guest, out.not, out.not],
  'accept an invitation': [
    'ok',
    'no_invitation',
    'no_invitation',
    'no_invitation',
    out.not,
    out.guest,
    out.not,
    out.not,
  ],
  'invite to speak': [
    'room_invite_forbidden',
    'room_invite_forbidden',
    'ok',
    'ok',
    out.not,
    out.guest,
    out.not,
    out.not,
  ],
  'move a speaker to the audience': [
    'room_move_forbidden',
    'room_move_forbidden',
    'ok',
    'ok',
    out.not,
    out.guest,
    out.not,
    out.not,
  ],
  'mute a speaker': ['room_mute_forbidden', 'room_mute_forbidden', 'ok', 'ok', out.not, out.guest, out.not, out.not],
  'unmute self': ['not_on_stage', 'ok', 'ok', 'ok', out.not, out.guest, out.not, out.not],
  'make a speaker moderator': [
    'room_mod_forbidden',
    'room_mod_forbidden',
    'ok',
    'ok',
    out.not,
    out.guest,
    out.not,
    out.not,
  ],
  'unmake a moderator': [
    'room_unmod_forbidden',
    'room_unmod_forbidden',
    'room_outranked',
    'ok',
    out.not,
    out.guest,
    out.not,
    out.not,
  ],
  'remove an audience member': [
    'room_remove_forbidden',
    'room_remove_forbidden',
    'ok',
    'ok',
    out.not,
    out.guest,
    out.not,
    out.not,
  ],
  'remove a moderator': [
    'room_remove_forbidden',
    'room_remove_forbidden',
    'room_outranked',
    'ok',
    out.not,
    out.guest,
    out.not,
    out.not,
  ],
  'end the room': ['room_end_forbidden', 'room_end_forbidden', 'ok', 'ok', out.not, out.guest, out.not, out.not],
}

describe('[R20] room actions by role', () => {
  for (const action of ACTIONS) {
    test(`[R20] ${action.name}: ${ACTORS.map((a, i) => `${a} → ${TABLE[action.name]![i]}`).join(', ')}`, async () => {
      const got: string[] = []
      for (const actor of ACTORS) {
        const roomId = await setup()
        action.before?.(roomId, actor)
        got.push(await outcome(who(actor), action.type, action.fields(roomId)))
        await rooms().end(roomId, null)
      }
      expect(got).toEqual(TABLE[action.name]!)
    })
  }
})

test('[R21] joining: open → members; social → followed by a moderator; closed → invited; blocked never', async () => {
  await freshSockets()
  const stranger = await member(s, 'str'),
    fan = await member(s, 'fan'),
    modFan = await member(s, 'mfan'),
    invited = await member(s, 'inv'),
    cohost = await member(s, 'coh')
  await H.http.put(`/api/users/${fan.name}/follow`)
  await H.http.put(`/api/users/${M.name}/follow`)
  await H.http.put(`/api/users/${B.name}/block`) // blocking ended any follow; keep B blocked
  await M.http.put(`/api/users/${modFan.name}/follow`)
  const cols = {
    stranger,
    'followed by host': fan,
    'followed by a moderator': modFan,
    invited,
    cohost,
    guest: { ws: guest },
    'blocked by host': B,
  } as const
  const expected: Record<string, string[]> = {
    open: ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'blocked'],
    social: ['room_followers_only', 'ok', 'ok', 'room_followers_only', 'ok', 'room_sign_in', 'blocked'],
    closed: ['room_invite_only', 'room_invite_only', 'room_invite_only', 'ok', 'ok', 'room_sign_in', 'blocked'],
  }
  for (const kind of ['open', 'social', 'closed'] as const) {
    const room = await createRoom(H, { kind, invited: [invited.name, B.name, M.name], cohosts: [cohost.name] })
    await ok(H, 'room.join', { roomId: room.id })
    await ok(M, 'room.join', { roomId: room.id })
    rooms().inviteToSpeak(room.id, H.id, M.id)
    await rooms().respond(M.id, room.id, true)
    await rooms().setModerator(H.id, room.id, M.id, true)
    const got: string[] = [],
      listed: boolean[] = []
    for (const [name, m] of Object.entries(cols)) {
      got.push(await outcome(m, 'room.join', { roomId: room.id }))
      const hall =
        name === 'guest'
          ? await fetch(`${s.url}/api/rooms`).then((r) => r.json())
          : (await (m as Member).http.get('/api/rooms')).json
      listed.push(hall.live.some((r: any) => r.id === room.id))
      if (name !== 'guest' && got.at(-1) === 'ok') await ok(m as Member, 'room.leave', { roomId: room.id })
    }
    expect({ kind, got }).toEqual({ kind, got: expected[kind]! })
    // the hallway shows a room exactly to those who may join it (the cohost had left, and is listed too)
    expect({ kind, listed }).toEqual({ kind, listed: got.map((g) => g === 'ok') })
    await rooms().end(room.id, null)
  }
  closeAll([stranger, fan, modFan, invited, cohost])
})

test(
  '[R22] a co-host joins as moderator and may start a scheduled room; ' +
    'guests are refused when the admin turns guests off',
  async () => {
    const cohost = await member(s, 'coh')
    const room = await createRoom(H, { title: 'Planned', startsAt: Date.now() + 86_400_000, cohosts: [cohost.name] })
    expect((await cohost.http.post(`/api/rooms/${room.id}/start`)).json.room.state).toBe('live')
    expect((await ok(cohost, 'room.join', { roomId: room.id })).me.role).toBe('host')
    expect((await ok(H, 'room.join', { roomId: room.id })).me.role).toBe('moderator')
    await s.ctx.core.settings.update({ guests: false })
    try {
      expect(await outcome({ ws: guest }, 'room.join', { roomId: room.id })).toBe('room_sign_in')
      expect((await fetch(`${s.url}/api/rooms`)).status).toBe(401)
    } finally {
      await s.ctx.core.settings.update({ guests: true })
    }
    await rooms().end(room.id, null)
    cohost.ws.close()
  },
)
