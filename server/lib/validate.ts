import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { TSchema, Static } from '@sinclair/typebox'
import { fail } from '../errors'

const cache = new WeakMap<TSchema, TypeCheck<TSchema>>()

/** Checks a value against a t-schema (compiled once); throws a `validation` catalog error naming the field. */
export function check<S extends TSchema>(schema: S, value: unknown): Static<S> {
  let c = cache.get(schema)
  if (!c) {
    c = TypeCompiler.Compile(schema)
    cache.set(schema, c)
  }
  if (c.Check(value)) return value as Static<S>
  const first = c.Errors(value).First()
  fail('validation', first ? `${first.path || 'message'}: ${first.message}` : undefined)
}
