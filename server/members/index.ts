// Members' own data: "download my data" (one tar: JSON of the profile, follows, blocks, threads, messages and uploads,
// and the files themselves) and "delete my account" (password required). Built after every domain whose data a
// member has (accounts, rooms, push, invites, Backchannel), reaching each through its contract.
// What deleting an account does: the account becomes a "Deleted member" row that never signs in (profile, avatar,
// sessions, follows, blocks, devices, unused invites gone); the member leaves every room; their messages in groups
// and room chats become tombstones ("Message deleted"), while in 1:1 conversations the other person keeps them,
// shown from "Deleted member"; their voice is mixed out of every replay, their capture files, clips and feed go.
import { Elysia, t } from 'elysia'
import type {
  AccountsApi,
  AuditFn,
  BackchannelApi,
  InvitesApi,
  PushApi,
  ReplayLibraryApi,
  RoomsApi,
} from '../contracts'
import type { Core } from '../core'
import { type TarSource, tarStream } from '../db/tar'
import type { Domain } from '../domain'
import { fail } from '../errors'
import { clearCookie, limit, requireUser, sessionPlugin } from '../http/session'
import type { RateLimiter } from '../lib/ratelimit'

export interface MembersDeps {
  core: Core
  accounts: AccountsApi
  rooms: RoomsApi
  push: PushApi
  invites: InvitesApi
  backchannel: BackchannelApi
  replays: ReplayLibraryApi
  audit: AuditFn
}

export interface MembersDomain extends Domain<null> {
  readonly service: MembersService
  readonly routes: ReturnType<typeof membersRoutes>
}

const README = `Your data from a Townhall server.

profile.json               your profile, who you follow, who follows you, who you blocked
backchannel/threads.json   the conversations you are in (kind, title, who is in them, when you joined)
backchannel/messages.json  every message you wrote (a deleted one keeps only its dates)
backchannel/uploads.json   the images you uploaded; the files are in files/backchannel/
files/avatar/              your avatar, if you have one
`

class MembersService {
  /** Exports a member may make: 3, then one every 20 minutes (each one reads all their data and files). */
  private exports: RateLimiter
  constructor(private deps: MembersDeps) {
    this.exports = deps.core.limiter('exports', 3, 1 / 1200)
  }

  /**
   * The member's data as one tar and its file name. The tar is a stream [D62]: the JSON is made first (from the
   * database, at once), the files are read in chunks as the download goes, so an export of hundreds of MB of uploads
   * holds a chunk at a time in memory. Audited when it starts.
   */
  async export(userId: number): Promise<{ name: string; stream: ReadableStream<Uint8Array> }> {
    limit(this.exports, `u${userId}`)
    const { core, accounts, backchannel } = this.deps
    const mine = await accounts.exportOf(userId)
    if (!mine) fail('not_found')
    const bc = await backchannel.exportOf(userId)
    const json = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`)
    const { avatar, ...profile } = mine
    const avatarFile = avatar ? accounts.avatarFile(avatar) : null
    const sources: TarSource[] = [
      { name: 'README.txt', bytes: new TextEncoder().encode(README) },
      { name: 'profile.json', bytes: json({ server: core.origin(), exported: new Date().toISOString(), ...profile }) },
      { name: 'backchannel/threads.json', bytes: json(bc.threads) },
      { name: 'backchannel/messages.json', bytes: json(bc.messages) },
      { name: 'backchannel/uploads.json', bytes: json(bc.uploads.map(({ file: _file, ...u }) => u)) },
      ...(avatar && avatarFile ? [{ name: `files/avatar/${avatar}`, path: avatarFile }] : []),
      ...bc.uploads.map((u) => ({ name: `files/backchannel/${u.name}`, path: u.file })),
    ]
    this.deps.audit({ actorId: userId, action: 'member.export', targetType: 'member', targetId: userId })
    const day = new Date().toISOString().slice(0, 10)
    return { name: `townhall-${mine.profile.username}-${day}.tar`, stream: tarStream(sources) }
  }

  /** Deletes the member's account after checking their password (see the top of this file for what goes). */
  async deleteAccount(userId: number, password: string) {
    const { accounts, rooms, push, invites, backchannel, replays, audit } = this.deps
    await accounts.checkPassword(userId, password)
    const me = accounts.byId(userId)!
    if (me.role === 'admin' && accounts.counts(0).admins <= 1) fail('account_last_admin')
    await rooms.removeUserEverywhere(userId)
    await push.removeDevices(userId)
    for (const inv of await invites.pending()) if (inv.creatorId === userId) await invites.revoke(inv.id, me)
    await accounts.erase(userId)
    // After the account: the tombstones and the kept 1:1 messages show "Deleted member" at once.
    const erased = await backchannel.eraseMember(userId)
    await replays.eraseMember(userId)
    audit({
      actorId: userId,
      action: 'member.delete',
      targetType: 'member',
      targetId: userId,
      details: { username: me.username, erasedMessages: erased },
    })
  }
}

function membersRoutes(deps: MembersDeps, svc: MembersService) {
  const { core } = deps
  return new Elysia({ prefix: '/api', tags: ['accounts'] } as any)
    .use(sessionPlugin(deps))
    .get(
      '/me/export',
      async ({ viewer, set }) => {
        const { name, stream } = await svc.export(requireUser(viewer).user.id)
        set.headers['content-type'] = 'application/x-tar'
        set.headers['content-disposition'] = `attachment; filename="${name}"`
        set.headers['cache-control'] = 'no-store'
        return new Response(stream, { headers: set.headers as Record<string, string> })
      },
      { detail: { summary: 'Download my data: profile, follows, threads, messages and uploads in one tar' } },
    )
    .post(
      '/me/delete',
      async ({ viewer, body, set, ip }) => {
        const v = requireUser(viewer)
        limit(core.limits.login, ip)
        await svc.deleteAccount(v.user.id, body.password)
        set.headers['set-cookie'] = clearCookie(core)
        return { ok: true }
      },
      {
        body: t.Object({ password: t.String({ minLength: 1, maxLength: 256 }) }),
        detail: { summary: 'Delete my account (my password required); see the README for what happens to my data' },
      },
    )
}

export function createMembers(deps: MembersDeps): MembersDomain {
  const service = new MembersService(deps)
  return { api: null, service, routes: membersRoutes(deps, service) }
}
