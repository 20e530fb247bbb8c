// Throwing catalog errors. The catalog (code → [HTTP status, message]) is the protocol's (server/protocol/errors.ts):
// each reason for a refusal has its own code. Services throw `fail('code')`; the HTTP layer and the WebSocket
// gateway map it to {error: {code, message}}.
import { ERRORS, type ErrorBody, type ErrorCode } from './protocol'

export { ERRORS, type ErrorCode }

export class AppError extends Error {
  readonly status: number
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly retryAfter?: number,
  ) {
    super(message ?? ERRORS[code][1])
    this.status = ERRORS[code][0]
  }
  toJSON(): ErrorBody {
    return { code: this.code, message: this.message }
  }
}

/** Throws a catalog error. `message` may only add data to the catalog's text (which field, how long to wait). */
export function fail(code: ErrorCode, message?: string, retryAfter?: number): never {
  throw new AppError(code, message, retryAfter)
}

export const errorBody = (code: ErrorCode, message?: string): { error: ErrorBody } => ({
  error: { code, message: message ?? ERRORS[code][1] },
})
