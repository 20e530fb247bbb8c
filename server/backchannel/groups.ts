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

  create(userId: number, title: string, usernames: string[]): Thread {
    if (!title.trim()) fail('validation', 'title: must not be blank')
    const people = this.resolveNew(userId, usernames, 1)
    const store = this.bc.store
    return store.change(
      (nextSeq) => {
        const seq = nextSeq()
        const tid = store.insertThread('group', title.trim(), userId, null, null, seq)
        store.upsertMember(tid, userId, 'active', seq)
        for (const p of people) store.upsertMember(tid, p.id, p.state, seq)
        return tid
      },
      (id) => this.told(id, userId),
    )
  }

  private resolveNew(byId: number, usernames: string[], current: number) {
    const unique = [...new Set(usernames.map((u) => u.toLowerCase()))]
    if (current + unique.length > LIMITS.groupMembers) fail('group_full')
    return unique.map((name) => {
      const u = this.accounts.target(byId, name)
      return { id: u.id, state: this.bc.entryState(byId, u) }
    })
  }

  private group(threadId: number, userId: number, creatorOnly: boolean) {
    const t = this.bc.readable(threadId, userId)
    if (t.kind !== 'group') fail('not_a_group')
    if (creatorOnly && t.creator_id !== userId) fail('group_creator_only')
    return t
  }

  addMembers(userId: number, threadId: number, usernames: string[]): Thread {
    this.group(threadId, userId, true)
    // Someone who declined is not asked again.
    const current = [...this.bc.members(threadId).values()].filter((m) => m.state !== 'left')
    const people = this.resolveNew(
      userId,
      usernames.filter(
        (n) => !current.some((m) => this.bc.views.person(m.user_id)?.username.toLowerCase() === n.toLowerCase()),
      ),
      current.length,
    )
    const store = this.bc.store
    return store.change(
      (nextSeq) => {
        const seq = nextSeq()
        for (const p of people) store.upsertMember(threadId, p.id, p.state, seq)
        store.touchMeta(threadId, seq)
      },
      () => this.told(threadId, userId),
    )
  }

  removeMember(userId: number, threadId: number, targetId: number): Thread {
    this.group(threadId, userId, true)
    if (targetId === userId) fail('group_remove_self')
    const m = this.bc.members(threadId).get(targetId)
    if (!m || m.state === 'left') fail('group_member_not_found')
    this.bc.setMemberState(threadId, targetId, 'left')
    return this.bc.threadFor(threadId, userId)
  }

  leave(userId: number, threadId: number) {
    this.group(threadId, userId, false)
    this.bc.setMemberState(threadId, userId, 'left')
  }

  rename(userId: number, threadId: number, title: string): Thread {
    if (!title.trim()) fail('validation', 'title: must not be blank')
    this.group(threadId, userId, false)
    if (this.bc.members(threadId).get(userId)?.state !== 'active') fail('group_accept_first')
    return this.bc.store.change(
      (nextSeq) => this.bc.store.renameThread(threadId, title.trim(), nextSeq()),
      () => this.told(threadId, userId),
    )
  }

  /** After a committed change of the group: everyone in it hears; the one who changed it gets their view. */
  private told(threadId: number, userId: number): Thread {
    this.bc.tellThread(threadId)
    return this.bc.threadFor(threadId, userId)
  }
}
