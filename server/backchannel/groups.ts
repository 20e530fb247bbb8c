// Groups: creating one, adding and removing members (the creator), leaving and renaming (members). Invitations
// are requests like a first 1:1 message; accepting or declining them is the service's (service.ts).
import type { AccountsApi } from '../contracts'
import { fail } from '../errors'
import { LIMITS, type Thread } from '../protocol'
import type { BackchannelService } from './service'

export class Groups {
  constructor(
    private accounts: AccountsApi,
    private bc: BackchannelService,
  ) {}

  async create(userId: number, title: string, usernames: string[]): Promise<Thread> {
    if (!title.trim()) fail('validation', 'title: must not be blank')
    const people = await this.resolveNew(userId, usernames, 1)
    const store = this.bc.store
    return store.change(
      async (nextSeq, tx) => {
        const seq = nextSeq()
        const tid = await store.insertThread('group', title.trim(), userId, null, null, seq, tx)
        await store.upsertMember(tid, userId, 'active', seq, tx)
        for (const p of people) await store.upsertMember(tid, p.id, p.state, seq, tx)
        return tid
      },
      (id) => this.told(id, userId),
    )
  }

  private async resolveNew(byId: number, usernames: string[], current: number) {
    const unique = [...new Set(usernames.map((u) => u.toLowerCase()))]
    if (current + unique.length > LIMITS.groupMembers) fail('group_full')
    const out = []
    for (const name of unique) {
      const u = this.accounts.target(byId, name)
      out.push({ id: u.id, state: await this.bc.entryState(byId, u) })
    }
    return out
  }

  private async group(threadId: number, userId: number, creatorOnly: boolean) {
    const t = await this.bc.readable(threadId, userId)
    if (t.kind !== 'group') fail('not_a_group')
    if (creatorOnly && t.creator_id !== userId) fail('group_creator_only')
    return t
  }

  async addMembers(userId: number, threadId: number, usernames: string[]): Promise<Thread> {
    await this.group(threadId, userId, true)
    // Someone who declined is not asked again.
    const current = [...(await this.bc.members(threadId)).values()].filter((m) => m.state !== 'left')
    const people = await this.resolveNew(
      userId,
      usernames.filter(
        (n) => !current.some((m) => this.bc.views.person(m.user_id)?.username.toLowerCase() === n.toLowerCase()),
      ),
      current.length,
    )
    const store = this.bc.store
    return store.change(
      async (nextSeq, tx) => {
        const seq = nextSeq()
        for (const p of people) await store.upsertMember(threadId, p.id, p.state, seq, tx)
        await store.touchMeta(threadId, seq, tx)
      },
      () => this.told(threadId, userId),
    )
  }

  async removeMember(userId: number, threadId: number, targetId: number): Promise<Thread> {
    await this.group(threadId, userId, true)
    if (targetId === userId) fail('group_remove_self')
    const m = (await this.bc.members(threadId)).get(targetId)
    if (!m || m.state === 'left') fail('group_member_not_found')
    await this.bc.setMemberState(threadId, targetId, 'left')
    return this.bc.threadFor(threadId, userId)
  }

  async leave(userId: number, threadId: number) {
    await this.group(threadId, userId, false)
    await this.bc.setMemberState(threadId, userId, 'left')
  }

  async rename(userId: number, threadId: number, title: string): Promise<Thread> {
    if (!title.trim()) fail('validation', 'title: must not be blank')
    await this.group(threadId, userId, false)
    if ((await this.bc.members(threadId)).get(userId)?.state !== 'active') fail('group_accept_first')
    return this.bc.store.change(
      (nextSeq, tx) => this.bc.store.renameThread(threadId, title.trim(), nextSeq(), tx),
      () => this.told(threadId, userId),
    )
  }

  /** After a committed change of the group: everyone in it hears; the one who changed it gets their view. */
  private async told(threadId: number, userId: number): Promise<Thread> {
    await this.bc.tellThread(threadId)
    return this.bc.threadFor(threadId, userId)
  }
}
