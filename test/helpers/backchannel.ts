// Helpers for the Backchannel tests: members with a socket (from members.ts), DMs, sends with fresh client ids.
import type { TestServer } from './server'
import { closeAll, member, ok, outcome, reconnect, type Member } from './members'

export type Person = Member
export { closeAll, ok, outcome, reconnect }
export const person = (s: TestServer, prefix = 'b') => member(s, prefix)

export const follow = (a: Person, b: Person) => a.http.put(`/api/users/${b.name}/follow`)

let cid = 0
export const clientId = () => `c${Date.now().toString(36)}-${++cid}`

export async function dm(a: Person, b: Person): Promise<number> {
  return (await ok(a, 'bc.dm', { username: b.name })).thread.id
}

export async function send(p: Person, threadId: number, body: string, extra: Record<string, unknown> = {}) {
  return (await ok(p, 'bc.send', { threadId, clientId: clientId(), body, ...extra })).message
}
