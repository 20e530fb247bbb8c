import { t } from 'elysia'
import { IdParams } from '../http/params'

export const CreateInviteBody = t.Object({
  uses: t.Optional(t.Integer({ minimum: 1, maximum: 1000 })),
  expiresInHours: t.Optional(t.Integer({ minimum: 1, maximum: 24 * 365 })),
  note: t.Optional(t.String({ maxLength: 200 })),
})
export const InviteIdParams = IdParams
export const TokenParams = t.Object({ token: t.String({ minLength: 1, maxLength: 128 }) })

export type InviteState = 'pending' | 'used_up' | 'expired' | 'revoked'

export interface InviteRow {
  id: number
  creator_id: number | null
  token_hash: Uint8Array
  uses_allowed: number
  uses: number
  expires_at: number | null
  revoked_at: number | null
  note: string
  created_at: number
}

export function inviteState(i: InviteRow, now = Date.now()): InviteState {
  if (i.revoked_at) return 'revoked'
  if (i.uses >= i.uses_allowed) return 'used_up'
  if (i.expires_at !== null && i.expires_at <= now) return 'expired'
  return 'pending'
}

/** Parses "7d", "12h", "30m" into milliseconds (CLI). */
export function parseDuration(s: string): number {
  const m = /^(\d{1,5})([mhd])$/.exec(s.trim())
  if (!m) throw new Error(`expected a duration like 30m, 12h or 7d, got "${s}"`)
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd']
}
