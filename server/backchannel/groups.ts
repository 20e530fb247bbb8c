// Groups: creating one, adding and removing members (the creator), leaving and renaming (members). Invitations
// are requests like a first 1:1 message; accepting or declining them is the service's (service.ts).
import type { Ctx } from '../context'
import { fail } from '../errors'
import { LIMITS, type Thread } from '../protocol'
import type { BackchannelService } from './service'

export class Groups {
  constructor(private ctx: Ctx, private bc: BackchannelService) {}

  create(userId: number, title: string, usernames: string[]): Thread {
    if (!title.trim()) fail('validation', 'title: must not be blank')
    const people = this.resolveNew(userId, usernames, 1)
    const id = this.bc.write(() => {
      const seq = this.bc.nextSeq()
      const tid = this.bc.store.insertThread('group', title.trim(), userId, null, null, seq)
      this.bc.store.upsertMember(tid, userId, 'active', seq)
      for (const p of people) this.bc.store.upsertMember(tid, p.id, p.state, seq)
      return tid
    })
    this.bc.invalidate(id)
    this.bc.tellThread(id)
    return this.bc.threadFor(id, userId)
  }

  private resolveNew(byId: number, usernames: string[], current: number) {
    const unique = [...new Set(usernames.map((u) => u.toLowerCase()))]
    if (current + unique.length > LIMITS.groupMembers) fail('group_full')
    return unique.map((name) => {
      const u = this.ctx.accounts.target(byId, name)
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
    const people = this.resolveNew(userId, usernames.filter((n) => !current.some((m) => this.bc.views.person(m.user_id)?.username.toLowerCase() === n.toLowerCase())), current.length)
    this.bc.write(() => {
      const seq = this.bc.nextSeq()
      for (const p of people) this.bc.store.upsertMember(threadId, p.id, p.state, seq)
      this.bc.store.q.touchMeta.run(seq, seq, threadId)
    })
    this.bc.invalidate(threadId)
    this.bc.tellThread(threadId)
    return this.bc.threadFor(threadId, userId)
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
    this.bc.write(() => {
      const seq = this.bc.nextSeq()
      this.bc.store.q.setTitle.run(title.trim(), threadId)
      this.bc.store.q.touchMeta.run(seq, seq, threadId)
    })
    this.bc.tellThread(threadId)
    return this.bc.threadFor(threadId, userId)
  }
}
