// The one validator for numbers in a path or a query string: an integer in a range. A fractional, exponent-less
// "1.5", a word or an empty value is refused by the route's schema (422 `validation` naming the field), never handed
// to SQL (where LIMIT 1.5 is a 500). Routes use these instead of t.Numeric (test/unit/params.test.ts checks).
import { t } from 'elysia'

/** An integer from `min` to `max` (a query or path parameter, coerced from its text). */
export const Int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  t.Integer({ minimum: min, maximum: max, error: `expected an integer from ${min} to ${max}` })

/** `:id` of a row: a positive integer. */
export const IdParams = t.Object({ id: Int(1) })

/** `limit` and `offset` of a list: `limit` from 1 to `max`, `offset` from 0. */
export const Page = (max: number) => ({ limit: t.Optional(Int(1, max)), offset: t.Optional(Int(0, 1e9)) })
