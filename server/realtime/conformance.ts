// Checks what the server sends against the protocol's schemas: every reply of a request type and every event. The
// types already hold at compile time; this catches what they cannot see (`any` rows, extra fields). Tests turn it on
// (StartOptions.checkProtocol); a production server does not pay for it.
import type { TObject } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { ERRORS, eventMessage, Events, replyMessage, Requests, type RequestType } from '../protocol'

export class ProtocolCheck {
  /** What did not match, in the order it was sent (at most 100). */
  readonly violations: string[] = []
  private compiled = new Map<string, TypeCheck<TObject>>()

  /** An event about to be sent. */
  event(event: { type: string }) {
    if (!Object.hasOwn(Events, event.type)) return this.violation(`unknown event type "${event.type}"`)
    this.check(`event ${event.type}`, () => eventMessage(event.type as keyof typeof Events), event)
  }

  /** The reply to a request of `type` about to be sent. */
  reply(type: string, frame: { ok: boolean; error?: { code: string } }) {
    if (!frame.ok) {
      if (!frame.error || !Object.hasOwn(ERRORS, frame.error.code))
        this.violation(`reply to ${type}: error code not in the catalog: ${JSON.stringify(frame.error)}`)
      return
    }
    if (!Object.hasOwn(Requests, type)) return this.violation(`reply to unknown request type "${type}"`)
    this.check(`reply to ${type}`, () => replyMessage(type as RequestType), frame)
  }

  private check(key: string, schema: () => TObject, value: unknown) {
    let c = this.compiled.get(key)
    if (!c) this.compiled.set(key, (c = TypeCompiler.Compile(schema())))
    if (c.Check(value)) return
    const first = c.Errors(value).First()
    const where = first ? `${first.path || '/'} ${first.message}` : 'does not match'
    this.violation(`${key}: ${where} in ${JSON.stringify(value).slice(0, 300)}`)
  }

  private violation(what: string) {
    if (this.violations.length < 100) this.violations.push(what)
  }
}
